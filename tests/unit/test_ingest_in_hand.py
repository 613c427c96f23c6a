"""Entries in hand are never redelivered while a slow store holds them (the claim race).

A store that takes longer than ``claim_idle_ms`` used to let the reader (this consumer's
or another's) reclaim entries still being stored: a delivery counted that never failed,
so a poison entry died as "delivered N+1 times" and good entries were stored twice over.
Each case runs on the in-memory stream and on a real redis-server; the stream is wrapped
to record every claim it answers, the ground truth the cases check.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from typing import Protocol

import pytest
import redis.asyncio as aioredis

from runtally.config import Settings
from runtally.ingest.consumer import Consumer
from runtally.store.writes import RunRecord
from runtally.stream import DeadLetter, Entry, EventStream, MemoryLog, MemoryStream, Stream
from tests.ingest_support import POISON_AGENT, FixedPrices, event_dict, payload, wait_until
from tests.unit.test_ingest_chain import MemoryStore

SLOW_S = 2.0  # the first commit takes this long: five times claim_idle_ms
SETTINGS = Settings(
    consumer="a",
    stream=f"in-hand-{uuid.uuid4().hex[:8]}",
    batch_size=50,
    batch_timeout_ms=20,
    claim_idle_ms=400,
    claim_interval_s=0.05,
    retry_backoff_max_s=0.05,
    max_deliveries=3,
    store_concurrency=2,
    prices_file=None,
)


class SlowFirstCommit(MemoryStore):
    """The first commit takes ``SLOW_S`` (a big batch on a busy Postgres), later ones none."""

    async def commit(self, records: Sequence[RunRecord]) -> int:
        if self.commits == 0:
            self.commits += 1
            await asyncio.sleep(SLOW_S)
            self.commits -= 1
        return await super().commit(records)


class RecordedClaims:
    """``inner`` with every entry ``claim_idle`` hands out recorded as (id, deliveries)."""

    def __init__(self, inner: Stream) -> None:
        self.inner = inner
        self.claims: list[tuple[str, int]] = []

    async def claim_idle(
        self, min_idle_ms: int, count: int, skip: Collection[str] = ()
    ) -> list[Entry]:
        claimed = await self.inner.claim_idle(min_idle_ms, count, skip)
        self.claims += [(e.id, e.deliveries) for e in claimed]
        return claimed

    async def ensure_group(self) -> bool:
        return await self.inner.ensure_group()

    async def read(self, count: int, block_ms: int | None) -> list[Entry]:
        return await self.inner.read(count, block_ms)

    async def touch(self, ids: Sequence[str]) -> None:
        await self.inner.touch(ids)

    async def ack(self, ids: Sequence[str], stored: int) -> int:
        return await self.inner.ack(ids, stored)

    async def dead_letter(self, letters: Sequence[DeadLetter], now: datetime) -> int:
        return await self.inner.dead_letter(letters, now)

    async def trim(self) -> int:
        return await self.inner.trim()

    async def lag(self) -> tuple[int | None, int]:
        return await self.inner.lag()


class Backend(Protocol):
    def stream(self, consumer: str) -> Stream: ...
    async def add(self, fields: dict[bytes, bytes]) -> str: ...
    async def dead(self) -> list[dict[bytes, bytes]]: ...
    async def pending(self) -> int: ...


class Memory:
    def __init__(self) -> None:
        self.log = MemoryLog()

    def stream(self, consumer: str) -> Stream:
        return MemoryStream(self.log, SETTINGS.model_copy(update={"consumer": consumer}))

    async def add(self, fields: dict[bytes, bytes]) -> str:
        return self.log.add(fields)

    async def dead(self) -> list[dict[bytes, bytes]]:
        return list(self.log.dead)

    async def pending(self) -> int:
        return len(self.log.groups[SETTINGS.group].pending)


class Redis:
    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client

    def stream(self, consumer: str) -> Stream:
        return EventStream(self.client, SETTINGS.model_copy(update={"consumer": consumer}))

    async def add(self, fields: dict[bytes, bytes]) -> str:
        return (await self.client.xadd(SETTINGS.stream, fields)).decode()  # type: ignore[arg-type]

    async def dead(self) -> list[dict[bytes, bytes]]:
        return [f for _, f in await self.client.xrange(SETTINGS.dead_stream)]

    async def pending(self) -> int:
        return int((await self.client.xpending(SETTINGS.stream, SETTINGS.group))["pending"])


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "memory":
        yield Memory()
        return
    client = aioredis.Redis.from_url(request.getfixturevalue("redis_url"))
    yield Redis(client)
    await client.aclose()


def consumer_on(stream: Stream, store: MemoryStore) -> Consumer:
    return Consumer(SETTINGS, stream, store, FixedPrices())


async def test_own_entries_in_hand_are_not_reclaimed_and_poison_dies_after_n(
    backend: Backend,
) -> None:
    events = [event_dict(i) for i in range(20)]
    poison = event_dict(99, agent=POISON_AGENT)
    ids = [await backend.add({b"data": payload(e)}) for e in [*events[:10], poison, *events[10:]]]
    stream, store, stop = RecordedClaims(backend.stream("a")), SlowFirstCommit(), asyncio.Event()
    task = asyncio.create_task(consumer_on(stream, store).run(stop))
    try:
        [letter] = await wait_until(backend.dead, 20, "the poison entry to die")
    finally:
        stop.set()
        await task
    # Only the poison entry came back, once per failed try, never while in hand.
    assert stream.claims == [(ids[10], 2), (ids[10], 3)]
    assert letter[b"deliveries"] == b"3"
    assert letter[b"reason"].startswith(b"storage failed: CheckViolationError")
    assert {str(k) for k in store.rows} == {e["event_id"] for e in events}
    assert await backend.pending() == 0


async def test_another_consumer_does_not_take_over_entries_being_stored(
    backend: Backend,
) -> None:
    events = [event_dict(i) for i in range(30)]
    for e in events:
        await backend.add({b"data": payload(e)})
    slow, fast = SlowFirstCommit(), MemoryStore()
    other = RecordedClaims(backend.stream("b"))
    stop = asyncio.Event()
    first = asyncio.create_task(consumer_on(backend.stream("a"), slow).run(stop))
    await wait_until(lambda: asyncio.sleep(0, slow.commits), 5, "a to be storing", 0.01)
    second = asyncio.create_task(consumer_on(other, fast).run(stop))
    try:
        await wait_until(lambda: asyncio.sleep(0, len(slow.rows)), 20, "a to store")
        await asyncio.sleep(SETTINGS.claim_idle_ms / 1000)  # b has had its chances
    finally:
        stop.set()
        await asyncio.gather(first, second)
    assert other.claims == []
    assert fast.rows == {}
    assert {str(k) for k in slow.rows} == {e["event_id"] for e in events}
    assert await backend.pending() == 0
