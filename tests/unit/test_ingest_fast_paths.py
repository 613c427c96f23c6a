"""Ingest's per-event shortcuts agree with the plain definitions they replace.

Each step below runs once per ingested event and is written for speed (records from the
field dict, epoch hours from a timedelta); these tests pin them to the straightforward
form.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from runtally.events import RunEvent, parse_event
from runtally.store.writes import COLUMNS, RunRecord, run_record, tags_json, touched_hours
from tests.ingest_support import event_dict, payload

NOW = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
OFFSETS = [timezone(timedelta(hours=h, minutes=m)) for h, m in [(0, 0), (5, 30), (-7, 0), (13, 45)]]
US = timedelta(microseconds=1)


# --- records ---------------------------------------------------------------------------


def _record_by_attributes(event: RunEvent, *priced: Any) -> RunRecord:
    """The row spelled out from the event's attributes (the definition of the record)."""
    cost, source, version = priced
    return (
        event.event_id, event.project, event.agent, event.model, event.started_at,
        event.ended, event.duration, event.status, event.error_type, event.error_message,
        event.input_tokens, event.output_tokens, event.cache_read_tokens,
        event.cache_write_tokens, event.time_to_first_token_ms, cost, source, version,
        event.trace_id, event.session_id, event.user_id, tags_json(event.tags),
        None if event.metadata is None else json.dumps(event.metadata),
    )  # fmt: skip


@pytest.mark.parametrize("i", range(24))
def test_run_record_equals_the_attributes_in_column_order(i: int) -> None:
    changes: dict[str, Any] = {"trace_id": f"t-{i}", "session_id": "s", "cache_read_tokens": 10}
    raw = event_dict(i, NOW, **changes)
    if i % 3 == 0:  # the end sent, the duration derived
        started = datetime.fromisoformat(raw["started_at"])
        raw["ended_at"] = (started + timedelta(milliseconds=raw.pop("duration_ms"))).isoformat()
    event = parse_event(payload(raw))
    priced = (None, None, "v1") if i % 2 else (event.cost_usd, "event", None)
    record = run_record(event, *priced)
    assert record == _record_by_attributes(event, *priced)
    assert len(record) == len(COLUMNS)


def _hours_by_timestamp(records: Sequence[RunRecord]) -> set[tuple[str, datetime]]:
    """The definition: UTC hour of each row's POSIX timestamp."""
    project, started = COLUMNS.index("project"), COLUMNS.index("started_at")
    return {
        (r[project], datetime.fromtimestamp(r[started].timestamp() // 3600 * 3600, UTC))
        for r in records
    }


def test_touched_hours_match_the_timestamp_definition() -> None:
    rng = random.Random(11)
    project, started = COLUMNS.index("project"), COLUMNS.index("started_at")
    base = datetime(2026, 11, 24, tzinfo=UTC)
    records = []
    for _ in range(3000):
        row: list[Any] = [None] * len(COLUMNS)
        row[project] = rng.choice("ab")
        at = base + timedelta(microseconds=rng.randint(-(10**11), 10**11))
        if rng.random() < 0.3:  # right at an hour boundary, or 1 µs either side
            at = at.replace(minute=0, second=0, microsecond=0) + US * rng.randint(-1, 1)
        row[started] = at.astimezone(rng.choice(OFFSETS))
        records.append(tuple(row))
    assert touched_hours(records) == _hours_by_timestamp(records)
    for _, hour in touched_hours(records):
        assert hour.tzinfo is UTC
