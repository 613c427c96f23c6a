"""End-to-end latency publish → row committed at a steady 5,000 events/s.

Each event carries its publish wall time (``metadata.pub``, taken just before its XADD
pipeline is sent) and ``started_at`` = that time. Postgres runs with
``track_commit_timestamp = on`` (set for this benchmark only), so the commit time of
each row is exact: ``pg_xact_commit_timestamp(xmin)``. ``ingested_at`` (now() at insert,
i.e. the transaction's start) is shown too: it is biased early by the time the
transaction takes. Same machine, same clock, so no clock skew enters.
"""

from __future__ import annotations

import asyncio
import json
import random
import time

import redis.asyncio as aioredis

from bench import feed, procs
from bench.data import event_dict
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
from runtally.store.engine import connect

# One consumer in the command's own process: the figures are one consumer's.
ONE_INGEST = ["ingest", "--processes", "1"]
NAME = "latency"
TITLE = "End-to-end latency"
RATE = 5000
WARMUP_S = 2.0


def run(ctx: BenchContext) -> None:
    with private_stack(NAME, pg_options={"track_commit_timestamp": "on"}) as stack:
        asyncio.run(_run(ctx, stack, ctx.size(40, 12)))


async def _run(ctx: BenchContext, stack: Stack, seconds: int) -> None:
    settings = stack.settings
    await make_partitions(settings, *today_window())
    client = aioredis.Redis.from_url(settings.redis_url)
    rng = random.Random(5)
    try:
        await client.xgroup_create(settings.stream, settings.group, id="$", mkstream=True)
        with procs.running(stack, ONE_INGEST) as children:
            await _wait_ready(client, settings.stream, settings.group, stack, rng)
            sent = await feed.steady(client, settings.stream, RATE, seconds, lambda i: _event(rng))
            samples = await procs.wait_acked(
                client, settings.stream, settings.group, sent + 1, timeout=60, procs=children
            )
        rtt = await _redis_rtt(client)
    finally:
        await client.aclose()
    commit, ingested = await _latencies(stack)
    done = samples[-1][1] if samples else 0
    limit = Limit("ingest batch timeout", settings.batch_timeout_ms, "ms")
    for q, name in ((0.5, "p50"), (0.99, "p99")):
        ctx.record(
            Figure(
                NAME,
                f"publish → commit {name}",
                percentile(commit, q),
                "ms",
                Target(500, higher=False) if name == "p99" else None,
                limit,
            )
        )
    ctx.record(Figure(NAME, "publish → commit max", max(commit, default=float("nan")), "ms"))
    ctx.record(
        Figure(
            NAME, "publish → ingested_at (transaction start) p99", percentile(ingested, 0.99), "ms"
        )
    )
    ctx.note(
        NAME,
        f"{sent:,} events published by pipelined XADD in 10 ms ticks at {RATE:,}/s for "
        f"{seconds} s; {done:,} acknowledged; {len(commit):,} rows measured after a "
        f"{WARMUP_S:g} s warm-up; one `runtally ingest` with default settings (batch "
        f"{settings.batch_size}, timeout {settings.batch_timeout_ms} ms). Redis round trip "
        f"{rtt * 1000:.2f} ms. The batch timeout is the floor a batch waits when the stream "
        "is quiet; at this rate batches fill by time, not size. Postgres ran with "
        "track_commit_timestamp = on for this benchmark only (exact commit times).",
    )


def _event(rng: random.Random) -> bytes:
    now = utc_now()
    event = event_dict(rng, now, metadata={"pub": time.time()})
    return json.dumps(event, separators=(",", ":")).encode()


async def _wait_ready(
    client: aioredis.Redis, stream: str, group: str, stack: Stack, rng: random.Random
) -> None:
    """Publish one warm-up event and wait until it is acknowledged (the pipeline is up)."""
    await client.xadd(stream, {"data": _event(rng)})
    samples = await procs.wait_acked(client, stream, group, 1, timeout=60)
    if not samples or samples[-1][1] < 1:
        tail = procs.log_tail(stack, ONE_INGEST)
        raise TimeoutError(f"the ingest did not store a first event in 60 s; log: {tail}")


async def _redis_rtt(client: aioredis.Redis) -> float:
    began = time.perf_counter()
    for _ in range(100):
        await client.ping()
    return (time.perf_counter() - began) / 100


async def _latencies(stack: Stack) -> tuple[list[float], list[float]]:
    conn = await connect(stack.settings)
    try:
        rows = await conn.fetch(
            """
            SELECT (metadata->>'pub')::float8 AS pub,
                   extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 AS committed,
                   extract(epoch FROM ingested_at)::float8 AS ingested
            FROM agent_runs
            """
        )
    finally:
        await conn.close()
    first = min((r["pub"] for r in rows), default=0.0)
    kept = [r for r in rows if r["pub"] >= first + WARMUP_S]
    commit = [(r["committed"] - r["pub"]) * 1000 for r in kept if r["committed"] is not None]
    ingested = [(r["ingested"] - r["pub"]) * 1000 for r in kept]
    return commit, ingested
