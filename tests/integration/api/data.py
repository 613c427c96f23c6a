"""Synthetic run events for the read-API tests, their storage, and ground truth.

Events are stored through ingest's write path (``store.writes.insert_runs``): idempotently
on (event_id, started_at), touched hours marked dirty in the same transaction. Ground truth
is computed from the generated events alone, with Python ``Decimal`` sums and numpy
percentiles.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from runtally.store import partitions
from runtally.store.writes import COLUMNS, RunRecord, insert_runs

AGENTS = ("planner", "coder", "reviewer", "search", "triage")
MODELS = ("gpt-4o", "claude-sonnet", "llama-70b")
ERRORS = ("timeout", "rate_limit", "tool_error")


@dataclass(frozen=True)
class Ev:
    event_id: uuid.UUID
    project: str
    agent: str
    model: str
    started_at: datetime
    duration_ms: float
    status: str
    error_type: str | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    cost_usd: Decimal | None
    user_id: str | None
    session_id: str | None
    trace_id: str | None


def generate(
    n: int, start: datetime, span: timedelta, seed: int, project: str = "demo"
) -> list[Ev]:
    """``n`` events with ``started_at`` uniform in ``[start, start + span)``."""
    rng = np.random.default_rng(seed)
    offsets = rng.uniform(0, span.total_seconds(), n)
    durations = np.round(rng.lognormal(7.0, 1.0, n), 3)
    durations[rng.random(n) < 0.01] = 0.0
    failed = rng.random(n) < 0.12
    out = []
    for i in range(n):
        has_tokens = rng.random() > 0.05
        input_tokens = int(rng.integers(10, 20_000)) if has_tokens else None
        cache_read = int(rng.integers(0, input_tokens // 2 + 1)) if input_tokens else None
        out.append(
            Ev(
                event_id=uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | i),
                project=project,
                agent=AGENTS[int(rng.integers(0, len(AGENTS)))],
                model=MODELS[int(rng.integers(0, len(MODELS)))],
                started_at=start + timedelta(seconds=float(offsets[i])),
                duration_ms=float(durations[i]),
                status="error" if failed[i] else "success",
                error_type=ERRORS[int(rng.integers(0, len(ERRORS)))] if failed[i] else None,
                input_tokens=input_tokens,
                output_tokens=int(rng.integers(0, 4000)) if has_tokens else None,
                cache_read_tokens=cache_read,
                cache_write_tokens=int(rng.integers(0, 50)) if has_tokens else None,
                cost_usd=(
                    Decimal(int(rng.integers(0, 500_000))) / Decimal(1_000_000)
                    if rng.random() > 0.04
                    else None
                ),
                user_id=f"user-{int(rng.integers(0, 300))}" if rng.random() > 0.1 else None,
                session_id=f"s-{int(rng.integers(0, 2000))}",
                trace_id=f"t-{i}",
            )
        )
    return out


def record(e: Ev) -> RunRecord:
    """The ``agent_runs`` row of ``e`` in ``store.writes.COLUMNS`` order."""
    ended = e.started_at + timedelta(milliseconds=e.duration_ms)
    values = {
        **e.__dict__,
        "ended_at": ended,
        "cost_source": None if e.cost_usd is None else "event",
        "error_message": None,
        "ttft_ms": None,
        "price_version": None,
        "tags": None,
        "metadata": None,
    }
    return tuple(values[column] for column in COLUMNS)


async def store(pool: Any, events: Sequence[Ev]) -> int:
    """Store through ingest's write path (idempotent rows and dirty markers in one
    transaction); returns how many runs were new."""
    days = {e.started_at.date() for e in events}
    async with pool.acquire() as conn:
        await partitions.ensure_partitions(conn, min(days), max(days))
        return await insert_runs(conn, [record(e) for e in events])


# --- ground truth


@dataclass(frozen=True)
class Truth:
    runs: int
    successes: int
    failures: int
    input: int
    output: int
    cache_read: int
    cache_write: int
    cost: Decimal
    unpriced: int
    durations: np.ndarray
    users: int
    sessions: int


def truth(events: Iterable[Ev]) -> Truth:
    evs = list(events)
    return Truth(
        runs=len(evs),
        successes=sum(e.status == "success" for e in evs),
        failures=sum(e.status == "error" for e in evs),
        input=sum(e.input_tokens or 0 for e in evs),
        output=sum(e.output_tokens or 0 for e in evs),
        cache_read=sum(e.cache_read_tokens or 0 for e in evs),
        cache_write=sum(e.cache_write_tokens or 0 for e in evs),
        cost=sum((e.cost_usd or Decimal(0) for e in evs), Decimal(0)),
        unpriced=sum(e.cost_usd is None for e in evs),
        durations=np.array([e.duration_ms for e in evs], dtype=float),
        users=len({e.user_id for e in evs if e.user_id}),
        sessions=len({e.session_id for e in evs if e.session_id}),
    )


def group(events: Iterable[Ev], key: Callable[[Ev], Hashable]) -> dict[Any, list[Ev]]:
    out: dict[Any, list[Ev]] = {}
    for e in events:
        out.setdefault(key(e), []).append(e)
    return out


def in_range(events: Iterable[Ev], start: datetime, end: datetime) -> list[Ev]:
    return [e for e in events if start <= e.started_at < end]


def check(body: dict[str, Any], expected: Truth, where: str) -> None:
    """Assert one answer (summary, point or row) equals ground truth."""
    assert body["runs"] == expected.runs, where
    assert body["successes"] == expected.successes, where
    assert body["failures"] == expected.failures, where
    tokens = body["tokens"]
    assert tokens["input"] == expected.input, where
    assert tokens["output"] == expected.output, where
    assert tokens["cache_read"] == expected.cache_read, where
    assert tokens["cache_write"] == expected.cache_write, where
    assert tokens["total"] == expected.input + expected.output, where
    assert Decimal(repr(body["cost_usd"])) == expected.cost, where
    latency = body["latency_ms"]
    if expected.runs == 0:
        assert latency["p50"] is None, where
        return
    d = expected.durations
    assert latency["min"] == d.min(), where
    assert latency["max"] == d.max(), where
    assert abs(latency["avg"] - d.mean()) <= 1e-9 * d.mean(), where
    # numpy's "lower" method is the quantile definition DDSketch uses (rank q·(n−1), the
    # value at or below it), so the 2% bound measures the sketch, not a convention: with a
    # few hundred runs per hour, neighbouring order statistics in the tail differ by ~3%.
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        exact = float(np.percentile(d, q, method="lower"))
        assert abs(latency[name] - exact) <= 0.02 * exact, f"{where} {name}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
