"""Memory of one ``runtally ingest`` process under sustained load.

A feeder publishes at a steady rate (raw pipelined XADD of realistic payloads, each
with a fresh event_id) for the whole run; the process's RSS (``VmRSS``) is sampled every
second from /proc and its peak (``VmHWM``) read at the end. Flat means the median RSS
of the last quarter of the run is within a few MB of the second quarter's (the first
quarter is warm-up: imports, pools, first batches).
"""

from __future__ import annotations

import asyncio
import statistics
import time

import redis.asyncio as aioredis

from bench import feed, procs
from bench.harness import (
    BenchContext,
    Figure,
    Stack,
    Target,
    make_partitions,
    private_stack,
    today_window,
)

# One consumer in the command's own process: the figures are one consumer's.
ONE_INGEST = ["ingest", "--processes", "1"]
NAME = "memory"
TITLE = "Ingest memory under sustained load"
RATE = 15_000


def run(ctx: BenchContext) -> None:
    with private_stack(NAME) as stack:
        asyncio.run(_run(ctx, stack, ctx.size(60, 15)))


async def _run(ctx: BenchContext, stack: Stack, seconds: int) -> None:
    settings = stack.settings
    await make_partitions(settings, *today_window())
    client = aioredis.Redis.from_url(settings.redis_url)
    pool = feed.templates(20_000)
    rss: list[tuple[float, int]] = []
    try:
        await client.xgroup_create(settings.stream, settings.group, id="$", mkstream=True)
        with procs.running(stack, ONE_INGEST) as children:
            pid = children[0].pid
            sampler = asyncio.create_task(_sample(pid, rss))
            sent = await feed.steady(
                client,
                settings.stream,
                RATE,
                seconds,
                lambda i: feed.fresh_id(pool[i % len(pool)]),
            )
            done = await procs.acked(client, settings.stream, settings.group) or 0
            peak = procs.proc_status(pid).get("VmHWM", 0) / 1024
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
    finally:
        await client.aclose()
    _report(ctx, rss, peak, sent, done, seconds)


async def _sample(pid: int, out: list[tuple[float, int]]) -> None:
    began = time.monotonic()
    while True:
        kib = procs.proc_status(pid).get("VmRSS")
        if kib is not None:
            out.append((time.monotonic() - began, kib))
        await asyncio.sleep(1.0)


def _report(
    ctx: BenchContext, rss: list[tuple[float, int]], peak: float, sent: int, done: int, seconds: int
) -> None:
    quarter = max(1, len(rss) // 4)
    second = [kib / 1024 for _, kib in rss[quarter : 2 * quarter]]
    last = [kib / 1024 for _, kib in rss[-quarter:]]
    drift = (
        (statistics.median(last) - statistics.median(second)) if second and last else float("nan")
    )
    ctx.record(
        Figure(
            NAME, "peak RSS (VmHWM) of one ingest process", peak, "MB", Target(200, higher=False)
        )
    )
    ctx.record(Figure(NAME, "RSS drift, last quarter vs second quarter (median)", drift, "MB"))
    trace = ", ".join(f"{t:.0f}s {kib / 1024:.0f}" for t, kib in rss[:: max(1, len(rss) // 12)])
    ctx.note(
        NAME,
        f"{sent:,} events fed at {RATE:,}/s for {seconds} s; {done:,} stored and acknowledged "
        f"when the feed stopped ({done / seconds:,.0f}/s). RSS in MB over time: {trace}.",
    )
