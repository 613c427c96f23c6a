"""Rollup: seconds to roll up one hour of 1M events, and the steady-state lag.

1. One hour holding 1M rows (generated in SQL) is marked dirty and rolled by
   ``run_pending`` (the hour, then its day from hourly rows). The limit is a plain scan
   of the same rows (``count(*)``, ``sum(duration_ms)`` over the hour): reading them at
   all costs that much.
2. Steady state: a writer stores events at a steady rate into the current hour exactly
   as ingest's transaction does (COPY of the batch and ``mark_hours`` in one
   transaction, every 100 ms) while a real ``runtally scheduler`` rolls dirty hours on
   its interval. Sampled every 0.5 s: the events stored but not yet in
   ``rollup_hourly`` (shown as seconds of ingest at that rate) and the age of the
   oldest dirty marker (what /metrics reports).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from bench import procs, sqlgen
from bench.data import COPY_COLUMNS, PROJECT, make_events
from bench.harness import (
    BenchContext,
    Figure,
    Limit,
    Stack,
    Target,
    make_partitions,
    percentile,
    private_stack,
    today_window,
    utc_now,
)
from runtally.constants import TAG_COMBO_MIN_RUNS
from runtally.store.dirty import mark_hours
from runtally.store.engine import connect

NAME = "rollup"
TITLE = "Rollups"
INTERVAL_S = 10
TICK_S = 0.1


def run(ctx: BenchContext) -> None:
    with private_stack(NAME) as stack:
        asyncio.run(_run(ctx, stack))


async def _run(ctx: BenchContext, stack: Stack) -> None:
    await make_partitions(stack.settings, *today_window())
    n = ctx.size(1_000_000, 200_000)
    hour, rows = await _one_hour(ctx, stack, n)
    await _tag_cost(ctx, stack, hour, rows)
    await _steady(ctx, stack, rate=ctx.size(5000, 2000), seconds=ctx.size(75, 25))


async def _one_hour(ctx: BenchContext, stack: Stack, n: int) -> tuple[datetime, int]:
    from runtally.rollup.jobs import run_pending

    hour = (utc_now() - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    quarter = n // 4
    chunks = [
        sqlgen.Chunk(hour + timedelta(minutes=15 * k), quarter, 900 / quarter, k * quarter)
        for k in range(4)
    ]
    await sqlgen.fill(stack.settings, chunks)
    await sqlgen.mark_dirty(stack.settings, hour, hour + timedelta(hours=1))
    scan_s = await _plain_scan(stack, hour)
    began = time.perf_counter()
    pending = await run_pending(stack.settings)
    seconds = time.perf_counter() - began
    rows = quarter * 4
    per_m = 1_000_000 / rows
    ctx.record(
        Figure(
            NAME,
            f"roll up one hour of {rows:,} events (seconds per 1M events)",
            seconds * per_m,
            "s",
            Target(5, higher=False),
            Limit("plain scan of the hour's rows", scan_s * per_m, "s"),
            note=f"{seconds:.2f} s in all",
        )
    )
    ctx.note(
        NAME,
        f"run_pending: {pending.summary()}. It writes tag rows for environment and release "
        "and the top-K users/sessions too (issue 14; their cost is split out below).",
    )
    return hour, rows


TAG_KEYS = ("environment", "release", "customer", "region", "feature")


async def _tag_cost(ctx: BenchContext, stack: Stack, hour: datetime, rows: int) -> None:
    """Seconds per 1M events of the hour's parts: the core rollup, 5 tag keys, top-K."""
    from runtally.cube import cube
    from runtally.store.aggregate import aggregate_raw
    from runtally.store.selection import Selection
    from runtally.store.tagged import aggregate_tagged
    from runtally.store.top import top_ids
    from runtally.tags import derive_sets

    selection = Selection(PROJECT, hour, hour + timedelta(hours=1))
    conn = await connect(stack.settings)
    try:
        parts: dict[str, Callable[[], Awaitable[Any]]] = {
            "core (agent × model × error type cube)": lambda: _cube(cube, aggregate_raw, conn,
                                                                    selection),
            "tags (5 keys, cap 1000)": lambda: _tags(derive_sets, aggregate_tagged, conn,
                                                     selection),
            "top-K users and sessions (K 100)": lambda: top_ids(conn, selection, 100),
        }  # fmt: skip
        seconds = {}
        for label, part in parts.items():
            began = time.perf_counter()
            await part()
            seconds[label] = time.perf_counter() - began
    finally:
        await conn.close()
    per_m = 1_000_000 / rows
    core = next(iter(seconds.values()))
    for label, value in seconds.items():
        ctx.record(Figure(NAME, f"rollup cost per 1M events: {label}", value * per_m, "s"))
    total = sum(seconds.values())
    ctx.record(Figure(NAME, "rollup cost with tags and top-K / without", total / core, "×"))


async def _cube(cube: Any, aggregate: Any, conn: Any, selection: Any) -> None:
    cube(await aggregate(conn, selection, bucket="hour"))


async def _tags(derive: Any, aggregate: Any, conn: Any, selection: Any) -> None:
    # As the rollup does: (bucket, key) groups that do not compress come back collapsed.
    derive(await aggregate(conn, selection, TAG_KEYS, 1000, min_runs=TAG_COMBO_MIN_RUNS))


async def _plain_scan(stack: Stack, hour: datetime) -> float:
    conn = await connect(stack.settings)
    try:
        sql = (
            "SELECT count(*), sum(duration_ms) FROM agent_runs "
            "WHERE project = $1 AND started_at >= $2 AND started_at < $3"
        )
        args = (PROJECT, hour, hour + timedelta(hours=1))
        await conn.fetch(sql, *args)  # warm the cache like the rollup will find it
        began = time.perf_counter()
        await conn.fetch(sql, *args)
        return time.perf_counter() - began
    finally:
        await conn.close()


async def _steady(ctx: BenchContext, stack: Stack, rate: int, seconds: int) -> None:
    """Write ``rate`` events/s for ``seconds`` with the scheduler running; sample lag."""
    per_tick = int(rate * TICK_S)
    total = int(rate * seconds)
    batch = make_events(total, utc_now(), spread_s=1, seed=11)
    env = {"RUNTALLY_ROLLUP_INTERVAL_S": str(INTERVAL_S)}
    samples: list[tuple[float, int, float]] = []
    start_hour = utc_now().replace(minute=0, second=0, microsecond=0)
    with procs.running(stack, ["scheduler"], env=env):
        writer = asyncio.create_task(_writer(stack, batch.records, per_tick))
        sampler = asyncio.create_task(_sampler(stack, start_hour, samples))
        await writer
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
    warm = [s for s in samples if s[0] >= INTERVAL_S * 1.5]
    behind_s = [s[1] / rate for s in warm]
    ages = [s[2] for s in warm]
    limit = Limit("rollup interval", INTERVAL_S, "s")
    ctx.record(
        Figure(
            NAME,
            "steady lag: events not yet rolled up, p50",
            percentile(behind_s, 0.5),
            "s of ingest",
            None,
            limit,
        )
    )
    ctx.record(
        Figure(
            NAME,
            "steady lag: events not yet rolled up, max",
            max(behind_s, default=float("nan")),
            "s of ingest",
            None,
            limit,
        )
    )
    ctx.record(
        Figure(
            NAME,
            "steady lag: oldest dirty marker age, max",
            max(ages, default=float("nan")),
            "s",
            None,
            limit,
        )
    )
    ctx.note(
        NAME,
        f"steady state: {rate:,} events/s for {seconds} s into the current hour, "
        f"RUNTALLY_ROLLUP_INTERVAL_S={INTERVAL_S} (default 30; lag scales with it), samples "
        f"every 0.5 s after the first {INTERVAL_S * 1.5:g} s. Rows were written by the bench "
        "with ingest's transaction shape (COPY + mark_hours), not by `runtally ingest`, so the "
        "lag is the rollup's alone. The current hour is re-dirtied by every batch, so its "
        "marker age stays small; the events-behind figure is the real staleness.",
    )


async def _writer(stack: Stack, records: list[tuple[Any, ...]], per_tick: int) -> None:
    conn = await asyncpg.connect(stack.settings.asyncpg_dsn)
    try:
        began = time.monotonic()
        for i, at in enumerate(range(0, len(records), per_tick)):
            chunk = [_now_record(r) for r in records[at : at + per_tick]]
            async with conn.transaction():
                await conn.copy_records_to_table("agent_runs", records=chunk, columns=COPY_COLUMNS)
                await mark_hours(
                    conn, {(PROJECT, chunk[0][4].replace(minute=0, second=0, microsecond=0))}
                )
            delay = began + (i + 1) * TICK_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
    finally:
        await conn.close()


def _now_record(record: tuple[Any, ...]) -> tuple[Any, ...]:
    """The record with started_at/ended_at moved to now (the current hour)."""
    now = utc_now()
    shift = now - record[4]
    return (*record[:4], now, record[5] + shift, *record[6:])


async def _sampler(stack: Stack, since: datetime, out: list[tuple[float, int, float]]) -> None:
    conn = await connect(stack.settings)
    began = time.monotonic()
    try:
        while True:
            row = await conn.fetchrow(
                """
                SELECT (SELECT count(*) FROM agent_runs WHERE started_at >= $1) AS raw,
                       (SELECT coalesce(sum(runs), 0) FROM rollup_hourly
                          WHERE bucket >= $1 AND dims = 0) AS rolled,
                       (SELECT coalesce(extract(epoch FROM now() - min(dirtied_at)), 0)
                          FROM rollup_dirty) AS age
                """,
                since,
            )
            out.append(
                (time.monotonic() - began, int(row["raw"] - row["rolled"]), float(row["age"]))
            )
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
