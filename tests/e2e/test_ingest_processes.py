"""Whole ``runtally ingest`` processes: two consumers, malformed input, SIGKILL storms."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from runtally.config import Settings
from runtally.devstack.children import Child, stop_all
from tests.ingest_support import (
    assert_exactly,
    event_dict,
    group_state,
    ingest_env,
    malformed_corpus,
    payload,
    row_count,
    wait_until,
    xadd_all,
)

pytestmark = pytest.mark.e2e


def children(tmp_path: Path, count: int) -> list[Child]:
    return [Child(f"ingest-{i}", ["ingest"], tmp_path / f"ingest-{i}.log") for i in range(count)]


async def drained(client: aioredis.Redis, settings: Settings, pool: Any, rows: int) -> bool:
    pending, lag = await group_state(client, settings)
    return pending == 0 and lag == 0 and await row_count(pool) == rows


async def test_two_processes_store_every_event_once_and_dead_letter_the_malformed(
    settings: Settings, redis_client: aioredis.Redis, pool: Any, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    events = [event_dict(i, now) for i in range(20_000)]
    rng = random.Random(7)
    entries: list[dict[Any, Any]] = [{"data": payload(e)} for e in events]
    entries += [{"data": payload(e)} for e in rng.sample(events, 400)]  # 2% published twice
    rng.shuffle(entries)
    corpus = malformed_corpus(now)
    for n, (fields, _) in enumerate(corpus):  # malformed ones spread through the stream
        entries.insert((n + 1) * len(entries) // (len(corpus) + 1), fields)

    workers = children(tmp_path, 2)
    env = ingest_env(settings)
    for worker in workers:
        worker.start(env)
    try:
        half = len(entries) // 2
        await xadd_all(redis_client, settings.stream, entries[:half])
        await asyncio.sleep(0.5)  # publish the rest while both are consuming
        await xadd_all(redis_client, settings.stream, entries[half:])
        await wait_until(
            lambda: drained(redis_client, settings, pool, len(events)), 90, "20,000 rows"
        )
        assert [w.exit_code() for w in workers] == [None, None], "a worker died"
        await assert_exactly(pool, events)
        dead = await redis_client.xrange(settings.dead_stream)
        assert len(dead) == len(corpus)
        reasons = sorted(f[b"reason"].decode() for _, f in dead)
        for _, word in corpus:
            assert any(word.lower() in r.lower() for r in reasons), word
    finally:
        codes = stop_all(workers, 20)
        for w in workers:
            print(f"--- {w.name} (exit {codes[w.name]}):\n{w.log_tail(10)}")
    assert set(codes.values()) == {0}, "SIGTERM must drain and exit 0"


async def test_sigkill_during_a_stream_loses_and_duplicates_nothing(
    settings: Settings, redis_client: aioredis.Redis, pool: Any, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    events = [event_dict(i, now) for i in range(40_000)]
    # Kills may hit the same entries a few times; they must be retried, not given up on.
    env = ingest_env(settings, RUNTALLY_MAX_DELIVERIES="100")
    steady, victim = children(tmp_path, 2)
    steady.start(env)
    victim.start(env)
    rng = random.Random(11)
    kills = 0
    try:
        for start in range(0, len(events), 4000):
            chunk = events[start : start + 4000]
            await xadd_all(redis_client, settings.stream, [{"data": payload(e)} for e in chunk])
            await asyncio.sleep(rng.uniform(0.2, 0.9))
            if start % 8000 == 0:
                victim.kill()  # SIGKILL: no drain, no cleanup
                assert victim.process is not None
                victim.process.wait()
                kills += 1
                victim.start(env)
        await wait_until(
            lambda: drained(redis_client, settings, pool, len(events)), 90, "40,000 rows"
        )
        await assert_exactly(pool, events)
        assert await redis_client.xlen(settings.dead_stream) == 0
        assert kills == 5
    finally:
        codes = stop_all([steady, victim], 20)
        for w in (steady, victim):
            print(f"--- {w.name} (exit {codes[w.name]}):\n{w.log_tail(10)}")
