"""The ``Stream`` contract: the same cases on the in-memory stream, fakeredis and real Redis.

fakeredis runs only the cases with non-blocking reads (its BLOCK is unreliable); the real
redis-server case starts the session's server (``redis_url`` fixture).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

import fakeredis
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from runtally.config import Settings
from runtally.stream import DeadLetter, EventStream, MemoryLog, MemoryStream, Stream

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class Harness(Protocol):
    """One backend: streams on it, and a look at its state that bypasses the protocol."""

    def stream(self, consumer: str = "c1", group: str | None = None) -> Stream: ...
    async def add(self, fields: dict[bytes, bytes]) -> str: ...
    async def delete(self, entry_id: str) -> None: ...
    async def ids(self) -> list[str]: ...
    async def dead(self) -> list[dict[bytes, bytes]]: ...
    async def stat(self, name: str) -> int: ...
    async def pending(self, group: str | None = None) -> int: ...


def settings_for(consumer: str, group: str | None) -> Settings:
    s = Settings(consumer=consumer)
    return s if group is None else s.model_copy(update={"group": group})


class MemoryHarness:
    def __init__(self) -> None:
        self.log = MemoryLog()

    def stream(self, consumer: str = "c1", group: str | None = None) -> Stream:
        return MemoryStream(self.log, settings_for(consumer, group))

    async def add(self, fields: dict[bytes, bytes]) -> str:
        return self.log.add(fields)

    async def delete(self, entry_id: str) -> None:
        del self.log.entries[entry_id]

    async def ids(self) -> list[str]:
        return list(self.log.entries)

    async def dead(self) -> list[dict[bytes, bytes]]:
        return list(self.log.dead)

    async def stat(self, name: str) -> int:
        return self.log.stats.get(name, 0)

    async def pending(self, group: str | None = None) -> int:
        return len(self.log.groups[group or Settings().group].pending)


class RedisHarness:
    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self.settings = Settings()

    def stream(self, consumer: str = "c1", group: str | None = None) -> Stream:
        return EventStream(self.client, settings_for(consumer, group))

    async def add(self, fields: dict[bytes, bytes]) -> str:
        return (await self.client.xadd(self.settings.stream, fields)).decode()

    async def delete(self, entry_id: str) -> None:
        await self.client.xdel(self.settings.stream, entry_id)

    async def ids(self) -> list[str]:
        return [i.decode() for i, _ in await self.client.xrange(self.settings.stream)]

    async def dead(self) -> list[dict[bytes, bytes]]:
        return [f for _, f in await self.client.xrange(self.settings.dead_stream)]

    async def stat(self, name: str) -> int:
        return int(await self.client.hget(self.settings.stats_key, name) or 0)

    async def pending(self, group: str | None = None) -> int:
        summary = await self.client.xpending(self.settings.stream, group or self.settings.group)
        return int(summary["pending"])


BACKENDS = ["memory", "fakeredis", pytest.param("redis", marks=pytest.mark.integration)]
BLOCKING_BACKENDS = ["memory", pytest.param("redis", marks=pytest.mark.integration)]


async def _harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        yield MemoryHarness()
        return
    if request.param == "fakeredis":
        client: aioredis.Redis = fakeredis.FakeAsyncRedis()
    else:
        client = aioredis.Redis.from_url(request.getfixturevalue("redis_url"))
    yield RedisHarness(client)
    await client.aclose()


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    async for harness in _harness(request):
        yield harness


@pytest.fixture(params=BLOCKING_BACKENDS)
async def blocking_backend(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    async for harness in _harness(request):
        yield harness


async def test_group_is_created_once_and_sees_earlier_entries(backend: Harness) -> None:
    s = backend.stream()
    await backend.add({b"data": b"before"})
    assert await s.ensure_group() is True
    assert await s.ensure_group() is False  # BUSYGROUP is not an error
    entries = await s.read(10, None)
    assert [e.fields for e in entries] == [{b"data": b"before"}]
    assert entries[0].deliveries == 1
    assert await s.read(10, None) == []  # delivered once only


async def test_reading_without_the_group_is_a_nogroup_error(backend: Harness) -> None:
    await backend.add({b"data": b"x"})
    with pytest.raises(ResponseError, match="NOGROUP"):
        await backend.stream().read(10, None)


async def test_ack_removes_pending_and_counts_stored_rows(backend: Harness) -> None:
    s = backend.stream()
    await s.ensure_group()
    for i in range(3):
        await backend.add({b"data": str(i).encode()})
    entries = await s.read(10, None)
    assert await s.ack([e.id for e in entries[:2]], stored=1) == 2
    assert await backend.pending() == 1
    assert await backend.stat("ingested") == 1
    assert await s.ack([], stored=5) == 0
    assert await s.ack([entries[0].id], stored=0) == 0  # acknowledged already


async def test_ack_of_a_large_batch_counts_every_id_once(backend: Harness) -> None:
    """More ids than one XACK call of the Redis script takes (it acks 1000 at a time)."""
    s = backend.stream()
    await s.ensure_group()
    for i in range(2501):
        await backend.add({b"data": str(i).encode()})
    entries = await s.read(3000, None)
    assert len(entries) == 2501
    ids = [e.id for e in entries]
    assert await s.ack(ids[:2000] + ids[:10], stored=2000) == 2000  # repeats count once
    assert await backend.pending() == 501
    assert await s.ack(ids[1990:], stored=501) == 501
    assert await backend.pending() == 0
    assert await backend.stat("ingested") == 2501


async def test_dead_letter_copies_and_acks_atomically(backend: Harness) -> None:
    s = backend.stream()
    await s.ensure_group()
    await backend.add({b"data": b"\xffbad", b"x": b"y"})
    [entry] = await s.read(10, None)
    assert await s.dead_letter([DeadLetter(replace(entry, deliveries=2), "not UTF-8")], NOW) == 1
    assert await backend.pending() == 0
    [fields] = await backend.dead()
    assert fields[b"data"] == b"\xffbad"
    assert fields[b"orig:x"] == b"y"
    assert fields[b"reason"] == b"not UTF-8"
    assert fields[b"source_id"] == entry.id.encode()
    assert fields[b"deliveries"] == b"2"
    assert fields[b"consumer"] == b"c1"
    assert await backend.stat("dead") == 1


async def test_an_entry_reclaimed_by_a_second_consumer_dies_once(backend: Harness) -> None:
    slow, fast = backend.stream("slow"), backend.stream("fast")
    await slow.ensure_group()
    await backend.add({b"data": b"not json"})
    [entry] = await slow.read(10, None)
    [claimed] = await fast.claim_idle(0, 10)
    assert (claimed.id, claimed.deliveries) == (entry.id, 2)
    assert await fast.dead_letter([DeadLetter(claimed, "bad json")], NOW) == 1
    assert await slow.dead_letter([DeadLetter(entry, "bad json")], NOW) == 0
    assert [f[b"consumer"] for f in await backend.dead()] == [b"fast"]
    assert await backend.stat("dead") == 1


async def test_claim_takes_idle_entries_with_their_delivery_counts(backend: Harness) -> None:
    dead, alive = backend.stream("dead"), backend.stream("alive")
    await dead.ensure_group()
    ids = [await backend.add({b"data": str(i).encode()}) for i in range(3)]
    await dead.read(10, None)  # delivered to "dead", never acknowledged
    assert await alive.claim_idle(60_000, 10) == []  # not idle long enough
    claimed = await alive.claim_idle(0, 10)
    assert [e.id for e in claimed] == ids
    assert {e.deliveries for e in claimed} == {2}
    again = await alive.claim_idle(0, 2)
    assert [(e.id, e.deliveries) for e in again] == [(ids[0], 3), (ids[1], 3)]


async def test_claim_skips_the_ids_in_hand_even_past_a_page(backend: Harness) -> None:
    s = backend.stream()
    await s.ensure_group()
    ids = [await backend.add({b"data": str(i).encode()}) for i in range(4)]
    await s.read(10, None)
    claimed = await s.claim_idle(0, 10, {ids[0], ids[2]})
    assert [(e.id, e.deliveries) for e in claimed] == [(ids[1], 2), (ids[3], 2)]
    # A page of one entry, skipped twice over: the claim looks further.
    [entry] = await s.claim_idle(0, 1, {ids[0], ids[1]})
    assert (entry.id, entry.deliveries) == (ids[2], 2)


async def test_claim_drops_entries_deleted_from_the_stream(backend: Harness) -> None:
    s = backend.stream()
    await s.ensure_group()
    ids = [await backend.add({b"data": str(i).encode()}) for i in range(3)]
    await s.read(10, None)
    await backend.delete(ids[1])
    assert [e.id for e in await s.claim_idle(0, 10)] == [ids[0], ids[2]]
    assert await backend.pending() == 2


async def test_touch_keeps_an_entry_from_looking_idle(blocking_backend: Harness) -> None:
    s, other = blocking_backend.stream(), blocking_backend.stream("other")
    await s.ensure_group()
    await blocking_backend.add({b"data": b"x"})
    [entry] = await s.read(10, None)
    await asyncio.sleep(0.3)
    await s.touch([entry.id])
    assert await other.claim_idle(250, 10) == []
    [claimed] = await other.claim_idle(0, 10)
    assert claimed.deliveries == 2  # touching counted no delivery


async def test_trim_keeps_everything_some_group_has_not_acknowledged(backend: Harness) -> None:
    s, other = backend.stream(), backend.stream("x", group="other-group")
    await s.ensure_group()
    await other.ensure_group()
    ids = [await backend.add({b"data": str(i).encode()}) for i in range(10)]
    mine = await s.read(6, None)  # ids[0..5] delivered to our group
    await s.ack([e.id for e in mine if e.id != ids[3]], stored=0)  # ids[3] stays pending
    await other.ack([e.id for e in await other.read(8, None)], stored=0)
    # Our group: oldest pending is ids[3]; the other group acknowledged up to ids[7].
    assert await s.trim() == 3
    assert await backend.ids() == ids[3:]
    await s.ack([ids[3]], stored=0)
    # Now our group's bound is after its last delivered id (ids[5]).
    assert await s.trim() == 3
    assert await backend.ids() == ids[6:]


async def test_trim_does_nothing_without_stream_or_group(backend: Harness) -> None:
    s = backend.stream()
    assert await s.trim() == 0
    await backend.add({b"data": b"x"})
    assert await s.trim() == 0
    assert len(await backend.ids()) == 1


async def test_lag_counts_undelivered_and_pending_entries(backend: Harness) -> None:
    s = backend.stream()
    await s.ensure_group()
    for i in range(5):
        await backend.add({b"data": str(i).encode()})
    assert await s.lag() == (5, 0)
    entries = await s.read(3, None)
    await s.ack([entries[0].id], stored=1)
    assert await s.lag() == (2, 2)


async def test_lag_before_the_group_exists_counts_every_entry(backend: Harness) -> None:
    """Published before ingest created its group: nothing is stored yet, so everything is
    lag (a caller waiting for lag 0 must not think the stream drained)."""
    for i in range(3):
        await backend.add({b"data": str(i).encode()})
    assert await backend.stream().lag() == (3, 0)


async def test_read_waits_for_an_entry_then_returns_it(blocking_backend: Harness) -> None:
    s = blocking_backend.stream()
    await s.ensure_group()
    assert await s.read(10, 30) == []  # nothing within the wait
    reading = asyncio.create_task(s.read(10, 5000))
    await asyncio.sleep(0.05)
    entry_id = await blocking_backend.add({b"data": b"late"})
    assert [e.id for e in await reading] == [entry_id]
