"""track(): context manager and decorator, sync and async; events valid; errors kept."""

from __future__ import annotations

import asyncio
import importlib
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import fakeredis
import pytest

from runtally.events import parse_event
from runtally.sdk.defaults import DEFAULTS, configure
from runtally.sdk.notices import PublishError
from runtally.sdk.publisher import Publisher
from runtally.sdk.run import current_run
from runtally.sdk.track import track
from tests.unit.sdk.support import ListSink, fast, stream_payloads


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


async def test_track_with_async_publisher(client: fakeredis.FakeAsyncRedis) -> None:
    async with fast(client) as pub:
        async with track("a", "m", publisher=pub) as run:
            run.usage(input_tokens=5)
        with track("b", "m", publisher=pub):  # sync use inside the loop: publish_nowait
            pass
        assert await pub.flush(5)
    events = [parse_event(p) for p in await stream_payloads(client)]
    assert [(e.agent, e.input_tokens) for e in events] == [("a", 5), ("b", None)]


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
    previous = (DEFAULTS.publisher, DEFAULTS.project)
    try:
        assert configure(publisher=sink, project="team-a") is sink
        with track("a", "m"):
            pass
        with track("a", "m", project="explicit"):
            pass
        assert [e.project for e in sink.events()] == ["team-a", "explicit"]
    finally:
        DEFAULTS.publisher, DEFAULTS.project = previous


def test_lazy_package_exports() -> None:
    import runtally

    assert runtally.track is track
    assert runtally.Publisher is Publisher
    assert runtally.configure is configure
    assert runtally.current_run is current_run
    assert runtally.PublishError is PublishError
    for name in runtally.__all__:  # every export resolves to its module's object
        value = getattr(runtally, name)
        assert getattr(importlib.import_module(value.__module__), name) is value
    with pytest.raises(AttributeError):
        _ = runtally.nope
