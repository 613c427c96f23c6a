"""Migration 0002 on a database that already holds rollups: every stored bucket gains
its grouping-set rows, derived from the full-key rows (raw rows may be gone), equal to
sums computed from the runs themselves; downgrade restores the 0001 shape."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from alembic import command

from runtally.devstack.servers import PostgresServer
from runtally.sketch import LatencySketch, hll_estimate, hll_from_values
from runtally.store.migrate import alembic_config, upgrade
from runtally.tally import Tally
from tests.integration.migrating import database_at

pytestmark = pytest.mark.integration

HOUR = datetime(2026, 5, 4, 10, tzinfo=UTC)
Run = tuple[str, str, str, float, str]  # agent, model, error type, duration, user
# The rollup columns of revisions 0001 and 0002 (0003 adds more).
ROLLUP_FIELDS = (
    "runs", "successes", "failures", "duration_sum", "duration_min", "duration_max",
    "lat_zero", "lat_keys", "lat_counts", "input_tokens", "output_tokens",
    "cache_read_tokens", "cache_write_tokens", "cost_usd", "unpriced_runs",
    "ttft_sum", "ttft_count", "users_hll", "sessions_hll",
)  # fmt: skip
OLD_COLUMNS = ("project", "bucket", "agent", "model", "error_type", *ROLLUP_FIELDS)


def make_runs(seed: int) -> list[Run]:
    rng = random.Random(seed)
    return [
        (rng.choice(["a", "b", "c"]), rng.choice(["x", "y"]),
         rng.choice(["", "", "", "timeout"]), rng.randrange(1, 40_000) / 8, f"u{rng.randrange(90)}")
        for _ in range(1500)
    ]  # fmt: skip


def tally_of(runs: list[Run]) -> Tally:
    durations = [r[3] for r in runs]
    failures = sum(1 for r in runs if r[2])
    return Tally(
        runs=len(runs), successes=len(runs) - failures, failures=failures,
        duration_sum=sum(durations), duration_min=min(durations), duration_max=max(durations),
        latency=LatencySketch.from_values(durations),
        users=[blob] if (blob := hll_from_values(r[4] for r in runs)) else [],
    )  # fmt: skip


async def insert_full_rows(dsn: str, table: str, bucket: datetime, runs: list[Run]) -> None:
    cells: dict[tuple[str, str, str], list[Run]] = defaultdict(list)
    for run in runs:
        cells[run[:3]].append(run)
    records = []
    for (agent, model, error), members in cells.items():
        row = tally_of(members).to_row()
        records.append(("p", bucket, agent, model, error, *(row[f] for f in ROLLUP_FIELDS)))
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(table, records=records, columns=list(OLD_COLUMNS))
    finally:
        await conn.close()


async def fetch(dsn: str, sql: str) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


def expected_rows(bucket: datetime, runs: list[Run]) -> dict[tuple[Any, ...], Tally]:
    """Per (bucket, dims, agent, model, error type) over every grouping set, from runs."""
    out: dict[tuple[Any, ...], list[Run]] = defaultdict(list)
    for run in runs:
        for dims in range(8):
            key = (bucket, dims, run[0] if dims & 1 else "", run[1] if dims & 2 else "",
                   run[2] if dims & 4 else "")  # fmt: skip
            out[key].append(run)
    return {key: tally_of(members) for key, members in out.items()}


def test_upgrade_derives_every_grouping_set_and_downgrade_restores(
    pg_server: PostgresServer,
) -> None:
    dsn, settings = database_at(pg_server, "migrate02", "0001")
    hourly = {HOUR: make_runs(1), HOUR + timedelta(hours=1): make_runs(2)}
    daily_runs = hourly[HOUR] + hourly[HOUR + timedelta(hours=1)]
    day = datetime(2026, 5, 4, tzinfo=UTC)
    for bucket, runs in hourly.items():
        asyncio.run(insert_full_rows(dsn, "rollup_hourly", bucket, runs))
    asyncio.run(insert_full_rows(dsn, "rollup_daily", day, daily_runs))

    upgrade(settings, "0002")

    for table, buckets in (("rollup_hourly", hourly), ("rollup_daily", {day: daily_runs})):
        expected: dict[tuple[Any, ...], Tally] = {}
        for bucket, runs in buckets.items():
            expected.update(expected_rows(bucket, runs))
        rows = asyncio.run(fetch(dsn, f"SELECT * FROM {table}"))
        got = {(r["bucket"], r["dims"], r["agent"], r["model"], r["error_type"]): r for r in rows}
        assert set(got) == set(expected), table
        for key, truth in expected.items():
            row, want = got[key], truth.to_row()
            for field in ROLLUP_FIELDS:
                if field == "duration_sum":
                    assert row[field] == pytest.approx(want[field], rel=1e-12), (key, field)
                elif field in ("users_hll", "sessions_hll"):
                    assert hll_estimate(row[field]) == hll_estimate(want[field]), (key, field)
                else:
                    assert row[field] == want[field], (key, field)

    command.downgrade(alembic_config(settings), "0001")
    rows = asyncio.run(fetch(dsn, "SELECT * FROM rollup_hourly"))
    assert "dims" not in rows[0]
    full = {(r["bucket"], r["agent"], r["model"], r["error_type"]) for r in rows}
    assert full == {(b, *r[:3]) for b, runs in hourly.items() for r in runs}
    upgrade(settings)  # and up again
    counts = asyncio.run(fetch(dsn, "SELECT dims, count(*) AS n FROM rollup_hourly GROUP BY 1"))
    assert {r["dims"] for r in counts} == set(range(8))
