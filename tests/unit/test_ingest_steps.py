"""Pure steps of ingest: decode, batch bounds, backoff, write-path helpers, reason kinds."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from runtally.backoff import Backoff
from runtally.events import RunEvent, parse_event
from runtally.ingest.batch import Batch
from runtally.ingest.decode import Rejection, Window, decode_entry
from runtally.ingest.metrics import reason_kind
from runtally.ingest.prepare import priced_record
from runtally.ingest.store import describe_db_error
from runtally.store.writes import COLUMNS, dedupe, hour_of, touched_hours
from runtally.stream import DeadLetter, Entry, dead_fields, id_key, next_id
from tests.ingest_support import FixedPrices, event_dict, malformed_corpus, payload

NOW = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
WINDOW = Window(NOW, clock_skew_s=900, retention_days=30)


def entry(fields: dict[bytes, bytes], deliveries: int = 1) -> Entry:
    return Entry("1-0", fields, deliveries)


def test_valid_entry_decodes_to_the_event_sent() -> None:
    sent = event_dict(3, NOW)
    decoded = decode_entry(entry({b"data": payload(sent)}), WINDOW)
    assert isinstance(decoded, RunEvent)
    assert str(decoded.event_id) == sent["event_id"]
    assert decoded.duration == sent["duration_ms"]


@pytest.mark.parametrize(("fields", "word"), malformed_corpus(NOW))
def test_malformed_entry_is_rejected_with_a_precise_reason(
    fields: dict[bytes, bytes], word: str
) -> None:
    decoded = decode_entry(entry(fields), WINDOW)
    assert isinstance(decoded, Rejection)
    assert word.lower() in decoded.reason.lower()


@pytest.mark.parametrize(
    ("offset", "stored"),
    [
        (timedelta(seconds=899), True),
        (timedelta(seconds=901), False),
        (-timedelta(days=29, hours=23), True),
        (-timedelta(days=30, seconds=1), False),
    ],
)
def test_window_bounds_follow_the_injected_clock(offset: timedelta, stored: bool) -> None:
    started = (NOW + offset).astimezone(timezone(timedelta(hours=5, minutes=30)))
    raw = payload(event_dict(1, NOW, started_at=started.isoformat()))
    decoded = decode_entry(entry({b"data": raw}), WINDOW)
    assert isinstance(decoded, RunEvent) is stored


def test_batch_closes_when_full() -> None:
    batch = Batch(max_size=3, max_wait_s=10)
    assert not batch.ready(0.0)
    assert batch.room == 3
    batch.add([entry({}), entry({})], now=1.0)
    assert not batch.ready(1.0)
    assert batch.room == 1
    batch.add([entry({})], now=1.5)
    assert batch.ready(1.5)
    assert batch.room == 0
    assert len(batch) == 3


def test_batch_closes_when_its_time_is_up_counting_from_the_first_entry() -> None:
    batch = Batch(max_size=100, max_wait_s=0.1)
    assert batch.remaining_s(50.0) == pytest.approx(0.1)  # empty: a whole wait
    assert not batch.ready(50.0)  # empty batches are never ready
    batch.add([entry({})], now=50.0)
    assert batch.remaining_s(50.04) == pytest.approx(0.06)
    assert not batch.ready(50.09)
    assert batch.ready(50.1)


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(cap_s=1.0, base_s=0.1, jitter=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(6)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.1)
    low = Backoff(cap_s=1.0, base_s=0.1, jitter=lambda: 0.0)
    assert low.next_delay() == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("stream_id", "after"),
    [("5-3", "5-4"), ("0-0", "0-1"), ("1700000000000-99", "1700000000000-100")],
)
def test_next_id(stream_id: str, after: str) -> None:
    assert next_id(stream_id) == after
    assert id_key(after) > id_key(stream_id)


def test_ids_sort_numerically() -> None:
    assert sorted(["10-0", "9-5", "9-10"], key=id_key) == ["9-5", "9-10", "10-0"]


def test_dead_fields_keep_the_payload_bytes_and_other_fields() -> None:
    raw = b"\xff not utf-8"
    letter = DeadLetter(Entry("7-1", {b"data": raw, b"x": b"y"}, deliveries=3), "why")
    fields = dead_fields(letter, "worker-1", NOW)
    assert fields[b"data"] == raw
    assert fields[b"orig:x"] == b"y"
    assert fields[b"reason"] == b"why"
    assert fields[b"source_id"] == b"7-1"
    assert fields[b"deliveries"] == b"3"
    assert fields[b"consumer"] == b"worker-1"
    assert datetime.fromisoformat(fields[b"dead_at"].decode()) == NOW


def _event(**overrides: object) -> RunEvent:
    return parse_event(json.dumps(event_dict(1, NOW, **overrides)))


def test_cost_from_the_event_wins_over_the_price_table() -> None:
    record = dict(zip(COLUMNS, priced_record(_event(cost_usd=0.5), FixedPrices()), strict=True))
    assert (record["cost_usd"], record["cost_source"], record["price_version"]) == (
        Decimal("0.5"),
        "event",
        None,
    )


def test_cost_from_the_price_table_when_absent_and_null_when_unpriced() -> None:
    priced = dict(
        zip(
            COLUMNS,
            priced_record(_event(model="gpt-4o", input_tokens=2000), FixedPrices()),
            strict=True,
        )
    )
    assert priced["cost_usd"] == Decimal("0.002")
    assert (priced["cost_source"], priced["price_version"]) == ("price_table", "test-1")
    unpriced = dict(
        zip(COLUMNS, priced_record(_event(model="mystery-model"), FixedPrices()), strict=True)
    )
    assert (unpriced["cost_usd"], unpriced["cost_source"]) == (None, None)
    assert unpriced["price_version"] == "test-1"


def test_json_columns_are_sent_as_json_text() -> None:
    event = _event(tags={"a": "b"}, metadata={"x": [1, 2]})
    record = dict(zip(COLUMNS, priced_record(event, FixedPrices()), strict=True))
    assert json.loads(record["tags"]) == {"a": "b"}
    assert json.loads(record["metadata"]) == {"x": [1, 2]}


def test_dedupe_keeps_the_first_of_each_event_id() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    records = [(a, "first"), (b, "x"), (a, "second")]
    assert dedupe(records) == [(a, "first"), (b, "x")]


def test_touched_hours_are_utc_hours_per_project() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    times = [
        datetime(2026, 11, 24, 10, 59, 59, tzinfo=UTC),
        datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
        datetime(2026, 11, 24, 16, 45, tzinfo=ist),  # 11:15 UTC
    ]
    records = []
    for project, ts in [("a", times[0]), ("a", times[1]), ("a", times[2]), ("b", times[0])]:
        row = [None] * len(COLUMNS)
        row[COLUMNS.index("project")] = project
        row[COLUMNS.index("started_at")] = ts
        records.append(tuple(row))
    expected = {(p, hour_of(t)) for p, t in [("a", times[0]), ("a", times[2]), ("b", times[0])]}
    assert touched_hours(records) == expected
    assert hour_of(times[2]) == datetime(2026, 11, 24, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("entry has no 'data' field (fields: x)", "fields"),
        ("entry must have only the 'data' field, got: a, data", "fields"),
        ("data is not UTF-8: invalid start byte at byte 0", "encoding"),
        ("invalid event: agent: Field required", "invalid"),
        ("started_at 2030-01-01T00:00:00+00:00 is more than 900s in the future", "window"),
        ("delivered 6 times without being stored (max_deliveries 5)", "deliveries"),
        ("storage failed: DataError: boom", "storage"),
        ("something else", "other"),
    ],
)
def test_reason_kinds_are_few(reason: str, kind: str) -> None:
    assert reason_kind(reason) == kind


def test_db_errors_are_described_on_one_line() -> None:
    assert describe_db_error(ValueError("bad\n  value")) == "ValueError: bad value"
