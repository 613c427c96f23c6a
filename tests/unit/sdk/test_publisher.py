"""Publisher against fakeredis: order, exactly once, retries, the full-buffer policies,
counters and the honest pressure warning."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import fakeredis
import pytest

from runtally.config import Settings
from runtally.events import parse_event
from runtally.sdk.notices import PublishError
from runtally.sdk.options import PublisherOptions
from runtally.sdk.publisher import Publisher
from tests.unit.sdk.support import STREAM, event_dict, fast, stream_payloads, wait_until


async def test_publishes_everything_in_order_exactly_once(client: fakeredis.FakeAsyncRedis) -> None:
    events = [event_dict(i) for i in range(1234)]
    async with fast(client, batch_size=100) as pub:
        for event in events:
            assert await pub.publish(event) is True
        assert await pub.flush(5)
        assert pub.published == len(events)
        assert pub.buffered == 0
        assert pub.dropped == 0
    payloads = await stream_payloads(client)
    assert [json.loads(p)["event_id"] for p in payloads] == [e["event_id"] for e in events]
    assert all(parse_event(p) for p in payloads)
    assert await client.keys("*") == [STREAM.encode()]  # batch markers cleaned up


async def test_accepts_runevent_and_publish_nowait(client: fakeredis.FakeAsyncRedis) -> None:
    event = parse_event(json.dumps(event_dict()))
    async with fast(client) as pub:
        assert await pub.publish(event)
        assert pub.publish_nowait(event_dict(1))
        assert await pub.flush(5)
    payloads = await stream_payloads(client)
    assert parse_event(payloads[0]) == event
    assert len(payloads) == 2


async def test_redis_down_keeps_events_and_retries(
    server: fakeredis.FakeServer, client: fakeredis.FakeAsyncRedis
) -> None:
    server.connected = False
    pub = fast(client)
    events = [event_dict(i) for i in range(50)]
    for event in events:
        assert await pub.publish(event)  # accepted although Redis is down
    await wait_until(lambda: pub.retried >= 3)
    assert pub.published == 0
    assert pub.buffered == 50
    assert pub.pressure == 50 / pub.options.max_buffer
    assert not await pub.flush(0.05)
    server.connected = True
    assert await pub.flush(5)
    await pub.aclose()
    assert pub.published == 50
    ids = [json.loads(p)["event_id"] for p in await stream_payloads(client)]
    assert ids == [e["event_id"] for e in events]


class LosesFirstReply(fakeredis.FakeAsyncRedis):
    """Applies every script call, but the connection breaks before the first reply."""

    calls = 0

    async def evalsha(self, *args: Any) -> Any:  # type: ignore[override]
        result = await super().evalsha(*args)
        self.calls += 1  # calls that reached Redis and were applied
        if self.calls == 1:
            raise ConnectionError("connection reset after the batch was applied")
        return result


async def test_lost_reply_does_not_duplicate_the_batch(server: fakeredis.FakeServer) -> None:
    """The batch was applied but the reply was lost: the retry must be a no-op."""
    client = LosesFirstReply(server=server)
    pub = fast(client, batch_size=10)
    events = [event_dict(i) for i in range(25)]
    for event in events:
        await pub.publish(event)
    assert await pub.flush(5)
    await pub.aclose()
    assert client.calls == 4  # three batches, the first one applied, then retried
    assert pub.retried == 1
    assert pub.published == 25
    ids = [json.loads(p)["event_id"] for p in await stream_payloads(client)]
    assert ids == [e["event_id"] for e in events]


async def test_refused_batch_is_retried_not_lost(client: fakeredis.FakeAsyncRedis) -> None:
    await client.set(STREAM, "not a stream")  # WRONGTYPE for XADD
    pub = fast(client)
    await pub.publish(event_dict())
    await wait_until(lambda: pub.retried >= 2)
    assert pub.buffered == 1
    await client.delete(STREAM)
    assert await pub.flush(5)
    await pub.aclose()
    assert len(await stream_payloads(client)) == 1


async def test_drop_policy_counts_and_warns(
    server: fakeredis.FakeServer, client: fakeredis.FakeAsyncRedis, caplog: pytest.LogCaptureFixture
) -> None:
    server.connected = False
    pub = fast(client, max_buffer=10, on_full="drop")
    with caplog.at_level(logging.WARNING, logger="runtally.publisher"):
        results = [await pub.publish(event_dict(i)) for i in range(15)]
    assert results == [True] * 10 + [False] * 5
    assert pub.dropped == 5
    assert pub.pressure == 1.0
    messages = [r.getMessage() for r in caplog.records]
    assert any("80% full" in m for m in messages)
    assert any("dropped 1 event(s) (buffer full)" in m for m in messages)
    server.connected = True
    assert await pub.flush(5)
    await pub.aclose()
    assert pub.published == 10
    assert len(await stream_payloads(client)) == 10


async def test_block_policy_waits_for_room(
    server: fakeredis.FakeServer, client: fakeredis.FakeAsyncRedis
) -> None:
    server.connected = False
    pub = fast(client, max_buffer=5, batch_size=5, on_full="block")
    for i in range(5):
        assert await pub.publish(event_dict(i))
    blocked = asyncio.create_task(pub.publish(event_dict(5)))
    await wait_until(lambda: pub.retried >= 3)
    assert not blocked.done()  # no room can appear while Redis is down
    assert pub.dropped == 0
    server.connected = True
    assert await asyncio.wait_for(blocked, 5) is True
    assert await pub.flush(5)
    await pub.aclose()
    assert len(await stream_payloads(client)) == 6


async def test_block_timeout_then_drop(
    server: fakeredis.FakeServer, client: fakeredis.FakeAsyncRedis
) -> None:
    server.connected = False
    pub = fast(client, max_buffer=2, on_full="block", block_timeout_s=0.05)
    assert await pub.publish(event_dict(0))
    assert await pub.publish(event_dict(1))
    assert await pub.publish(event_dict(2)) is False
    assert pub.dropped == 1
    await pub.aclose(timeout=0.01)


async def test_block_timeout_is_judged_by_the_injected_clock(
    server: fakeredis.FakeServer, client: fakeredis.FakeAsyncRedis
) -> None:
    server.connected = False
    now = [0.0]
    options = PublisherOptions(max_buffer=1, block_timeout_s=30.0, backoff_initial_s=0.005)
    pub = Publisher(client, options, clock=lambda: now[0])
    assert await pub.publish(event_dict(0))
    blocked = asyncio.create_task(pub.publish(event_dict(1)))
    await asyncio.sleep(0.05)
    assert not blocked.done()  # 30 s on this clock have not passed
    now[0] = 30.0
    assert await asyncio.wait_for(blocked, 5) is False
    assert pub.dropped == 1
    await pub.aclose(timeout=0.01)


async def test_raise_on_error(
    server: fakeredis.FakeServer, client: fakeredis.FakeAsyncRedis
) -> None:
    server.connected = False
    pub = fast(client, max_buffer=1, on_full="drop", raise_on_error=True)
    assert await pub.publish(event_dict())
    with pytest.raises(PublishError, match="buffer full"):
        await pub.publish(event_dict())
    with pytest.raises(PublishError, match="cannot encode"):
        await pub.publish({"duration_ms": float("inf")})
    assert pub.dropped == 2
    with pytest.raises(PublishError, match="closed while Redis was unreachable"):
        await pub.aclose(timeout=0.01)


async def test_never_raises_by_default(
    server: fakeredis.FakeServer, client: fakeredis.FakeAsyncRedis
) -> None:
    server.connected = False
    pub = fast(client, max_buffer=1, on_full="drop")
    assert await pub.publish(event_dict())
    assert await pub.publish(event_dict()) is False
    assert await pub.publish({"x": object()}) is False
    await pub.aclose(timeout=0.01)  # one event undelivered: counted, not raised
    assert pub.dropped == 3
    assert await pub.publish(event_dict()) is False  # closed
    assert pub.dropped == 4


async def test_close_logs_undelivered(
    server: fakeredis.FakeServer, client: fakeredis.FakeAsyncRedis, caplog: pytest.LogCaptureFixture
) -> None:
    server.connected = False
    pub = fast(client)
    for i in range(3):
        await pub.publish(event_dict(i))
    with caplog.at_level(logging.WARNING, logger="runtally.publisher"):
        await pub.aclose(timeout=0.02)
    assert pub.dropped == 3
    assert "dropped 3 event(s) (closed while Redis was unreachable)" in caplog.text


def test_options_reject_bad_values() -> None:
    with pytest.raises(ValueError, match="on_full"):
        PublisherOptions(on_full="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_buffer"):
        PublisherOptions(max_buffer=0)


def test_from_settings_uses_stream_and_url() -> None:
    pub = Publisher.from_settings(Settings(stream="s1", redis_url="redis://h:1/2"), batch_size=7)
    assert pub.options.stream == "s1"
    assert pub.options.batch_size == 7
    assert pub.client.connection_pool.connection_kwargs["host"] == "h"


# --- the 80% warning names the cause it sees -----------------------------------------------


def pressure_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "80% full" in r.getMessage()]


async def test_pressure_warning_when_the_producer_outpaces_redis(
    client: fakeredis.FakeAsyncRedis, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis is fine; the agent publishes 8 events before the sender gets a turn."""
    async with fast(client, max_buffer=10) as pub:
        with caplog.at_level(logging.WARNING, logger="runtally.publisher"):
            for i in range(8):
                assert await pub.publish(event_dict(i))
        assert await pub.flush(5)
    assert pressure_lines(caplog) == [
        "runtally publisher buffer 80% full (8 of 10 events): events arrive faster than they "
        "are delivered to Redis; at 100% new events are blocked"
    ]
    assert "unreachable" not in caplog.text


async def test_pressure_warning_when_redis_is_unreachable(
    server: fakeredis.FakeServer, client: fakeredis.FakeAsyncRedis, caplog: pytest.LogCaptureFixture
) -> None:
    server.connected = False
    pub = fast(client, max_buffer=10, on_full="drop")
    assert await pub.publish(event_dict(0))
    await wait_until(lambda: pub.retried >= 2)
    with caplog.at_level(logging.WARNING, logger="runtally.publisher"):
        for i in range(1, 8):
            assert await pub.publish(event_dict(i))
    (line,) = pressure_lines(caplog)
    assert line.startswith("runtally publisher buffer 80% full (8 of 10 events): Redis is ")
    assert "unreachable (" in line
    assert line.endswith("failed attempt(s) so far); at 100% new events are dropped")
    await pub.aclose(timeout=0.01)


def test_pressure_warning_before_any_loop_runs(
    client: fakeredis.FakeAsyncRedis, caplog: pytest.LogCaptureFixture
) -> None:
    pub = fast(client, max_buffer=10)
    with caplog.at_level(logging.WARNING, logger="runtally.publisher"):
        assert all(pub.publish_nowait(event_dict(i)) for i in range(9))
    assert pressure_lines(caplog) == [
        "runtally publisher buffer 80% full (8 of 10 events): no event loop runs the sender "
        "yet; at 100% new events are blocked"
    ]
