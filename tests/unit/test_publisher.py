"""Publisher SDK and track(): buffering policies, counters, retries, and valid events.

fakeredis stands in for Redis (the sender only runs a script; no blocking reads);
``FakeServer.connected = False`` emulates Redis being unreachable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import fakeredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtally import tracking
from runtally.events import RunEvent, parse_event
from runtally.publisher import Publisher, PublishError, encode_event
from runtally.tracking import configure, current_run, track

STREAM = "runtally:events"


def event_dict(i: int = 0) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "agent": f"agent-{i % 3}",
        "model": "gpt-4o",
        "started_at": "2026-01-01T00:00:00+00:00",
        "duration_ms": float(i),
    }


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def client(server: fakeredis.FakeServer) -> fakeredis.FakeAsyncRedis:
    return fakeredis.FakeAsyncRedis(server=server)


def fast(client: Any, **options: Any) -> Publisher:
    options.setdefault("backoff_initial_s", 0.005)
    options.setdefault("backoff_max_s", 0.02)
    return Publisher(client, **options)


async def stream_payloads(client: Any) -> list[bytes]:
    return [fields[b"data"] for _, fields in await client.xrange(STREAM)]


async def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


# --- encoding -----------------------------------------------------------------------------


def test_encode_dict_adds_uuid7_and_converts_values() -> None:
    started = datetime(2026, 1, 1, tzinfo=UTC)
    wire = encode_event(
        {"agent": "a", "model": "m", "started_at": started, "duration_ms": 1,
         "trace_id": uuid.UUID(int=5), "cost_usd": Decimal("0.25")}
    )  # fmt: skip
    data = json.loads(wire)
    assert uuid.UUID(data["event_id"]).version == 7
    assert data["started_at"] == "2026-01-01T00:00:00+00:00"
    assert data["trace_id"] == str(uuid.UUID(int=5))
    assert data["cost_usd"] == 0.25
    assert parse_event(wire).agent == "a"


def test_encode_keeps_event_id_runevent_and_text() -> None:
    given_id = str(uuid.uuid4())
    assert json.loads(encode_event({**event_dict(), "event_id": given_id}))["event_id"] == given_id
    event = parse_event(json.dumps(event_dict()))
    assert parse_event(encode_event(event)) == event
    assert encode_event('{"x": 1}') == '{"x": 1}'


@pytest.mark.parametrize(
    ("bad", "error"),
    [({"duration_ms": float("nan")}, ValueError), ({"x": object()}, TypeError), (42, TypeError)],
)
def test_encode_rejects_what_json_cannot_carry(bad: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        encode_event(bad)


# --- publishing ---------------------------------------------------------------------------


async def test_publishes_everything_in_order_exactly_once(client: Any) -> None:
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


async def test_accepts_runevent_and_publish_nowait(client: Any) -> None:
    event = parse_event(json.dumps(event_dict()))
    async with fast(client) as pub:
        assert await pub.publish(event)
        assert pub.publish_nowait(event_dict(1))
        assert await pub.flush(5)
    payloads = await stream_payloads(client)
    assert parse_event(payloads[0]) == event
    assert len(payloads) == 2


async def test_redis_down_keeps_events_and_retries(server: Any, client: Any) -> None:
    server.connected = False
    pub = fast(client)
    events = [event_dict(i) for i in range(50)]
    for event in events:
        assert await pub.publish(event)  # accepted although Redis is down
    await wait_until(lambda: pub.retried >= 3)
    assert pub.published == 0
    assert pub.buffered == 50
    assert pub.pressure == 50 / pub.max_buffer
    assert not await pub.flush(0.05)
    server.connected = True
    assert await pub.flush(5)
    await pub.aclose()
    assert pub.published == 50
    ids = [json.loads(p)["event_id"] for p in await stream_payloads(client)]
    assert ids == [e["event_id"] for e in events]


async def test_lost_reply_does_not_duplicate_the_batch(client: Any) -> None:
    """The batch was applied but the reply was lost: the retry must be a no-op."""
    pub = fast(client, batch_size=10)
    script = pub._script
    calls = 0

    async def apply_then_fail(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        result = await script(**kwargs)
        if calls == 1:
            raise ConnectionError("connection reset after the batch was applied")
        return result

    pub._script = apply_then_fail  # type: ignore[assignment]
    events = [event_dict(i) for i in range(25)]
    for event in events:
        await pub.publish(event)
    assert await pub.flush(5)
    await pub.aclose()
    assert pub.retried == 1
    assert pub.published == 25
    ids = [json.loads(p)["event_id"] for p in await stream_payloads(client)]
    assert ids == [e["event_id"] for e in events]


async def test_refused_batch_is_retried_not_lost(client: Any) -> None:
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
    server: Any, client: Any, caplog: pytest.LogCaptureFixture
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


async def test_block_policy_waits_for_room(server: Any, client: Any) -> None:
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


async def test_block_timeout_then_drop(server: Any, client: Any) -> None:
    server.connected = False
    pub = fast(client, max_buffer=2, on_full="block", block_timeout_s=0.05)
    assert await pub.publish(event_dict(0))
    assert await pub.publish(event_dict(1))
    assert await pub.publish(event_dict(2)) is False
    assert pub.dropped == 1
    await pub.aclose(timeout=0.01)


async def test_raise_on_error(server: Any, client: Any) -> None:
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


async def test_never_raises_by_default(server: Any, client: Any) -> None:
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
    server: Any, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server.connected = False
    pub = fast(client)
    for i in range(3):
        await pub.publish(event_dict(i))
    with caplog.at_level(logging.WARNING, logger="runtally.publisher"):
        await pub.aclose(timeout=0.02)
    assert pub.dropped == 3
    assert "dropped 3 event(s) (closed while Redis was unreachable)" in caplog.text


def test_constructor_rejects_bad_options() -> None:
    with pytest.raises(ValueError, match="on_full"):
        Publisher("redis://localhost", on_full="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_buffer"):
        Publisher("redis://localhost", max_buffer=0)


def test_from_settings_uses_stream_and_url() -> None:
    from runtally.config import Settings

    pub = Publisher.from_settings(Settings(stream="s1", redis_url="redis://h:1/2"), batch_size=7)
    assert pub.stream == "s1"
    assert pub.batch_size == 7
    assert pub._client.connection_pool.connection_kwargs["host"] == "h"


# --- track ----------------------------------------------------------------------------------


class ListSink:
    """Collects published payloads (sync and async publish)."""

    def __init__(self) -> None:
        self.payloads: list[str] = []

    def publish(self, payload: str) -> bool:
        self.payloads.append(payload)
        return True

    def events(self) -> list[RunEvent]:
        return [parse_event(p) for p in self.payloads]


@pytest.fixture
def sink() -> ListSink:
    return ListSink()


def test_track_context_manager_success(sink: ListSink) -> None:
    before = datetime.now(UTC)
    with track("support", "gpt-4o", publisher=sink, user_id=42, session_id="s",
               trace_id="t", tags={"env": "prod"}, metadata={"k": [1]}) as run:  # fmt: skip
        run.usage(input_tokens=1200, output_tokens=300, cache_read_tokens=1000)
        run.first_token()
        run.set(cost_usd=0.5)
    after = datetime.now(UTC)
    (event,) = sink.events()
    assert str(event.event_id) == run.event_id
    assert event.event_id.version == 7
    assert (event.agent, event.model, event.status) == ("support", "gpt-4o", "success")
    assert (event.user_id, event.session_id, event.trace_id) == ("42", "s", "t")
    assert (event.input_tokens, event.output_tokens, event.cache_read_tokens) == (1200, 300, 1000)
    assert event.cache_write_tokens is None
    assert event.cost_usd == Decimal("0.5")
    assert event.tags == {"env": "prod"}
    assert event.metadata == {"k": [1]}
    assert before <= event.started_at <= event.ended <= after + timedelta(milliseconds=1)
    assert event.time_to_first_token_ms is not None
    assert 0 <= event.time_to_first_token_ms <= event.duration


def test_track_records_exception_and_reraises(sink: ListSink) -> None:
    with pytest.raises(TimeoutError), track("a", "m", publisher=sink):
        raise TimeoutError("model took too long")
    (event,) = sink.events()
    assert event.status == "error"
    assert event.error_type == "TimeoutError"
    assert event.error_message == "model took too long"


def test_track_error_message_is_cut(sink: ListSink) -> None:
    with pytest.raises(ValueError), track("a", "m", publisher=sink):
        raise ValueError("x" * 5000)
    assert sink.events()[0].error_message == "x" * 1000


def test_track_decorator_sync(sink: ListSink) -> None:
    @track("calc", "m", publisher=sink)
    def add(a: int, b: int) -> int:
        run = current_run()
        assert run is not None
        run.usage(output_tokens=a + b)
        return a + b

    assert add(2, 3) == 5
    assert add.__name__ == "add"
    assert add(1, 1) == 2
    events = sink.events()
    assert [e.output_tokens for e in events] == [5, 2]
    assert events[0].event_id != events[1].event_id
    assert current_run() is None


async def test_track_decorator_async_and_error(sink: ListSink) -> None:
    @track("bot", "claude-sonnet-4", publisher=sink)
    async def answer(fail: bool) -> str:
        run = current_run()
        assert run is not None
        run.usage(input_tokens=10, output_tokens=2)
        await asyncio.sleep(0)
        if fail:
            raise RuntimeError("tool crashed")
        return "ok"

    assert await answer(False) == "ok"
    with pytest.raises(RuntimeError):
        await answer(True)
    ok, bad = sink.events()
    assert ok.status == "success"
    assert (bad.status, bad.error_type, bad.input_tokens) == ("error", "RuntimeError", 10)


async def test_async_context_manager_concurrent_runs_are_separate(sink: ListSink) -> None:
    async def one(i: int) -> None:
        async with track("a", "m", publisher=sink) as run:
            await asyncio.sleep(0.001 * (i % 3))
            assert current_run() is run
            run.usage(output_tokens=i)

    await asyncio.gather(*(one(i) for i in range(20)))
    assert sorted(e.output_tokens or 0 for e in sink.events()) == list(range(20))


async def test_track_with_async_publisher(client: Any) -> None:
    async with fast(client) as pub:
        async with track("a", "m", publisher=pub) as run:
            run.usage(input_tokens=5)
        with track("b", "m", publisher=pub):  # sync use inside the loop: publish_nowait
            pass
        assert await pub.flush(5)
    events = [parse_event(p) for p in await stream_payloads(client)]
    assert [(e.agent, e.input_tokens) for e in events] == [("a", 5), ("b", None)]


def test_usage_accumulates_and_converts_anthropic_style(sink: ListSink) -> None:
    with track("a", "m", publisher=sink) as run:
        run.usage(input_tokens=100, output_tokens=10, cache_read_tokens=60)
        # Anthropic: input_tokens excludes cache reads/writes
        run.usage(input_tokens=20, output_tokens=5, cache_read_tokens=30, cache_write_tokens=40,
                  input_includes_cache=False)  # fmt: skip
    (event,) = sink.events()
    assert event.input_tokens == 100 + 20 + 30 + 40
    assert event.output_tokens == 15
    assert event.cache_read_tokens == 90
    assert event.cache_write_tokens == 40


@pytest.mark.parametrize(
    "usage",
    [
        {"input_tokens": -1},
        {"input_tokens": 1.5},
        {"output_tokens": True},
        {"input_tokens": "10"},
        {"input_tokens": 10, "cache_read_tokens": 11},
        {"input_tokens": 10**13},
    ],
)
def test_bad_usage_is_ignored_with_a_warning(
    sink: ListSink, usage: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="runtally.track"),
        track("a", "m", publisher=sink) as run,
    ):
        run.usage(output_tokens=1)
        run.usage(**usage)
    (event,) = sink.events()  # still counted, still valid
    assert event.output_tokens == 1
    assert event.input_tokens is None
    assert "ignoring usage" in caplog.text


@pytest.mark.parametrize(
    "fields",
    [
        {"cost_usd": -1},
        {"cost_usd": float("nan")},
        {"cost_usd": "1"},
        {"time_to_first_token_ms": -5},
        {"user_id": "u" * 200},
        {"user_id": ""},
        {"project": "bad project!"},
        {"tags": {f"k{i}": "v" for i in range(21)}},
        {"tags": {"k": "v" * 300}},
        {"metadata": {"blob": "x" * 20_000}},
        {"metadata": {"x": object()}},
        {"model": ""},
    ],
)
def test_bad_fields_are_ignored_with_a_warning(
    sink: ListSink, fields: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="runtally.track"),
        track("a", "m", publisher=sink) as run,
    ):
        run.set(**fields)
    (event,) = sink.events()
    key = next(iter(fields))
    assert getattr(event, key) in (None, "default", "m")
    assert "ignoring" in caplog.text


def test_set_unknown_field_is_a_type_error(sink: ListSink) -> None:
    with track("a", "m", publisher=sink) as run, pytest.raises(TypeError, match="unknown run"):
        run.set(colour="red")
    assert len(sink.events()) == 1


def test_set_overrides_model_and_ids(sink: ListSink) -> None:
    with track("a", "router", publisher=sink, project="p1") as run:
        run.set(model="gpt-4.1-mini", trace_id="abc", time_to_first_token_ms=10**9)
    (event,) = sink.events()
    assert (event.model, event.trace_id, event.project) == ("gpt-4.1-mini", "abc", "p1")
    assert event.time_to_first_token_ms == event.duration  # clamped: another clock


def test_fail_without_exception(sink: ListSink) -> None:
    with track("a", "m", publisher=sink) as run:
        run.fail("GaveUp", "no answer after 3 tries")
    (event,) = sink.events()
    assert (event.status, event.error_type, event.error_message) == (
        "error", "GaveUp", "no answer after 3 tries"
    )  # fmt: skip


def test_invalid_agent_becomes_unknown(sink: ListSink) -> None:
    with track("", "m" * 101, publisher=sink):
        pass
    (event,) = sink.events()
    assert (event.agent, event.model) == ("unknown", "unknown")


def test_uuid7_ids_are_time_ordered(sink: ListSink) -> None:
    ids = []
    for _ in range(500):
        with track("a", "m", publisher=sink) as run:
            pass
        ids.append(uuid.UUID(run.event_id))
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)  # generation order == sort order (monotonic UUIDv7)
    assert len(set(ids)) == len(ids)


def test_publisher_failure_never_masks_the_run_exception(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def publish(self, payload: str) -> bool:
            raise PublishError("buffer full")

    with pytest.raises(KeyError), track("a", "m", publisher=Broken()):
        raise KeyError("the real problem")
    # raise_on_error publishers may raise when the run itself succeeded
    with pytest.raises(PublishError), track("a", "m", publisher=Broken()):
        pass


def test_configure_sets_default_publisher_and_project(sink: ListSink) -> None:
    previous = (tracking._default_publisher, tracking._default_project)
    try:
        assert configure(publisher=sink, project="team-a") is sink
        with track("a", "m"):
            pass
        with track("a", "m", project="explicit"):
            pass
        assert [e.project for e in sink.events()] == ["team-a", "explicit"]
    finally:
        tracking._default_publisher, tracking._default_project = previous


def test_lazy_package_exports() -> None:
    import runtally

    assert runtally.track is track
    assert runtally.Publisher is Publisher
    with pytest.raises(AttributeError):
        _ = runtally.nope


ints = st.none() | st.integers(min_value=0, max_value=10**6)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    usage=st.lists(st.tuples(ints, ints, ints, ints, st.booleans()), max_size=4),
    error=st.sampled_from([None, ValueError("v"), KeyError(), TimeoutError("t" * 2000)]),
    ident=st.text(min_size=0, max_size=140),
    tags=st.dictionaries(st.text(max_size=70), st.text(max_size=300), max_size=22),
    cost=st.none() | st.floats(allow_nan=True, allow_infinity=True),
    ttft=st.none() | st.floats(min_value=-1, max_value=1e12),
)
def test_track_always_produces_valid_events(
    usage: list[tuple[Any, ...]], error: Exception | None, ident: str,
    tags: dict[str, str], cost: float | None, ttft: float | None,
) -> None:  # fmt: skip
    sink = ListSink()
    raised: BaseException | None = None
    try:
        with track("agent", "model", publisher=sink, user_id=ident, tags=tags) as run:
            for i, o, cr, cw, includes in usage:
                run.usage(i, o, cr, cw, input_includes_cache=includes)
            run.set(cost_usd=cost, time_to_first_token_ms=ttft, session_id=ident)
            if error is not None:
                raise error
    except Exception as exc:
        raised = exc
    assert raised is error
    (event,) = sink.events()  # parse_event raises if the wire JSON is invalid
    assert event.status == ("success" if error is None else "error")
