"""Run values: usage conventions, bad values logged and ignored (the run still counted),
and every run a valid event whatever it is given."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtally.sdk.track import track
from tests.unit.sdk.support import ListSink


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
