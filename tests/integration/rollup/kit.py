"""Synthetic raw runs, inserted as ingest does, and their ground truth (from the data).

Rows go in with COPY plus ``mark_hours`` in the same transaction, exactly like the
ingest worker. Ground truth is computed in Python from the generated rows, never from
the database, and compared with what the rollup tables hold.
"""

from __future__ import annotations

import json
import math
import os
import sys
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from runtally.sketch import LatencySketch, hll_estimate, hll_union
from runtally.store.dirty import mark_hours

PROJECT = "acme"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
AGENTS = ("planner", "coder", "reviewer", "search")
MODELS = ("gpt-4o", "claude-sonnet", "llama-70b")
ERRORS = ("timeout", "rate_limit", "tool_error")
COLUMNS = (
    "event_id", "project", "agent", "model", "started_at", "ended_at", "duration_ms",
    "status", "error_type", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "ttft_ms", "cost_usd", "cost_source", "session_id", "user_id",
)  # fmt: skip
EXACT = (
    "runs", "successes", "failures", "input_tokens", "output_tokens",
    "cache_read_tokens", "cache_write_tokens", "cost_usd", "unpriced_runs", "ttft_count",
)  # fmt: skip


@dataclass(frozen=True)
class Run:
    event_id: uuid.UUID
    project: str
    agent: str
    model: str
    started_at: datetime
    duration_ms: float
    error_type: str | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    ttft_ms: float | None
    cost_usd: Decimal | None
    session_id: str | None
    user_id: str | None

    def record(self) -> tuple[Any, ...]:
        ended = self.started_at + timedelta(milliseconds=self.duration_ms)
        return (
            self.event_id, self.project, self.agent, self.model, self.started_at, ended,
            self.duration_ms, "error" if self.error_type else "success", self.error_type,
            self.input_tokens, self.output_tokens, self.cache_read_tokens,
            self.cache_write_tokens, self.ttft_ms, self.cost_usd,
            None if self.cost_usd is None else "event", self.session_id, self.user_id,
        )  # fmt: skip


def make_runs(n: int, start: datetime, hours: int, seed: int, project: str = PROJECT) -> list[Run]:
    """``n`` runs with ``started_at`` uniform over ``hours`` hours from ``start``.

    Realistic spreads: lognormal latency with some zeros, 8% errors, missing token
    counts, 10% unpriced runs, optional users and sessions. Vectorised with numpy.
    """
    rng = np.random.default_rng(seed)

    def absent(p: float) -> list[bool]:
        flags: list[bool] = (rng.random(n) < p).tolist()
        return flags

    offsets = rng.integers(0, hours * 3600 * 10**6, n).tolist()
    agents = rng.integers(0, len(AGENTS), n).tolist()
    models = rng.integers(0, len(MODELS), n).tolist()
    durations = np.where(rng.random(n) < 0.01, 0.0, np.round(rng.lognormal(7, 1.2, n), 3))
    errors = np.where(rng.random(n) < 0.08, rng.integers(0, len(ERRORS), n), -1).tolist()
    inputs = rng.integers(0, 20_000, n)
    cache_reads = (rng.random(n) * (inputs + 1)).astype(np.int64).tolist()
    outputs = rng.integers(0, 4_000, n).tolist()
    cache_writes = rng.integers(0, 500, n).tolist()
    ttfts = np.round(rng.uniform(0, 900, n), 2).tolist()
    costs = rng.integers(0, 10**9, n).tolist()
    sessions = rng.integers(0, 20_000, n).tolist()
    users = rng.integers(0, 3_000, n).tolist()
    ids = rng.bytes(16 * n)
    flags = zip(absent(0.05), absent(0.05), absent(0.5), absent(0.3), absent(0.1),
                absent(0.2), absent(0.1), strict=True)  # fmt: skip
    scale = Decimal(10**9)
    runs = []
    for i, (no_in, no_out, no_cw, no_ttft, no_cost, no_session, no_user) in enumerate(flags):
        runs.append(
            Run(
                event_id=uuid.UUID(bytes=ids[16 * i : 16 * i + 16]),
                project=project,
                agent=AGENTS[agents[i]],
                model=MODELS[models[i]],
                started_at=start + timedelta(microseconds=offsets[i]),
                duration_ms=float(durations[i]),
                error_type=ERRORS[errors[i]] if errors[i] >= 0 else None,
                input_tokens=None if no_in else int(inputs[i]),
                output_tokens=None if no_out else outputs[i],
                cache_read_tokens=None if no_in else cache_reads[i],
                cache_write_tokens=None if no_cw else cache_writes[i],
                ttft_ms=None if no_ttft else ttfts[i],
                cost_usd=None if no_cost else Decimal(costs[i]) / scale,
                session_id=None if no_session else f"s{sessions[i]}",
                user_id=None if no_user else f"u{users[i]}",
            )
        )
    return runs


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> datetime:
    return hour_of(moment).replace(hour=0)


def quarter_of(moment: datetime) -> datetime:
    utc = moment.astimezone(UTC)
    return utc.replace(minute=utc.minute - utc.minute % 15, second=0, microsecond=0)


CUTS = {"q15": quarter_of, "hour": hour_of, "day": day_of}


async def insert_runs(conn: Any, runs: Sequence[Run], batch: int = 20_000) -> None:
    """Store runs like ingest does: per batch, COPY and mark the touched hours, one commit."""
    for first in range(0, len(runs), batch):
        chunk = runs[first : first + batch]
        async with conn.transaction():
            await conn.copy_records_to_table(
                "agent_runs", records=[r.record() for r in chunk], columns=list(COLUMNS)
            )
            await mark_hours(conn, {(r.project, hour_of(r.started_at)) for r in chunk})


# --- ground truth


Key = tuple[datetime, str, str, str]  # (bucket, agent, model, error_type)


@dataclass
class Truth:
    """Exact sums of one rollup key, plus the values whose sketch and min/max we check."""

    runs: int = 0
    successes: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    unpriced_runs: int = 0
    ttft_count: int = 0
    duration_sum: float = 0.0

    def add(self, run: Run, durations: list[float]) -> None:
        self.runs += 1
        self.successes += run.error_type is None
        self.failures += run.error_type is not None
        self.input_tokens += run.input_tokens or 0
        self.output_tokens += run.output_tokens or 0
        self.cache_read_tokens += run.cache_read_tokens or 0
        self.cache_write_tokens += run.cache_write_tokens or 0
        self.cost_usd += run.cost_usd if run.cost_usd is not None else 0
        self.unpriced_runs += run.cost_usd is None
        self.ttft_count += run.ttft_ms is not None
        self.duration_sum += run.duration_ms
        durations.append(run.duration_ms)


# Grouping sets as stored (bit 1 agent, 2 model, 4 error type kept); 7 is the full key.
GROUPING_SETS = tuple(range(8))


def _key(run: Run, bucket: datetime, dims: int) -> Key:
    """The rollup key of ``run`` at grouping set ``dims``: dropped columns are ''."""
    return (
        bucket,
        run.agent if dims & 1 else "",
        run.model if dims & 2 else "",
        (run.error_type or "") if dims & 4 else "",
    )


def ground_truth(
    runs: Iterable[Run], bucket: str, dims: int = 7
) -> tuple[dict[Key, Truth], dict[Key, list[float]]]:
    """Per (bucket, agent, model, error_type) at grouping set ``dims``: exact sums, and
    the durations themselves."""
    cut = CUTS[bucket]
    sums: dict[Key, Truth] = defaultdict(Truth)
    durations: dict[Key, list[float]] = defaultdict(list)
    for run in runs:
        key = _key(run, cut(run.started_at), dims)
        sums[key].add(run, durations[key])
    return dict(sums), dict(durations)


async def assert_table_matches(
    conn: Any, table: str, runs: Sequence[Run], bucket: str, check_bins: bool = True
) -> None:
    """At every grouping set, every exact column of ``table`` equals ground truth;
    min/max and bins too."""
    assert {r["dims"] for r in await conn.fetch(f"SELECT DISTINCT dims FROM {table}")} <= set(
        GROUPING_SETS
    )
    for dims in GROUPING_SETS:
        await _assert_set_matches(conn, table, runs, bucket, dims, check_bins)


async def _assert_set_matches(
    conn: Any, table: str, runs: Sequence[Run], bucket: str, dims: int, check_bins: bool
) -> None:
    sums, durations = ground_truth(runs, bucket, dims)
    rows = await conn.fetch(
        f"SELECT * FROM {table} WHERE project = $1 AND dims = $2", PROJECT, dims
    )
    got = {(r["bucket"], r["agent"], r["model"], r["error_type"]): r for r in rows}
    assert set(got) == set(sums), f"{table} dims={dims}: keys differ"
    for key, truth in sums.items():
        row = got[key]
        for name in EXACT:
            assert row[name] == getattr(truth, name), (table, key, name)
        values = durations[key]
        assert row["duration_min"] == min(values), (table, key)
        assert row["duration_max"] == max(values), (table, key)
        assert math.isclose(row["duration_sum"], truth.duration_sum, rel_tol=1e-9, abs_tol=1e-6)
        if check_bins:
            zero, keys, counts = LatencySketch.from_values(values).to_arrays()
            assert (row["lat_zero"], list(row["lat_keys"]), list(row["lat_counts"])) == (
                zero,
                keys,
                counts,
            ), (table, key)


async def snapshot(conn: Any) -> dict[str, list[tuple[Any, ...]]]:
    """The rollup tables (all columns but computed_at), in key order."""
    out = {}
    for table in ("rollup_q15", "rollup_hourly", "rollup_daily"):
        rows = await conn.fetch(
            f"SELECT * FROM {table} ORDER BY project, bucket, dims, agent, model, error_type"
        )
        out[table] = [
            tuple(_comparable(k, v) for k, v in r.items() if k != "computed_at") for r in rows
        ]
    return out


def _comparable(column: str, value: Any) -> Any:
    """A column's value as two equal rollups must agree on it.

    Float sums (duration_sum, ttft_sum) depend on the order Postgres adds the rows in,
    which follows the aggregate's hash-table layout, which follows table statistics that
    autovacuum may refresh between two runs: they agree to ~1e-15, not to the last bit.
    HLLs are compared by estimate; a row's ``point`` (its JSON, whose average is such a
    sum divided) by its parsed values.
    """
    if column.endswith("_hll"):
        return hll_estimate(hll_union([value]))
    if column == "point" and value is not None:
        return _close(json.loads(value))
    if isinstance(value, float):
        return Close(value)
    return value


def _close(value: Any) -> Any:
    """Parsed JSON with every float a ``Close``."""
    if isinstance(value, dict):
        return {k: _close(v) for k, v in value.items()}
    return Close(value) if isinstance(value, float) else value


class Close(float):
    """A float equal to another within 1e-12 relative (see ``_comparable``)."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, float):
            return NotImplemented
        return math.isclose(self, other, rel_tol=1e-12, abs_tol=1e-9)

    __hash__ = float.__hash__


async def dirty_counts(conn: Any) -> tuple[int, int]:
    hours = await conn.fetchval("SELECT count(*) FROM rollup_dirty")
    days = await conn.fetchval("SELECT count(*) FROM rollup_dirty_day")
    return hours, days


async def redirty_everything(conn: Any) -> None:
    """Mark every hour that has raw rows dirty again (as if all of it arrived late)."""
    hours = await conn.fetch(
        "SELECT DISTINCT project, date_bin('1 hour', started_at, "
        "TIMESTAMPTZ '2000-01-01 00:00:00+00') AS h FROM agent_runs"
    )
    await mark_hours(conn, [(r["project"], hour_of(r["h"])) for r in hours])


def cli(*args: str) -> list[str]:
    """The argv that runs ``runtally <args>`` with this interpreter."""
    return [sys.executable, "-c", "from runtally.cli import main; main()", *args]


def cli_env(settings: Any, **extra: str) -> dict[str, str]:
    """The environment a ``runtally`` subprocess needs to use this test's servers."""
    return {
        **os.environ,
        "RUNTALLY_DATABASE_URL": settings.database_url,
        "RUNTALLY_REDIS_URL": settings.redis_url,
        **extra,
    }
