"""Issue 6: Redis unreachable from a publisher (a private redis-server, AOF on).

The publisher keeps accepting into its bounded buffer and reports pressure; once Redis
is back on the same port everything accepted is in the stream exactly once. At the
bound the configured policy applies: ``drop`` counts and warns, ``block`` waits.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest
import redis

from runtally.devstack.servers import RedisServer
from runtally.events import parse_event
from runtally.sdk.options import PublisherOptions
from runtally.sdk.publisher import Publisher

pytestmark = pytest.mark.faults

STREAM = "runtally:events"
OUTAGE_S = 30.0


def event(i: int) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "agent": "outage",
        "model": "gpt-4o",
        "started_at": "2026-01-01T00:00:00+00:00",
        "duration_ms": float(i),
    }


def stream_ids(url: str) -> list[str]:
    client = redis.Redis.from_url(url)
    try:
        payloads = [fields[b"data"] for _, fields in client.xrange(STREAM)]
    finally:
        client.close()
    return [str(parse_event(p).event_id) for p in payloads]


def publisher(server: RedisServer, **options: Any) -> Publisher:
    return Publisher(
        server.url,
        PublisherOptions(
            backoff_initial_s=0.02, backoff_max_s=0.5, socket_timeout_s=2.0, **options
        ),
    )


async def wait_until(predicate: Any, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_30s_outage_loses_nothing_and_duplicates_nothing(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    pub = publisher(own_redis, max_buffer=100_000, batch_size=200)
    accepted: list[str] = []
    pressure_seen: list[float] = []
    stop = asyncio.Event()

    async def agent_fleet() -> None:
        i = 0
        while not stop.is_set():
            for _ in range(50):  # ~1,000 runs/s
                payload = event(i)
                i += 1
                assert await pub.publish(payload)
                accepted.append(payload["event_id"])
            pressure_seen.append(pub.pressure)
            await asyncio.sleep(0.05)

    with caplog.at_level(logging.WARNING, logger="runtally.publisher"):
        fleet = asyncio.create_task(agent_fleet())
        await wait_until(lambda: pub.published >= 1000, 10)
        own_redis.stop()  # SIGTERM: AOF is fsynced, the port goes dead
        down_at = len(accepted)
        await asyncio.sleep(OUTAGE_S)
        during = len(accepted) - down_at
        assert during > 10_000  # the agents kept running at full speed
        assert pub.retried > 5
        assert pub.buffered >= during  # everything since the outage is waiting
        assert pub.pressure == pub.buffered / pub.options.max_buffer > 0.1
        own_redis.start()  # same port, same data folder
        await wait_until(lambda: pub.buffered < 1000, 30)
        stop.set()
        await fleet
        assert await pub.flush(30)
        await pub.aclose()

    assert pub.dropped == 0
    assert pub.published == len(accepted)
    ids = stream_ids(own_redis.url)
    assert len(ids) == len(set(ids))  # no duplicates in the stream
    assert ids == accepted  # everything, in publish order
    assert max(pressure_seen) > 0.1  # pressure was visible while it built up
    assert "cannot send to Redis" in caplog.text
    assert "reachable again" in caplog.text


async def test_drop_policy_at_the_bound_counts_and_warns(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    pub = publisher(own_redis, max_buffer=300, on_full="drop")
    delivered_before = [event(i) for i in range(100)]
    for payload in delivered_before:
        await pub.publish(payload)
    assert await pub.flush(10)
    own_redis.stop()
    accepted: list[str] = []
    with caplog.at_level(logging.WARNING, logger="runtally.publisher"):
        for i in range(1000):
            payload = event(i)
            if await pub.publish(payload):
                accepted.append(payload["event_id"])
    assert len(accepted) == 300
    assert pub.dropped == 700
    assert pub.pressure == 1.0
    assert "dropped 1 event(s) (buffer full)" in caplog.text
    assert "100% new events are dropped" in caplog.text
    own_redis.start()
    assert await pub.flush(30)
    await pub.aclose()
    assert pub.dropped == 700  # counted once, never silent, nothing else lost
    assert stream_ids(own_redis.url) == [p["event_id"] for p in delivered_before] + accepted


async def test_block_policy_waits_and_then_delivers(own_redis: RedisServer) -> None:
    pub = publisher(own_redis, max_buffer=100, batch_size=50, on_full="block")
    own_redis.stop()
    events = [event(i) for i in range(150)]
    for payload in events[:100]:
        assert await pub.publish(payload)

    async def publish_rest() -> None:
        for payload in events[100:]:
            assert await pub.publish(payload)

    rest = asyncio.create_task(publish_rest())
    await wait_until(lambda: pub.retried >= 3, 10)
    assert not rest.done()  # the agent waits: the buffer is full and Redis is down
    assert pub.buffered == 100
    assert pub.dropped == 0
    own_redis.start()
    await asyncio.wait_for(rest, 30)
    assert await pub.flush(30)
    await pub.aclose()
    assert pub.dropped == 0
    assert stream_ids(own_redis.url) == [p["event_id"] for p in events]
