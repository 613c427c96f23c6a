"""The Redis edge on fakeredis (non-blocking reads only: fakeredis' BLOCK is unreliable)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import fakeredis
import pytest

from runtally.config import Settings
from runtally.stream import DeadLetter, EventStream

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
async def client() -> AsyncIterator[fakeredis.FakeAsyncRedis]:
    redis = fakeredis.FakeAsyncRedis()
    yield redis
    await redis.aclose()


def stream_of(client: fakeredis.FakeAsyncRedis, consumer: str = "c1") -> EventStream:
    return EventStream(client, Settings(consumer=consumer))


async def test_group_is_created_once_and_sees_earlier_entries(
    client: fakeredis.FakeAsyncRedis,
) -> None:
    s = stream_of(client)
    await client.xadd(s.stream, {"data": "before"})
    assert await s.ensure_group() is True
    assert await s.ensure_group() is False  # BUSYGROUP is not an error
    entries = await s.read(10, None)
    assert [e.fields for e in entries] == [{b"data": b"before"}]
    assert entries[0].deliveries == 1


async def test_ack_removes_pending_and_counts_stored_rows(client: fakeredis.FakeAsyncRedis) -> None:
    s = stream_of(client)
    await s.ensure_group()
    for i in range(3):
        await client.xadd(s.stream, {"data": str(i)})
    entries = await s.read(10, None)
    assert await s.ack([e.id for e in entries[:2]], stored=1) == 2
    pending = await client.xpending(s.stream, s.group)
    assert pending["pending"] == 1
    assert await client.hget(s.stats_key, "ingested") == b"1"
    assert await s.ack([], stored=5) == 0


async def test_dead_letter_copies_and_acks_atomically(client: fakeredis.FakeAsyncRedis) -> None:
    s = stream_of(client)
    await s.ensure_group()
    await client.xadd(s.stream, {"data": b"\xffbad"})
    [entry] = await s.read(10, None)
    await s.dead_letter([DeadLetter(replace(entry, deliveries=2), "not UTF-8")], NOW)
    assert (await client.xpending(s.stream, s.group))["pending"] == 0
    [(_, fields)] = await client.xrange(s.dead_stream)
    assert fields[b"data"] == b"\xffbad"
    assert fields[b"reason"] == b"not UTF-8"
    assert fields[b"source_id"] == entry.id.encode()
    assert fields[b"deliveries"] == b"2"
    assert await client.hget(s.stats_key, "dead") == b"1"


async def test_claim_takes_idle_entries_with_their_delivery_counts(
    client: fakeredis.FakeAsyncRedis,
) -> None:
    dead, alive = stream_of(client, "dead"), stream_of(client, "alive")
    await dead.ensure_group()
    ids = [await client.xadd(dead.stream, {"data": str(i)}) for i in range(3)]
    await dead.read(10, None)  # delivered to "dead", never acknowledged
    claimed = await alive.claim_idle(0, 10)
    assert [e.id.encode() for e in claimed] == ids
    assert {e.deliveries for e in claimed} == {2}
    again = await alive.claim_idle(0, 10)
    assert {e.deliveries for e in again} == {3}


async def test_trim_keeps_everything_some_group_has_not_acknowledged(
    client: fakeredis.FakeAsyncRedis,
) -> None:
    s = stream_of(client)
    await s.ensure_group()
    await client.xgroup_create(s.stream, "other-group", id="0")
    ids = [(await client.xadd(s.stream, {"data": str(i)})).decode() for i in range(10)]
    mine = await s.read(6, None)  # ids[0..5] delivered to our group
    await s.ack([e.id for e in mine if e.id != ids[3]], stored=0)  # ids[3] stays pending
    await client.xreadgroup("other-group", "x", {s.stream: ">"}, count=8)
    await client.xack(s.stream, "other-group", *ids[:8])
    # Our group: oldest pending is ids[3]; the other group acknowledged up to ids[7].
    assert await s.safe_trim_id() == ids[3]
    assert await s.trim() == 3
    assert [i.decode() for i, _ in await client.xrange(s.stream)] == ids[3:]
    await s.ack([ids[3]], stored=0)
    # Now our group's bound is after its last delivered id (ids[5]).
    assert await s.trim() == 3
    assert [i.decode() for i, _ in await client.xrange(s.stream)] == ids[6:]


async def test_trim_does_nothing_without_stream_or_group(client: fakeredis.FakeAsyncRedis) -> None:
    s = stream_of(client)
    assert await s.trim() == 0
    await client.xadd(s.stream, {"data": "x"})
    assert await s.trim() == 0
    assert await client.xlen(s.stream) == 1
