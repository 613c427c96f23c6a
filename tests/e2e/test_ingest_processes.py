"""Whole ``runtally ingest`` processes: two consumers, malformed input, SIGKILL storms."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

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
    args = ["ingest", "--processes", "1"]  # separate commands, each one consumer process
    return [Child(f"ingest-{i}", args, tmp_path / f"ingest-{i}.log") for i in range(count)]


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


async def consumer_pending(client: aioredis.Redis, settings: Settings, name: str) -> int:
    try:
        consumers = await client.xinfo_consumers(settings.stream, settings.group)
    except ResponseError:  # no stream or group yet
        return 0
    for info in consumers:
        if info["name"] in (name, name.encode()):
            return int(info["pending"])
    return 0


async def publish_slowly(
    client: aioredis.Redis,
    settings: Settings,
    events: list[dict[str, Any]],
    kills_done: asyncio.Event,
) -> None:
    """Publish small chunks slowly until the kills are done, then the rest at once.

    Slow enough that events last through the kills however long a loaded machine takes
    to start each victim (a victim must find new entries to hold).
    """
    start = 0
    while start < len(events):
        size = len(events) if kills_done.is_set() else 250
        chunk = events[start : start + size]
        await xadd_all(client, settings.stream, [{"data": payload(e)} for e in chunk])
        start += size
        if not kills_done.is_set():
            await asyncio.sleep(0.3)


async def test_sigkill_mid_batch_loses_and_duplicates_nothing(
    settings: Settings, redis_client: aioredis.Redis, pool: Any, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    events = [event_dict(i, now) for i in range(40_000)]
    # Kills may hit the same entries a few times; they must be retried, not given up on.
    env = ingest_env(settings, RUNTALLY_MAX_DELIVERIES="100")
    steady, victim = children(tmp_path, 2)
    steady.start(env)
    kills_done = asyncio.Event()
    publisher = asyncio.create_task(publish_slowly(redis_client, settings, events, kills_done))
    killed_pending: list[int] = []
    try:
        for _ in range(5):
            victim.start(env)
            name = f"{socket.gethostname()}-{victim.pid}"
            # Kill it while it holds entries it has read but not acknowledged.
            pending = await wait_until(
                partial(consumer_pending, redis_client, settings, name), 30, "a batch in hand", 0.01
            )
            victim.kill()  # SIGKILL: no drain, no cleanup
            assert victim.process is not None
            victim.process.wait()
            killed_pending.append(pending)
        kills_done.set()
        victim.start(env)
        await publisher
        await wait_until(
            lambda: drained(redis_client, settings, pool, len(events)), 90, "40,000 rows"
        )
        await assert_exactly(pool, events)
        assert await redis_client.xlen(settings.dead_stream) == 0
        assert len(killed_pending) == 5
        assert min(killed_pending) > 0
    finally:
        kills_done.set()
        await publisher
        codes = stop_all([steady, victim], 20)
        for w in (steady, victim):
            print(f"--- {w.name} (exit {codes[w.name]}):\n{w.log_tail(10)}")


def child_pids(parent: int) -> set[int]:
    """Live processes whose parent is ``parent`` (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def test_processes_n_stores_once_restarts_a_killed_child_and_stops_cleanly(
    settings: Settings, redis_client: aioredis.Redis, pool: Any, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    events = [event_dict(i, now) for i in range(30_000)]
    parent = Child("ingest", ["ingest", "--processes", "2"], tmp_path / "ingest.log")
    parent.start(ingest_env(settings))
    pid = parent.pid
    assert pid is not None
    kills_done = asyncio.Event()
    publisher = asyncio.create_task(publish_slowly(redis_client, settings, events, kills_done))
    try:
        first = await wait_until(
            lambda: asyncio.sleep(0, len(child_pids(pid)) == 2 and child_pids(pid)),
            30, "two children",
        )  # fmt: skip
        slot0 = f"{socket.gethostname()}-{pid}-0"
        await wait_until(
            partial(consumer_pending, redis_client, settings, slot0), 30, "a batch in hand", 0.01
        )
        victim = min(first)  # slot 0 was started first
        os.kill(victim, signal.SIGKILL)  # mid-run, entries in hand
        restarted = await wait_until(
            lambda: asyncio.sleep(0, len(child_pids(pid) - first) == 1), 30, "a restart"
        )
        assert restarted
        kills_done.set()
        await publisher
        await wait_until(
            lambda: drained(redis_client, settings, pool, len(events)), 90, "30,000 rows"
        )
        await assert_exactly(pool, events)
        assert await redis_client.xlen(settings.dead_stream) == 0
        log_text = parent.log_path.read_text()
        assert f"(pid {victim}) exited with -9; restarting" in log_text
        consumers = {
            (c["name"].decode() if isinstance(c["name"], bytes) else c["name"])
            for c in await redis_client.xinfo_consumers(settings.stream, settings.group)
        }
        assert consumers == {slot0, f"{socket.gethostname()}-{pid}-1"}
        children_now = child_pids(pid)
    finally:
        kills_done.set()
        await publisher
        codes = stop_all([parent], 30)
        print(f"--- ingest (exit {codes['ingest']}):\n{parent.log_tail(20)}")
    assert codes["ingest"] == 0, "SIGTERM must stop every child and exit 0"
    assert not [pid for pid in first | children_now if alive(pid)], "leftover processes"
