"""A steady publisher for the latency, memory and rollup benchmarks: raw pipelined XADD
of payloads built from templates, paced in 10 ms ticks.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from bench.data import event_dict, fast_uuid
from bench.harness import utc_now

TICK_S = 0.01
ID_AT = len('{"event_id":"')  # payloads start with the event id (event_dict puts it first)


def templates(n: int, seed: int = 3) -> list[bytes]:
    rng = random.Random(seed)
    now = utc_now()
    out = []
    for _ in range(n):
        text = json.dumps(event_dict(rng, now), separators=(",", ":"))
        assert text[ID_AT + 36] == '"', "event_id must come first"
        out.append(text.encode())
    return out


def fresh_id(template: bytes) -> bytes:
    """The template with a new event_id (a new event for the ingest's idempotency)."""
    return template[:ID_AT] + str(fast_uuid()).encode() + template[ID_AT + 36 :]


async def steady(
    client: aioredis.Redis,
    stream: str,
    rate: int,
    seconds: float,
    make: Callable[[int], bytes],
) -> int:
    """XADD ``make(i)`` at ``rate`` per second for ``seconds``; returns how many were sent.

    The schedule is absolute (tick k at start + k·10 ms), so a late tick catches up
    instead of lowering the rate.
    """
    per_tick = rate * TICK_S
    start = time.monotonic()
    sent = 0
    tick = 0
    while True:
        tick += 1
        due = int(per_tick * tick) - sent
        async with client.pipeline(transaction=False) as pipe:
            for i in range(sent, sent + due):
                pipe.xadd(stream, {"data": make(i)})
            await pipe.execute()
        sent += due
        if tick * TICK_S >= seconds:
            return sent
        delay = start + tick * TICK_S - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
