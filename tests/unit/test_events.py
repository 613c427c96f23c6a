"""Wire format v1: every rule of the DESIGN.md table, accepted and rejected, by table."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from runtally.events import (
    InvalidEvent,
    RunEvent,
    check_window,
    describe_error,
    json_schema,
    parse_event,
)

EVENT_ID = "0190a6f3-7b1c-7cc2-9d8e-1234567890ab"


def base(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": EVENT_ID,
        "agent": "support-bot",
        "model": "gpt-4o",
        "started_at": "2026-11-24T10:00:00Z",
        "duration_ms": 1500.0,
    }
    for key, value in changes.items():
        if value is ...:
            event.pop(key, None)
        else:
            event[key] = value
    return event


def parse(event: dict[str, Any]) -> RunEvent:
    return parse_event(json.dumps(event))


ACCEPTED = [
    ("minimal", base()),
    ("ended_at only", base(duration_ms=..., ended_at="2026-11-24T10:00:01.5Z")),
    ("both agree", base(ended_at="2026-11-24T11:00:01.500+01:00")),
    ("zero duration", base(duration_ms=0)),
    ("integer duration", base(duration_ms=12)),
    ("error with type", base(status="error", error_type="Timeout", error_message="x")),
    ("cache within input", base(input_tokens=100, cache_read_tokens=60, cache_write_tokens=40)),
    ("all optional ids", base(trace_id="t" * 128, session_id="s", user_id="u")),
    ("20 tags", base(tags={f"k{i}": "v" for i in range(20)})),
    ("metadata nested", base(metadata={"a": [1, 2, {"b": None}]})),
    ("project charset", base(project="Team_1.prod-eu")),
    ("cost number", base(cost_usd=0.0123)),
    ("ttft within duration", base(time_to_first_token_ms=1500)),
    ("end in 9999 in UTC too", base(duration_ms=..., ended_at="9999-12-31T23:00:00+05:00")),
]

REJECTED = [
    ("unknown field", base(temperature=0.2), "temperature: Extra inputs are not permitted"),
    ("missing agent", base(agent=...), "agent: Field required"),
    ("missing event_id", base(event_id=...), "event_id: Field required"),
    ("bad uuid", base(event_id="not-a-uuid"), "event_id"),
    ("empty agent", base(agent=""), "agent"),
    ("agent too long", base(agent="a" * 101), "agent"),
    ("model too long", base(model="m" * 101), "model"),
    ("bad project", base(project="has space"), "project"),
    ("project too long", base(project="p" * 65), "project"),
    ("naive started_at", base(started_at="2026-11-24T10:00:00"), "timezone"),
    ("date only", base(started_at="2026-11-24"), "started_at"),
    ("epoch number", base(started_at=1764000000), "started_at"),
    ("no end", base(duration_ms=...), "one of ended_at or duration_ms is required"),
    ("negative duration", base(duration_ms=-1), "duration_ms"),
    ("string duration", base(duration_ms="12"), "duration_ms"),
    ("disagree", base(ended_at="2026-11-24T10:00:05Z"), "disagrees"),
    ("ends before start", base(duration_ms=..., ended_at="2026-11-24T09:00:00Z"), "before"),
    ("bad status", base(status="failed"), "status"),
    ("error without type", base(status="error"), "error_type is required"),
    ("type without error", base(error_type="Timeout"), "only allowed"),
    ("float tokens", base(input_tokens=1.0), "input_tokens"),
    ("negative tokens", base(output_tokens=-1), "output_tokens"),
    ("string tokens", base(output_tokens="5"), "output_tokens"),
    ("bool tokens", base(output_tokens=True), "output_tokens"),
    ("cache over input", base(input_tokens=10, cache_read_tokens=11), "exceed input_tokens"),
    ("cache without input", base(cache_write_tokens=1), "exceed input_tokens"),
    ("cost string", base(cost_usd="0.1"), "cost_usd must be a JSON number"),
    ("negative cost", base(cost_usd=-0.1), "cost_usd"),
    ("ttft over duration", base(time_to_first_token_ms=2000), "exceeds duration_ms"),
    ("long trace id", base(trace_id="t" * 129), "trace_id"),
    ("21 tags", base(tags={f"k{i}": "v" for i in range(21)}), "at most 20 tags"),
    ("non-string tag", base(tags={"k": 1}), "tags.k"),
    ("metadata not object", base(metadata=[1]), "metadata"),
    ("nul in agent", base(agent="a\x00b"), "NUL character"),
    ("nul in user id", base(user_id="\x00"), "NUL character"),
    ("nul in tag", base(tags={"k": "v\x00"}), "NUL character"),
    ("nul in metadata", base(metadata={"k": ["x\x00"]}), "NUL character"),
    ("metadata too big", base(metadata={"x": "y" * 17000}), "limit 16384"),
    # Past the last storable instant: a reason, never an OverflowError out of parse_event.
    ("end past year 9999", base(duration_ms=1e18), "after 9999-12-31 in UTC"),
    ("end far past 9999", base(duration_ms=1e300), "after 9999-12-31 in UTC"),
    ("end past 9999 in UTC", base(duration_ms=..., ended_at="9999-12-31T23:00:00-05:00"),
     "after 9999-12-31 in UTC"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "event"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted(name: str, event: dict[str, Any]) -> None:
    parsed = parse(event)
    assert parsed.ended == parsed.started_at + timedelta(milliseconds=parsed.duration)


@pytest.mark.parametrize(("name", "event", "reason"), REJECTED, ids=[r[0] for r in REJECTED])
def test_rejected_with_reason(name: str, event: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse(event)
    assert reason in info.value.reason


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[]",
        b"null",
        b'{"duration_ms": NaN}',
        json.dumps(base()).replace("1500.0", "Infinity").encode(),
        json.dumps(base()).replace("1500.0", "1e400").encode(),
        b"\xff\xfe",
    ],
)
def test_rejects_non_objects_and_non_finite_numbers(raw: bytes) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event(raw)
    assert info.value.reason


def test_defaults_and_derivation() -> None:
    event = parse(base(duration_ms=..., ended_at="2026-11-24T10:00:02.250Z"))
    assert event.project == "default"
    assert event.status == "success"
    assert event.duration == pytest.approx(2250.0)
    assert event.ended.tzinfo is not None


def test_error_message_is_cut_not_rejected() -> None:
    event = parse(base(status="error", error_type="E", error_message="x" * 5000))
    assert event.error_message == "x" * 1000


def test_cost_keeps_its_decimal_form_and_round_trips_as_a_number() -> None:
    event = parse(base(cost_usd=0.1))
    assert event.cost_usd == Decimal("0.1")
    wire = json.loads(event.to_wire())
    assert wire["cost_usd"] == 0.1
    assert parse_event(event.to_wire()) == event


def test_reason_names_every_failing_field() -> None:
    with pytest.raises(InvalidEvent) as info:
        parse(base(agent=..., model="", input_tokens=-1))
    reason = info.value.reason
    assert "agent" in reason
    assert "model" in reason
    assert "input_tokens" in reason


NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("started", "expected"),
    [
        (NOW, None),
        (NOW + timedelta(seconds=899), None),
        (NOW + timedelta(seconds=901), "in the future"),
        (NOW - timedelta(days=29, hours=23), None),
        (NOW - timedelta(days=30, seconds=1), "older than raw retention"),
    ],
)
def test_window(started: datetime, expected: str | None) -> None:
    event = parse(base(started_at=started.isoformat()))
    reason = check_window(event, NOW, clock_skew_s=900, retention_days=30)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None
        assert expected in reason


def test_schema_file_is_current(repo_root: Path) -> None:
    stored = json.loads((repo_root / "schema" / "run-event.v1.json").read_text())
    assert stored == json_schema(), "schema/run-event.v1.json is stale: run `make schema`"


def test_schema_forbids_unknown_fields_and_needs_an_end() -> None:
    schema = json_schema()
    assert schema["additionalProperties"] is False
    assert {"required": ["duration_ms"]} in schema["anyOf"]
    assert set(schema["required"]) == {"event_id", "agent", "model", "started_at"}


def test_event_ids_are_uuids() -> None:
    event = parse(base(event_id=str(uuid.UUID(int=5))))
    assert event.event_id.int == 5


# The consistency rules word their reasons exactly so (one line each, checked in full:
# the validator that raises them is tuned for speed and must not change a word).
EXACT_REASONS = [
    (
        base(input_tokens=10, cache_read_tokens=7, cache_write_tokens=5),
        "event: cache_read_tokens + cache_write_tokens (12) exceed input_tokens (10); "
        "cached tokens are part of input_tokens",
    ),
    (
        base(cache_write_tokens=1),
        "event: cache_read_tokens + cache_write_tokens (1) exceed input_tokens (None); "
        "cached tokens are part of input_tokens",
    ),
    (
        base(time_to_first_token_ms=1500.5),
        "event: time_to_first_token_ms (1500.5) exceeds duration_ms (1500.0)",
    ),
    (
        base(duration_ms=..., ended_at="2026-11-24T10:00:00.250Z", time_to_first_token_ms=300),
        "event: time_to_first_token_ms (300.0) exceeds duration_ms (250.0)",
    ),
    (
        base(ended_at="2026-11-24T10:00:05Z"),
        "event: duration_ms (1500.0) disagrees with ended_at - started_at (5000.000 ms)",
    ),
    (
        base(duration_ms=..., ended_at="2026-11-24T09:59:59.999Z"),
        "event: ended_at is before started_at",
    ),
    (base(duration_ms=...), "event: one of ended_at or duration_ms is required"),
    (base(status="error"), "event: error_type is required when status is 'error'"),
    (base(error_type="Timeout"), "event: error_type is only allowed when status is 'error'"),
    # project has no NUL validator of its own: its pattern refuses U+0000 first.
    (base(project="a\x00b"), "project: String should match pattern '^[A-Za-z0-9_.-]{1,64}$'"),
    (
        base(agent="a\x00", model="", input_tokens=-1, tags={"k": "\x00"}),
        "agent: contains a NUL character (U+0000), which cannot be stored; "
        "model: String should have at least 1 character; "
        "input_tokens: Input should be greater than or equal to 0; "
        "tags: contains a NUL character (U+0000), which cannot be stored",
    ),
    (
        base(model="m\x00", status="error", error_type="\x00", error_message="\x00",
             trace_id="\x00", session_id="\x00", user_id="\x00"),
        "; ".join(
            f"{name}: contains a NUL character (U+0000), which cannot be stored"
            for name in ("model", "error_type", "error_message", "trace_id", "session_id",
                         "user_id")
        ),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("event", "reason"), EXACT_REASONS)
def test_rejected_with_exactly_this_reason(event: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse(event)
    assert info.value.reason == reason


def test_parse_event_is_model_validate_json() -> None:
    """``parse_event`` calls the model's validator directly: same events, same errors."""
    for _, event in ACCEPTED:
        text = json.dumps(event)
        parsed = parse_event(text)
        expected = RunEvent.model_validate_json(text)
        assert parsed == expected
        assert type(parsed) is RunEvent
        assert parsed.model_fields_set == expected.model_fields_set
        assert parse_event(text.encode()) == expected
    for _, event, _ in REJECTED:
        text = json.dumps(event)
        with pytest.raises(InvalidEvent) as info:
            parse_event(text)
        with pytest.raises(ValidationError) as error:
            RunEvent.model_validate_json(text)
        assert info.value.reason == describe_error(error.value)


def test_derived_fields_count_as_set() -> None:
    """The derived end (or duration) is a set field, as if the publisher had sent it."""
    derived_end = parse(base())
    assert {"ended_at", "duration_ms"} <= derived_end.model_fields_set
    derived_duration = parse(base(duration_ms=..., ended_at="2026-11-24T10:00:01Z"))
    assert {"ended_at", "duration_ms"} <= derived_duration.model_fields_set
    assert derived_duration.duration == 1000.0


def test_metadata_size_counts_compact_utf8() -> None:
    # 16384 bytes exactly: {"x":"…"} is 8 bytes of syntax plus the value's UTF-8 bytes.
    fits = parse(base(metadata={"x": "é" * ((16384 - 8) // 2)}))
    assert fits.metadata is not None
    with pytest.raises(InvalidEvent) as info:
        parse(base(metadata={"x": "é" * ((16384 - 8) // 2) + "y"}))
    assert info.value.reason == "metadata: metadata is 16385 bytes serialized, limit 16384"
