"""Publisher SDK: events/s from one async ``Publisher`` and the per-call cost of
``track()``, next to the raw pipelined XADD rate of redis-py on the same Redis.

- Limit: ``redis.asyncio`` pipelines of plain ``XADD`` (no JSON, no Lua, no markers),
  in chunks of the publisher's batch size, of the same prepared payloads.
- Publisher: ``await publish(dict)`` for every event (encoding included), then
  ``flush()``; rate = events / (first publish → flush done). Checked with XLEN.
- ``track()``: ``with track(agent, model, publisher=pub) as run: run.usage(...)`` in a
  tight loop of 1,000 calls, then the loop yields so the sender drains the buffer; only
  the tight loops are timed (the sending is in the publisher figure). The µs limit is
  the raw XADD cost per event.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

import redis.asyncio as aioredis

from bench import limits
from bench.data import event_dict
from bench.harness import BenchContext, Figure, Limit, Stack, Target, private_stack, utc_now

NAME = "publisher"
TITLE = "Publisher SDK"
CHUNK = 1000


def run(ctx: BenchContext) -> None:
    with private_stack(NAME) as stack:
        asyncio.run(_run(ctx, stack, ctx.size(200_000, 30_000)))


async def _run(ctx: BenchContext, stack: Stack, n: int) -> None:
    from runtally.sdk.publisher import Publisher

    rng = random.Random(9)
    now = utc_now()
    events = [event_dict(rng, now) for _ in range(n)]
    payloads = [json.dumps(e, separators=(",", ":")).encode() for e in events]
    client = aioredis.Redis.from_url(stack.settings.redis_url)
    try:
        async with Publisher.from_settings(stack.settings) as probe:
            batch = probe.options.batch_size
        xadd_rate = await limits.load_stream(client, "bench:raw", payloads, chunk=batch)
        await client.delete("bench:raw")
        pub_rate = await _publisher_rate(stack, client, events)
        per_call, track_total = await _track_cost(stack, client, n)
    finally:
        await client.aclose()
    limit = Limit("raw pipelined XADD", xadd_rate, "events/s")
    ctx.record(Figure(NAME, "one async Publisher", pub_rate, "events/s", Target(50_000), limit))
    ctx.record(
        Figure(
            NAME,
            "track() per call",
            per_call,
            "µs",
            Target(30, higher=False),
            Limit("raw XADD per event", 1e6 / xadd_rate, "µs"),
        )
    )
    ctx.record(Figure(NAME, "track() + Publisher end to end", track_total, "events/s", None, limit))
    ctx.note(
        NAME,
        f"{n:,} events of ~{sum(map(len, payloads)) // n} bytes; Publisher defaults "
        f"(batch {batch}, Lua batch script with idempotency markers).",
    )


async def _publisher_rate(
    stack: Stack, client: aioredis.Redis, events: list[dict[str, Any]]
) -> float:
    from runtally.sdk.publisher import Publisher

    await client.delete(stack.settings.stream)
    async with Publisher.from_settings(stack.settings) as pub:
        began = time.perf_counter()
        for event in events:
            await pub.publish(event)
        await pub.flush()
        seconds = time.perf_counter() - began
    stored = await client.xlen(stack.settings.stream)
    if stored != len(events):
        raise RuntimeError(f"publisher stored {stored} of {len(events)} events")
    return len(events) / seconds


async def _track_cost(stack: Stack, client: aioredis.Redis, n: int) -> tuple[float, float]:
    from runtally.sdk.publisher import Publisher
    from runtally.sdk.track import track

    await client.delete(stack.settings.stream)
    timed = 0.0
    async with Publisher.from_settings(stack.settings) as pub:
        began = time.perf_counter()
        for _ in range(n // CHUNK):
            start = time.perf_counter()
            for i in range(CHUNK):
                with track("agent-1", "gpt-4o", publisher=pub, user_id="u-1") as run:
                    run.usage(input_tokens=1200 + i, output_tokens=300, cache_read_tokens=200)
            timed += time.perf_counter() - start
            while pub.buffered > pub.options.max_buffer // 2:
                await asyncio.sleep(0.001)
            await asyncio.sleep(0)
        await pub.flush()
        total = time.perf_counter() - began
        dropped = pub.dropped
    count = n // CHUNK * CHUNK
    stored = await client.xlen(stack.settings.stream)
    if stored != count or dropped:
        raise RuntimeError(f"track(): {stored} of {count} stored, {dropped} dropped")
    return timed / count * 1e6, count / total
