"""Dead-lettering is at most once per entry, even when two consumers both give up on it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from runtally.config import Settings
from runtally.stream import DeadLetter, EventStream

pytestmark = pytest.mark.integration


async def test_an_entry_reclaimed_by_a_second_consumer_dies_once(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    first = EventStream(redis_client, settings.model_copy(update={"consumer": "slow"}))
    second = EventStream(redis_client, settings.model_copy(update={"consumer": "fast"}))
    await first.ensure_group()
    await redis_client.xadd(settings.stream, {"data": b"not json"})
    [entry] = await first.read(10, None)
    await asyncio.sleep(0.05)
    [claimed] = await second.claim_idle(1, 10)
    assert claimed.id == entry.id
    assert claimed.deliveries == 2

    now = datetime.now(UTC)
    assert await second.dead_letter([DeadLetter(claimed, "bad json")], now) == 1
    assert await first.dead_letter([DeadLetter(entry, "bad json")], now) == 0

    dead = await redis_client.xrange(settings.dead_stream)
    assert len(dead) == 1
    assert dead[0][1][b"data"] == b"not json"
    assert dead[0][1][b"reason"] == b"bad json"
    assert dead[0][1][b"consumer"] == b"fast"
    assert await redis_client.hget(settings.stats_key, "dead") == b"1"
    assert (await redis_client.xpending(settings.stream, settings.group))["pending"] == 0


async def test_a_batch_of_letters_keeps_each_payload(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    stream = EventStream(redis_client, settings)
    await stream.ensure_group()
    for n in range(5):
        await redis_client.xadd(settings.stream, {"data": f"bad {n}".encode(), "x": b"1"})
    entries = await stream.read(10, None)
    letters = [DeadLetter(e, f"reason {n}") for n, e in enumerate(entries)]
    assert await stream.dead_letter(letters, datetime.now(UTC)) == 5
    dead = await redis_client.xrange(settings.dead_stream)
    assert [f[b"data"] for _, f in dead] == [f"bad {n}".encode() for n in range(5)]
    assert [f[b"reason"] for _, f in dead] == [f"reason {n}".encode() for n in range(5)]
    assert [f[b"source_id"].decode() for _, f in dead] == [e.id for e in entries]
