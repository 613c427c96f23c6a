"""Ingest's per-event shortcuts agree with the plain definitions they replace.

Each step below runs once per ingested event and is written for speed (bytes straight to
the JSON parser, the window as offsets from ``now``, records from the field dict, epoch
hours from a timedelta, batch positions as offsets); these tests pin them to the
straightforward form.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from runtally.events import RunEvent, check_window, parse_event
from runtally.ingest.batch import Batch
from runtally.ingest.decode import Rejection, Window, decode_entry
from runtally.ingest.store import BatchStore, RowRejected
from runtally.store.writes import COLUMNS, RunRecord, run_record, tags_json, touched_hours
from runtally.stream import Entry
from tests.ingest_support import NoPool, event_dict, payload

NOW = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
WINDOW = Window(NOW, clock_skew_s=900, retention_days=30)
OFFSETS = [timezone(timedelta(hours=h, minutes=m)) for h, m in [(0, 0), (5, 30), (-7, 0), (13, 45)]]
US = timedelta(microseconds=1)


def entry(fields: dict[bytes, bytes]) -> Entry:
    return Entry("1-0", fields)


# --- window ----------------------------------------------------------------------------


@pytest.mark.parametrize("tz", OFFSETS, ids=str)
@pytest.mark.parametrize(
    "edge", [WINDOW.earliest, WINDOW.latest], ids=["retention edge", "skew edge"]
)
def test_window_agrees_with_check_window_to_the_microsecond(edge: datetime, tz: timezone) -> None:
    for shift in (-US, timedelta(0), US):
        started = (edge + shift).astimezone(tz)
        event = parse_event(json.dumps(event_dict(1, NOW, started_at=started.isoformat())))
        expected = check_window(event, NOW, clock_skew_s=900, retention_days=30)
        assert WINDOW.rejects(event) == expected
        assert (expected is None) == (WINDOW.earliest <= started <= WINDOW.latest)


# --- decode ----------------------------------------------------------------------------


def _utf8_reason(raw: bytes) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"data is not UTF-8: {exc.reason} at byte {exc.start}"
    raise AssertionError("the payload was meant to be invalid UTF-8")


@pytest.mark.parametrize(
    "bad", [b"\xff", b"\xc3", b"\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf"]
)
@pytest.mark.parametrize("where", ["agent", "tags", "metadata", "error_message"])
def test_invalid_utf8_inside_a_string_is_an_encoding_rejection(bad: bytes, where: str) -> None:
    """The JSON parser takes the bytes; it must refuse what a UTF-8 decode refuses."""
    event = event_dict(
        2,
        NOW,
        agent="MARK",
        tags={"k": "MARK"},
        metadata={"m": "MARK"},
        status="error",
        error_type="E",
        error_message="MARK",
    )
    text = json.dumps(event)
    start = text.index("MARK", text.index(f'"{where}"'))
    raw = text[:start].encode() + b"MA" + bad + b"RK" + text[start + 4 :].encode()
    decoded = decode_entry(entry({b"data": raw}), WINDOW)
    assert decoded == Rejection(_utf8_reason(raw))


def test_bytes_and_text_decode_alike() -> None:
    for i in range(40):
        raw = json.dumps(event_dict(i, NOW), ensure_ascii=i % 2 == 0).encode()
        decoded = decode_entry(entry({b"data": raw}), WINDOW)
        assert decoded == parse_event(raw.decode())


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, "entry has no 'data' field (fields: none)"),
        ({b"payload": b"{}"}, "entry has no 'data' field (fields: payload)"),
        (
            {b"data": b"{}", b"extra": b"1"},
            "entry must have only the 'data' field, got: data, extra",
        ),
        (
            {f"f{i}".encode(): b"" for i in range(7)},
            "entry has no 'data' field (fields: f0, f1, f2, f3, f4, ...)",
        ),
        ({b"data": b"", b"\xff": b""}, "entry must have only the 'data' field, got: data, \ufffd"),
    ],
)  # fmt: skip
def test_field_problems_word_exactly(fields: dict[bytes, bytes], reason: str) -> None:
    assert decode_entry(entry(fields), WINDOW) == Rejection(reason)


# --- batch -----------------------------------------------------------------------------


def test_batch_opens_with_its_first_entry_not_with_an_empty_read() -> None:
    batch = Batch(max_size=10, max_wait_s=1.0)
    batch.add([], now=5.0)
    assert batch.opened_at is None
    batch.add(iter([entry({}), entry({})]), now=6.0)
    batch.add([entry({})], now=7.0)
    assert batch.opened_at == 6.0
    assert len(batch) == 3


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


@pytest.mark.parametrize(
    "sent",
    [
        "2026-11-24T10:15:30.250+05:30",
        "2026-11-23T20:45:30.25-08:00",
        "2026-11-24T04:45:30.250Z",
        "2026-11-24T04:45:30.25+00:00",
    ],
)
def test_record_timestamps_are_the_sent_instants_in_utc(sent: str) -> None:
    event = parse_event(payload(event_dict(1, NOW, started_at=sent, duration_ms=1500.0)))
    record = run_record(event, None, None, None)
    started, ended = record[COLUMNS.index("started_at")], record[COLUMNS.index("ended_at")]
    expected = datetime(2026, 11, 24, 4, 45, 30, 250_000, tzinfo=UTC)  # by hand
    assert (started, ended) == (expected, expected + timedelta(milliseconds=1500))
    assert started.tzinfo is UTC
    assert ended.tzinfo is UTC
    assert started.isoformat() == "2026-11-24T04:45:30.250000+00:00"


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


# --- isolating poison rows ---------------------------------------------------------------


class _PoisonStore(BatchStore):
    """Commits in memory; any batch holding a poison record is refused whole."""

    def __init__(self, poison: set[int]) -> None:
        super().__init__(pool=NoPool())
        self.poison = poison
        self.stored: list[int] = []

    async def commit(self, records: Sequence[RunRecord]) -> int:
        bad = [r[0] for r in records if r[0] in self.poison]
        if bad:
            raise RowRejected(f"poison {bad[0]}")
        self.stored += [r[0] for r in records]
        return len(records)


@pytest.mark.parametrize("poison", [set(), {0}, {7}, {12}, {0, 12}, {3, 4, 5}, set(range(13))])
async def test_isolation_names_each_poison_row_by_position(poison: set[int]) -> None:
    ids = [uuid.UUID(int=n) for n in range(13)]
    store = _PoisonStore({ids[n].int for n in poison})
    records = [(uid.int, "row") for uid in ids]
    outcome = await store.commit_isolating(records)
    assert outcome.rejected == {n: f"poison {n}" for n in poison}
    assert outcome.new == 13 - len(poison)
    assert sorted(store.stored) == [n for n in range(13) if n not in poison]
