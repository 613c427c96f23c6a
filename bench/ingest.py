"""Ingest throughput end to end (XREADGROUP → validate → store → ack) for 1 and 2
``runtally ingest`` processes, next to plain COPY and raw XREADGROUP+XACK of the same
entries, measured in the same run on the same servers.

Method: the stream is loaded before the processes start (group created at id 0), then
the group's acknowledged count (XINFO GROUPS entries-read − pending; an entry is acked
only after its rows committed) is sampled every 10 ms. The rate is taken between 10%
and 90% acknowledged, so process start-up and the tail of the last batch are excluded.
"""

from __future__ import annotations

import asyncio
import time

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

NAME = "ingest"
TITLE = "Ingest throughput"


def run(ctx: BenchContext) -> None:
    n = ctx.size(300_000, 40_000)
    print(f"[ingest] generating {n:,} events", flush=True)
    batch = make_events(n, utc_now(), spread_s=1800)
    with private_stack(NAME) as stack:
        asyncio.run(_run(ctx, stack, batch))


async def _run(ctx: BenchContext, stack: Stack, batch: Batch) -> None:
    payloads, records, n = batch.payloads, batch.records, len(batch.payloads)
    settings = stack.settings
    await make_partitions(settings, *today_window())
    client = aioredis.Redis.from_url(settings.redis_url)
    try:
        parse = limits.parse_rate(payloads[: min(n, 50_000)])
        await limits.truncate(settings)
        copy_rate = await limits.plain_copy(settings, records, settings.batch_size)
        await limits.truncate(settings)
        await limits.load_stream(client, settings.stream, payloads)
        read_ack = await limits.raw_read_ack(client, settings.stream, settings.batch_size)
        ctx.note(
            NAME,
            f"{n:,} events of ~{sum(map(len, payloads)) // n} bytes; batch size "
            f"{settings.batch_size}, batch timeout {settings.batch_timeout_ms} ms (defaults). "
            f"Limits on the same rows: plain COPY {copy_rate:,.0f} rows/s, raw XREADGROUP+XACK "
            f"{read_ack:,.0f} entries/s, parse_event alone {parse:,.0f} events/s on one core.",
        )
        copy_limit = Limit("plain COPY", copy_rate, "rows/s")
        for count in (1, 2):
            rate = await _ingest_rate(ctx, stack, client, payloads, count)
            ctx.record(
                Figure(
                    NAME,
                    f"{count} ingest process{'es' if count > 1 else ''}",
                    rate,
                    "events/s",
                    Target(25_000) if count == 1 else None,
                    copy_limit,
                )
            )
            if count == 1:
                ctx.record(
                    Figure(
                        NAME,
                        "1 process vs raw XREADGROUP+XACK",
                        rate,
                        "events/s",
                        None,
                        Limit("raw XREADGROUP+XACK", read_ack, "entries/s"),
                    )
                )
                ctx.record(
                    Figure(
                        NAME,
                        "1 process / plain COPY",
                        rate / copy_rate,
                        "×",
                        Target(0.5, text="≥ 0.5"),
                    )
                )
    finally:
        await client.aclose()


async def _ingest_rate(
    ctx: BenchContext, stack: Stack, client: aioredis.Redis, payloads: list[bytes], count: int
) -> float:
    settings = stack.settings
    await limits.truncate(settings)
    await client.flushall()
    await client.xgroup_create(settings.stream, settings.group, id="0", mkstream=True)
    await limits.load_stream(client, settings.stream, payloads)
    n = len(payloads)
    started = time.monotonic()
    with procs.running(stack, ["ingest"], count=count) as children:
        samples = await procs.wait_acked(
            client, settings.stream, settings.group, n, timeout=300, procs=children
        )
        wall = time.monotonic() - started
        cpu = [procs.cpu_seconds(child.pid) / wall for child in children]
    done = samples[-1][1] if samples else 0
    if done < n:
        ctx.note(
            NAME,
            f"{count} process(es) acknowledged only {done:,}/{n:,}; log: "
            + procs.log_tail(stack, ["ingest"]).replace("\n", " ⏎ ")[-600:],
        )
    rows = await _count_rows(stack)
    first = next((t for t, a in samples if a > 0), started)
    ctx.note(
        NAME,
        f"{count} process(es): {rows:,} rows stored for {n:,} entries; first ack "
        f"{first - started:.2f} s after start; whole run {samples[-1][0] - first:.2f} s "
        f"from first to last ack; CPU per process, start-up included: "
        + ", ".join(f"{c:.0%}" for c in cpu)
        + " of one core."
        if samples
        else f"{count} process(es): no samples",
    )
    return procs.window_rate(samples, n, 0.1, 0.9)


async def _count_rows(stack: Stack) -> int:
    from runtally.store.engine import connect

    conn = await connect(stack.settings)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM agent_runs"))
    finally:
        await conn.close()
