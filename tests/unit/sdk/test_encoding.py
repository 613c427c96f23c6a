"""encode_event: every event a caller hands over becomes wire JSON, or a clear error."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from runtally.events import parse_event
from runtally.sdk.encoding import encode_event
from tests.unit.sdk.support import event_dict


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
