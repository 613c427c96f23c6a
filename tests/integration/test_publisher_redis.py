"""Publisher SDK against a real redis-server: volume, threads, and flush at exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from runtally.events import parse_event
from runtally.sdk.options import PublisherOptions
from runtally.sdk.publisher import Publisher
from runtally.sdk.sync import SyncPublisher
from runtally.sdk.track import track

pytestmark = pytest.mark.integration

STREAM = "runtally:events"


def all_payloads(url: str) -> list[bytes]:
    client = redis.Redis.from_url(url)
    try:
        return [fields[b"data"] for _, fields in client.xrange(STREAM)]
    finally:
        client.close()


async def test_10k_events_arrive_once_in_order_and_valid(
    redis_url: str, redis_client: aioredis.Redis
) -> None:
    sent = []
    async with Publisher(redis_url, PublisherOptions(batch_size=500)) as pub:
        for i in range(10_000):
            if i % 2:
                async with track(f"agent-{i % 7}", "gpt-4o", publisher=pub) as run:
                    run.usage(input_tokens=i, output_tokens=1)
                sent.append(run.event_id)
            else:
                event_id = str(uuid.uuid4())
                await pub.publish({"event_id": event_id, "agent": "plain", "model": "m",
                                   "started_at": "2026-01-01T00:00:00+00:00",
                                   "duration_ms": 1.5})  # fmt: skip
                sent.append(event_id)
        assert await pub.flush(30)
        assert (pub.published, pub.dropped, pub.buffered) == (10_000, 0, 0)
    events = [parse_event(p) for p in all_payloads(redis_url)]
    assert [str(e.event_id) for e in events] == sent
    assert await redis_client.keys("*") == [STREAM.encode()]  # no markers left


def test_sync_publisher_from_many_threads(redis_url: str) -> None:
    publisher = SyncPublisher(redis_url, PublisherOptions(batch_size=200))
    sent: list[list[str]] = [[] for _ in range(4)]

    def worker(n: int) -> None:
        for i in range(1500):
            with track("threaded", "m", publisher=publisher) as run:
                run.usage(output_tokens=i)
            sent[n].append(run.event_id)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert publisher.flush(30)
    publisher.close()
    assert publisher.published == 6000
    ids = [json.loads(p)["event_id"] for p in all_payloads(redis_url)]
    assert sorted(ids) == sorted(i for part in sent for i in part)
    for part in sent:  # each thread's events keep their order
        positions = [ids.index(i) for i in part[::100]]
        assert positions == sorted(positions)


def run_script(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_short_lived_process_loses_nothing_at_exit(redis_url: str) -> None:
    """No close() or flush(): the atexit hook of the default publisher delivers it all."""
    result = run_script(
        """
        from runtally import track
        for i in range(3000):
            with track("cron-job", "gpt-4o-mini") as run:
                run.usage(input_tokens=10, output_tokens=i)
        print("done")
        """,
        {"RUNTALLY_REDIS_URL": redis_url, "RUNTALLY_STREAM": STREAM},
    )
    assert result.returncode == 0, result.stderr
    events = [parse_event(p) for p in all_payloads(redis_url)]
    assert sorted(e.output_tokens or 0 for e in events) == list(range(3000))


def test_explicit_sync_publisher_flushes_at_exit(redis_url: str, tmp_path: Path) -> None:
    result = run_script(
        f"""
        from runtally import SyncPublisher
        pub = SyncPublisher({redis_url!r})
        for i in range(2000):
            pub.publish({{"agent": "a", "model": "m", "duration_ms": i,
                          "started_at": "2026-01-01T00:00:00+00:00"}})
        """,
        {},
    )
    assert result.returncode == 0, result.stderr
    durations = sorted(parse_event(p).duration for p in all_payloads(redis_url))
    assert durations == [float(i) for i in range(2000)]


def test_configure_then_track_in_script(redis_url: str) -> None:
    result = run_script(
        f"""
        import runtally
        runtally.configure(redis_url={redis_url!r}, project="scripted",
                           options=runtally.PublisherOptions(max_buffer=50_000))

        @runtally.track("deco", "claude-3-5-haiku")
        def work(i):
            runtally.current_run().usage(output_tokens=i)
            if i % 10 == 0:
                raise ValueError(i)

        for i in range(500):
            try:
                work(i)
            except ValueError:
                pass
        """,
        {},
    )
    assert result.returncode == 0, result.stderr
    events = [parse_event(p) for p in all_payloads(redis_url)]
    assert len(events) == 500
    assert {e.project for e in events} == {"scripted"}
    assert sum(e.status == "error" for e in events) == 50
    assert {e.error_type for e in events if e.status == "error"} == {"ValueError"}


def test_stream_entries_match_plain_xadd_shape(redis_url: str) -> None:
    """Any Redis client publishes the same: one field named data with the JSON."""
    with SyncPublisher(redis_url) as pub:
        pub.publish({"agent": "a", "model": "m", "duration_ms": 1,
                     "started_at": "2026-01-01T00:00:00+00:00"})  # fmt: skip
    client = redis.Redis.from_url(redis_url)
    try:
        client.xadd(STREAM, {"data": json.dumps({
            "event_id": str(uuid.uuid4()), "agent": "b", "model": "m", "duration_ms": 1,
            "started_at": "2026-01-01T00:00:00+00:00"})})  # fmt: skip
        entries: list[Any] = client.xrange(STREAM)
    finally:
        client.close()
    assert [sorted(fields) for _, fields in entries] == [[b"data"], [b"data"]]
    assert [parse_event(f[b"data"]).agent for _, f in entries] == ["a", "b"]


async def test_sync_publisher_from_async_code(redis_url: str) -> None:
    """async with track() on a SyncPublisher never blocks the caller's loop."""
    publisher = SyncPublisher(redis_url, PublisherOptions(max_buffer=10))
    try:
        for i in range(100):  # 10x the bound: apublish waits in a worker thread for room
            async with track("async-agent", "m", publisher=publisher) as run:
                run.usage(output_tokens=i)
        assert publisher.flush(30)
    finally:
        publisher.close()
    assert publisher.dropped == 0
    events = [parse_event(p) for p in all_payloads(redis_url)]
    assert [e.output_tokens for e in events] == list(range(100))
