"""Ingest throughput end to end (XREADGROUP → validate → price → store → ack): one
``runtally ingest --processes 1`` and ``runtally ingest --processes N`` (N = cores),
next to the limit measured in the same run on the same servers: a binary COPY of the
very rows ingest stored into an unpartitioned table with agent_runs' columns and indexes.

Method: the stream is loaded before the processes start (group created at id 0), then
the group's acknowledged count (XINFO GROUPS entries-read − pending; an entry is acked
only after its rows committed) is sampled every 10 ms. Two rates per run: from process
start (start-up included) to the last commit, and steady, from the first to the last
commit. CPU per event (ingest processes' CPU seconds / events) is the figure to compare
between versions on a loaded machine: wall-clock rates there are mostly noise.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis

from bench import limits, procs
from bench.data import Batch, make_events
from bench.harness import (
    BenchContext,
    Figure,
    Limit,
    Stack,
    Target,
    make_partitions,
    private_stack,
    today_window,
    utc_now,
)
from runtally.config import Settings
from runtally.store.writes import COLUMNS

NAME = "ingest"
TITLE = "Ingest throughput"
LIMIT_TABLE = "bench_copy_limit"
TARGETS = {1: 0.6, 0: 0.75}  # ratio to the COPY limit, steady: 1 process, N = cores (0)


@dataclass(frozen=True)
class Run:
    """One ingest run: rates from process start and steady, CPU per event, processes."""

    processes: int
    from_start: float
    steady: float
    cpu_us_per_event: float  # from process start, start-up included
    steady_cpu_us_per_event: float  # first to last commit


def run(ctx: BenchContext) -> None:
    n = ctx.size(300_000, 40_000)
    print(f"[ingest] generating {n:,} events", flush=True)
    batch = make_events(n, utc_now(), spread_s=1800)
    with private_stack(NAME) as stack:
        asyncio.run(_run(ctx, stack, batch))


async def _run(ctx: BenchContext, stack: Stack, batch: Batch) -> None:
    payloads, n = batch.payloads, len(batch.payloads)
    settings = stack.settings
    await make_partitions(settings, *today_window())
    cores = os.cpu_count() or 1
    client = aioredis.Redis.from_url(settings.redis_url)
    try:
        await limits.load_stream(client, settings.stream, payloads)
        read_ack = await limits.raw_read_ack(client, settings.stream, settings.batch_size)
        runs, copies = [], []
        for count in (1, cores):
            runs.append(await _ingest_run(ctx, stack, client, payloads, count))
            copies.append(await stored_rows_copy_rate(stack, settings.batch_size))
        copy_rate = max(copies)
        ctx.note(
            NAME,
            f"{n:,} events of ~{sum(map(len, payloads)) // n} bytes; batch size "
            f"{settings.batch_size}, batch timeout {settings.batch_timeout_ms} ms (defaults). "
            f"Limit: binary COPY (asyncpg copy_records_to_table) of the rows ingest stored "
            f"into an unpartitioned table with agent_runs' columns and indexes, "
            f"{settings.batch_size} rows per transaction: "
            + ", ".join(f"{c:,.0f}" for c in copies)
            + f" rows/s after each run (the higher is the limit). Raw XREADGROUP+XACK "
            f"{read_ack:,.0f} entries/s; parse_event alone "
            f"{limits.parse_rate(payloads[: min(n, 50_000)]):,.0f} events/s on one core.",
        )
        copy_limit = Limit("binary COPY of the stored rows", copy_rate, "rows/s")
        for result in runs:
            _record(ctx, result, copy_limit, cores)
    finally:
        await client.aclose()


def _record(ctx: BenchContext, result: Run, limit: Limit, cores: int) -> None:
    label = f"--processes {result.processes}"
    target = TARGETS[1] if result.processes == 1 else TARGETS[0]
    ctx.record(Figure(NAME, f"{label}, steady", result.steady, "events/s", None, limit))
    ctx.record(Figure(NAME, f"{label}, from process start", result.from_start, "events/s",
                      None, limit))  # fmt: skip
    ctx.record(Figure(NAME, f"{label}, steady / COPY limit", result.steady / limit.value, "×",
                      Target(target, text=f"≥ {target}")))  # fmt: skip
    cpu = result.steady_cpu_us_per_event
    ctx.record(Figure(NAME, f"{label}, ingest CPU per event, steady", cpu, "µs", None, None,
                      f"{cores} cores"))  # fmt: skip


async def _ingest_run(
    ctx: BenchContext, stack: Stack, client: aioredis.Redis, payloads: list[bytes], count: int
) -> Run:
    settings = stack.settings
    await limits.truncate(settings)
    await client.flushall()
    await client.xgroup_create(settings.stream, settings.group, id="0", mkstream=True)
    await limits.load_stream(client, settings.stream, payloads)
    n = len(payloads)
    args = ["ingest", "--processes", str(count)]
    started = time.monotonic()
    with procs.running(stack, args) as (parent,):
        at_first = asyncio.create_task(_cpu_at_first_commit(client, settings, parent.pid))
        samples = await procs.wait_acked(
            client, settings.stream, settings.group, n, timeout=300, procs=[parent]
        )
        cpu, tree = tree_cpu(parent.pid)
        at_commit = at_first.result() if at_first.done() else None
        at_first.cancel()  # still waiting only if nothing was ever committed
        cpu_first, acked_first = at_commit or (cpu, 0)
    done = samples[-1][1] if samples else 0
    if done < n:
        log = procs.log_tail(stack, args).replace("\n", " ⏎ ")[-600:]
        ctx.note(NAME, f"--processes {count} acknowledged only {done:,}/{n:,}; log: {log}")
    first = next(((t, a) for t, a in samples if a > 0), (started, 0))
    last = samples[-1][0] if samples else started
    result = Run(
        processes=count,
        from_start=done / (last - started),
        steady=(done - first[1]) / (last - first[0]) if last > first[0] else float("nan"),
        cpu_us_per_event=cpu / max(done, 1) * 1e6,
        steady_cpu_us_per_event=(cpu - cpu_first) / max(done - acked_first, 1) * 1e6,
    )
    ctx.note(
        NAME,
        f"--processes {count}: {await _count_rows(stack):,} rows stored for {n:,} entries; "
        f"first commit {first[0] - started:.2f} s after start, last {last - started:.2f} s; "
        f"{tree} process(es) used {cpu:.1f} CPU s ({result.cpu_us_per_event:.1f} µs "
        f"per event, start-up included; {result.steady_cpu_us_per_event:.1f} µs from the "
        "first commit on).",
    )
    return result


def tree_cpu(parent: int) -> tuple[float, int]:
    """CPU seconds used so far by ``parent`` and its children; how many processes."""
    tree = [parent, *child_pids(parent)]
    return sum(procs.cpu_seconds(pid) for pid in tree), len(tree)


async def _cpu_at_first_commit(
    client: aioredis.Redis, settings: Settings, parent: int
) -> tuple[float, int]:
    """(CPU seconds of the process tree, entries acked) when the first commit is seen."""
    while not (done := await procs.acked(client, settings.stream, settings.group)):
        await asyncio.sleep(0.005)
    return tree_cpu(parent)[0], done


def child_pids(parent: int) -> list[int]:
    """Processes whose parent is ``parent`` (the children of ``--processes N``)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


async def stored_rows_copy_rate(stack: Stack, batch: int) -> float:
    """Rows/s of a binary COPY of the rows in agent_runs into a same-shape plain table.

    The table has agent_runs' columns, defaults, constraints and indexes but no
    partitions; ``batch`` rows per transaction, as ingest commits them. A bare asyncpg
    connection: jsonb columns come back, and are copied, as text.
    """
    conn = await asyncpg.connect(stack.settings.asyncpg_dsn)
    try:
        rows = [tuple(r) for r in await conn.fetch(f"SELECT {', '.join(COLUMNS)} FROM agent_runs")]
        await _same_shape_table(conn)
        start = time.perf_counter()
        for i in range(0, len(rows), batch):
            async with conn.transaction():
                await conn.copy_records_to_table(
                    LIMIT_TABLE, records=rows[i : i + batch], columns=COLUMNS
                )
        seconds = time.perf_counter() - start
    finally:
        await conn.close()
    return len(rows) / seconds


async def _same_shape_table(conn: asyncpg.Connection) -> None:
    """(Re)create ``LIMIT_TABLE`` like agent_runs, with each of its indexes."""
    await conn.execute(f"DROP TABLE IF EXISTS {LIMIT_TABLE}")
    await conn.execute(
        f"CREATE TABLE {LIMIT_TABLE} (LIKE agent_runs INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'agent_runs'"
    )
    for index in indexes:
        definition = index["indexdef"].replace(" ON ONLY ", " ON ")
        definition = definition.replace(index["indexname"], f"{LIMIT_TABLE}_{index['indexname']}")
        definition = definition.replace("public.agent_runs ", f"{LIMIT_TABLE} ")
        await conn.execute(definition)
    await conn.execute("CHECKPOINT")


async def _count_rows(stack: Stack) -> int:
    from runtally.store.engine import connect

    conn = await connect(stack.settings)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM agent_runs"))
    finally:
        await conn.close()
