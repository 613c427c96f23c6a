"""The ingest consumer in-process against real Redis and Postgres."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio as aioredis

from runtally.config import Settings
from runtally.ingest import deadletter
from runtally.ingest.worker import open_consumer
from runtally.store.writes import hour_of
from tests.ingest_support import (
    POISON_AGENT,
    FixedPrices,
    event_dict,
    install_poison_checks,
    malformed_corpus,
    payload,
    wait_until,
    xadd_all,
)

pytestmark = pytest.mark.integration


def with_(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update=changes)


async def drain(settings: Settings) -> None:
    async with open_consumer(settings, prices=FixedPrices()) as consumer:
        await consumer.run_until_idle()


async def stored_ids(pool: Any) -> Counter[str]:
    rows = await pool.fetch("SELECT event_id FROM agent_runs")
    return Counter(str(r["event_id"]) for r in rows)


async def test_events_are_stored_once_with_cost_and_dirty_hours(
    settings: Settings, redis_client: aioredis.Redis, pool: Any
) -> None:
    now = datetime.now(UTC)
    events = [event_dict(i, now) for i in range(700)]
    # Every 10th event published twice: the second copy must change nothing.
    entries = [{"data": payload(e)} for e in events] + [{"data": payload(e)} for e in events[::10]]
    await xadd_all(redis_client, settings.stream, entries)
    await drain(with_(settings, batch_size=128))

    assert await stored_ids(pool) == Counter(e["event_id"] for e in events)
    pending = await redis_client.xpending(settings.stream, settings.group)
    assert pending["pending"] == 0
    assert await redis_client.hget(settings.stats_key, "ingested") == b"700"

    rows = {str(r["event_id"]): r for r in await pool.fetch("SELECT * FROM agent_runs")}
    prices = FixedPrices()
    for e in events:
        row = rows[e["event_id"]]
        if "cost_usd" in e:
            expected = (Decimal(str(e["cost_usd"])), "event", None)
        elif e["model"] == "mystery-model":
            expected = (None, None, "test-1")
        else:
            expected = (Decimal(e["input_tokens"]) / 1_000_000, "price_table", prices.version)
        assert (row["cost_usd"], row["cost_source"], row["price_version"]) == expected
        assert row["duration_ms"] == e["duration_ms"]
        assert row["tags"] == e.get("tags")
        assert row["metadata"] == e.get("metadata")
    marks = {(r["project"], r["hour"]) for r in await pool.fetch("SELECT * FROM rollup_dirty")}
    assert marks == {
        (e["project"], hour_of(datetime.fromisoformat(e["started_at"]))) for e in events
    }


async def test_malformed_entries_are_dead_lettered_and_the_rest_stored(
    settings: Settings, redis_client: aioredis.Redis, pool: Any
) -> None:
    now = datetime.now(UTC)
    corpus = malformed_corpus(now)
    valid = [event_dict(i, now) for i in range(len(corpus) * 3)]
    entries: list[dict[Any, Any]] = []
    bad_ids: dict[int, str] = {}
    for i, e in enumerate(valid):
        entries.append({"data": payload(e)})
        if i % 3 == 1:
            bad_ids[len(entries)] = corpus[i // 3][1]
            entries.append(corpus[i // 3][0])
    ids = await xadd_all(redis_client, settings.stream, entries)
    await drain(with_(settings, batch_size=16))

    assert await stored_ids(pool) == Counter(e["event_id"] for e in valid)
    assert (await redis_client.xpending(settings.stream, settings.group))["pending"] == 0
    dead = await deadletter.list_dead(redis_client, settings)
    by_source = {d.source_id: d for d in dead}
    assert set(by_source) == {ids[i] for i in bad_ids}
    for position, word in bad_ids.items():
        letter = by_source[ids[position]]
        assert word.lower() in letter.reason.lower()
        assert letter.data == entries[position].get(b"data")
        assert letter.deliveries == 1
        assert letter.consumer == settings.consumer


async def test_entries_of_a_dead_consumer_are_reclaimed(
    settings: Settings, redis_client: aioredis.Redis, pool: Any
) -> None:
    events = [event_dict(i) for i in range(50)]
    await redis_client.xgroup_create(settings.stream, settings.group, id="0", mkstream=True)
    await xadd_all(redis_client, settings.stream, [{"data": payload(e)} for e in events])
    # A consumer that read 30 entries and died before storing them.
    await redis_client.xreadgroup(settings.group, "died", {settings.stream: ">"}, count=30)
    await asyncio.sleep(settings.claim_idle_ms / 1000)
    await drain(settings)
    assert await stored_ids(pool) == Counter(e["event_id"] for e in events)
    assert (await redis_client.xpending(settings.stream, settings.group))["pending"] == 0


async def test_poison_entry_is_dead_lettered_after_max_deliveries(
    settings: Settings, redis_client: aioredis.Redis, pool: Any
) -> None:
    """A value Postgres refuses never blocks the rest and ends dead."""
    await install_poison_checks(pool)
    # claim_idle_ms well above the time a loaded machine takes to isolate the poison row:
    # an entry reclaimed while its third delivery is still being stored would die as
    # "delivered 4 times" instead (a race this test is not about).
    s = with_(settings, max_deliveries=3, claim_idle_ms=1000, claim_interval_s=0.05)
    events = [event_dict(i) for i in range(40)]
    poison = event_dict(99, agent=POISON_AGENT)
    entries = [{"data": payload(e)} for e in events[:20]]
    entries += [{"data": payload(poison)}]
    entries += [{"data": payload(e)} for e in events[20:]]
    ids = await xadd_all(redis_client, s.stream, entries)

    stop = asyncio.Event()
    async with open_consumer(s, prices=FixedPrices()) as consumer:
        task = asyncio.create_task(consumer.run(stop))
        try:
            dead = await wait_until(
                lambda: deadletter.list_dead(redis_client, s), 30, "the poison entry to die"
            )
        finally:
            stop.set()
            await task
    assert await stored_ids(pool) == Counter(e["event_id"] for e in events)
    [letter] = dead
    assert letter.source_id == ids[20]
    assert letter.deliveries == 3
    assert letter.reason.startswith("storage failed:")
    assert "test_poison_agent" in letter.reason
    assert json.loads(letter.data or b"") == poison
    assert (await redis_client.xpending(s.stream, s.group))["pending"] == 0


async def test_replay_republishes_dead_payloads(
    settings: Settings, redis_client: aioredis.Redis, pool: Any
) -> None:
    late = event_dict(1, datetime.now(UTC))
    late["event_id"] = str(uuid.uuid4())
    await xadd_all(
        redis_client,
        settings.stream,
        [{"data": payload(late)}, {"data": b"{broken"}, {"nodata": b"x"}],
    )
    # A worker whose clock is a year ahead: the good event looks too old and dies.
    skewed = with_(settings)
    async with open_consumer(
        skewed, prices=FixedPrices(), clock=lambda: datetime(2027, 12, 1, tzinfo=UTC)
    ) as consumer:
        await consumer.run_until_idle()
    dead = await deadletter.list_dead(redis_client, settings)
    assert len(dead) == 3
    chosen = await deadletter.select_dead(redis_client, settings, [], True, "retention")
    assert [d.data for d in chosen] == [payload(late)]
    result = await deadletter.replay(redis_client, settings, chosen)
    assert result.replayed == [chosen[0].id]
    await drain(settings)  # the clock is right again
    assert await stored_ids(pool) == Counter([late["event_id"]])
    left = await deadletter.list_dead(redis_client, settings)
    assert len(left) == 2
    skipped = await deadletter.replay(redis_client, settings, left)
    assert len(skipped.replayed) == 1  # {broken goes back (and will die again)
    assert list(skipped.skipped.values()) == ["it has no 'data' field to re-publish"]


async def test_trim_removes_only_acknowledged_entries(
    settings: Settings, redis_client: aioredis.Redis, pool: Any
) -> None:
    s = with_(settings, trim_interval_s=0.01)
    events = [event_dict(i) for i in range(30)]
    await xadd_all(redis_client, s.stream, [{"data": payload(e)} for e in events])
    await drain(s)
    await drain(s)  # the second run trims what the first acknowledged
    assert await redis_client.xlen(s.stream) == 0
    assert await stored_ids(pool) == Counter(e["event_id"] for e in events)
