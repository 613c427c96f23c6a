"""Differential test: ingest's msgspec fast path against the pydantic model it speeds up.

``fast.fast_record`` may answer only where the pydantic path (``decode_entry`` then
``priced_record``) accepts, and then with the very same row, value for value and type
for type (compared by ``repr``; the tags and metadata texts as the JSON values they
spell). Everything else it must hand back (``None``), so every rejection keeps
pydantic's reason unchanged. Inputs: the malformed corpus the ingest
tests use, the accepted/rejected tables of the event tests, and generated events,
spellings and byte mutations (hypothesis).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtally.events import RunEvent
from runtally.ingest.decode import Rejection, Window, decode_entry
from runtally.ingest.fast import Wire, fast_record
from runtally.ingest.prepare import Pricer, priced_record
from runtally.pricing import builtin_price_table
from runtally.store.writes import RunRecord
from runtally.stream import Entry
from tests.ingest_support import FixedPrices, event_dict, malformed_corpus, payload
from tests.unit.test_events import ACCEPTED, REJECTED

NOW = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
WINDOW = Window(NOW, clock_skew_s=900, retention_days=30)
PRICERS: list[Pricer] = [builtin_price_table(), FixedPrices()]
SETTINGS = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def slow_path(raw: bytes, window: Window, prices: Pricer) -> RunRecord | str:
    """What ingest did before the fast path: the row, or the dead-letter reason."""
    decoded = decode_entry(Entry("1-0", {b"data": raw}), window)
    if isinstance(decoded, Rejection):
        return decoded.reason
    return priced_record(decoded, prices)


def check(raw: bytes, window: Window = WINDOW) -> bool:
    """Assert the contract for ``raw`` under every pricer; whether the fast path answered."""
    answered = False
    for prices in PRICERS:
        fast = fast_record(raw, window, prices)
        if fast is None:
            continue
        answered = True
        slow = slow_path(raw, window, prices)
        assert not isinstance(slow, str), f"fast path accepted what pydantic rejects: {slow}"
        assert repr(fast[:-2]) == repr(slow[:-2])
        # tags and metadata: the same JSON value (types and key order too), so same jsonb.
        assert [None if t is None else repr(json.loads(t)) for t in fast[-2:]] == [
            None if t is None else repr(json.loads(t)) for t in slow[-2:]
        ]
    return answered


def test_fields_are_the_models() -> None:
    """A field added to ``RunEvent`` must be added to the fast path (or it drops it)."""
    assert set(Wire.__struct_fields__) == set(RunEvent.model_fields)


def test_the_fast_path_answers_for_ordinary_events() -> None:
    """Else it would silently never run: valid events of every test shape take it."""
    for i in range(200):
        assert check(payload(event_dict(i, NOW))), event_dict(i, NOW)
    for _, event in ACCEPTED:
        started = datetime.fromisoformat(event["started_at"])
        window = Window(started, clock_skew_s=900, retention_days=30)
        assert check(json.dumps(event).encode(), window), event


@pytest.mark.parametrize("offset", ["+05:60", "-00:75", "+01:99"])
def test_offset_minutes_beyond_59_take_the_pydantic_path(offset: str) -> None:
    """``fromisoformat`` reads '+05:60' as +06:00; pydantic refuses it (found by the
    generated events): the fast path must not answer, so the reason stays pydantic's."""
    event = event_dict(0, NOW)
    event["started_at"] = NOW.strftime("%Y-%m-%dT%H:%M:%S") + offset
    raw = payload(event)
    assert all(fast_record(raw, WINDOW, prices) is None for prices in PRICERS)
    reason = slow_path(raw, WINDOW, PRICERS[0])
    assert isinstance(reason, str), reason
    assert "timezone minute" in reason


def test_malformed_corpus_and_rejection_tables_take_the_pydantic_path() -> None:
    for fields, _ in malformed_corpus(NOW):
        raw = fields.get(b"data")
        if raw is not None:
            for prices in PRICERS:
                if len(fields) == 1:
                    assert fast_record(raw, WINDOW, prices) is None, raw
    # The tables' events start at 2026-11-24T10:00Z (test_events.base).
    window = Window(datetime(2026, 11, 24, 10, tzinfo=UTC), clock_skew_s=900, retention_days=30)
    for _, event, _ in REJECTED:
        for prices in PRICERS:
            assert fast_record(json.dumps(event).encode(), window, prices) is None, event


# --- generated inputs ------------------------------------------------------------------

DIGITS = st.integers(0, 99).map(lambda n: f"{n:02d}")


@st.composite
def instants(draw: st.DrawFn) -> str:
    """Timestamps near NOW in many spellings, valid and not."""
    moment = NOW - timedelta(microseconds=draw(st.integers(-2 * 3600 * 10**6, 35 * 86400 * 10**6)))
    text = moment.strftime("%Y-%m-%d") + draw(st.sampled_from("TTt _"))
    text += moment.strftime("%H:%M:%S")
    fraction = f"{moment.microsecond:06d}" + draw(st.sampled_from(["", "9", "123", "999"]))
    digits = draw(st.integers(0, len(fraction)))
    if digits:
        text += draw(st.sampled_from(".,")) + fraction[:digits]
    zone = draw(st.sampled_from(["Z", "Z", "z", "", "+HH:MM", "-HH:MM", "+HHMM", "+HH"]))
    zone = zone.replace("HH", draw(DIGITS | st.sampled_from(["00", "05", "23"])))
    zone = zone.replace("MM", draw(DIGITS | st.sampled_from(["00", "30", "45"])))
    return text + zone


NAMES = st.text(max_size=3) | st.sampled_from(["gpt-4o", "claude-sonnet-4", "a" * 100, "a" * 101])
TOKENS = st.none() | st.integers(-2, 5000) | st.sampled_from([10**12, 10**12 + 1, 2**64, True])
MILLIS = (
    st.none()
    | st.floats(allow_nan=False, allow_infinity=False, min_value=-1, max_value=1e7)
    | st.integers(-1, 10**7)
    | st.sampled_from([-0.0, 0, 1e18, 1e300, 2**70, "12"])
)
JSON_LEAF = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
JSON_ANY = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)
OPTIONAL: dict[str, st.SearchStrategy[Any]] = {
    "project": st.sampled_from(["default", "p1", "bad project", "a" * 65, "x\n", ""]),
    "ended_at": instants(),
    "duration_ms": MILLIS,
    "status": st.sampled_from(["success", "error", "maybe", None]),
    "error_type": st.none() | NAMES,
    "error_message": st.none() | st.text(max_size=5) | st.just("m" * 1200),
    "input_tokens": TOKENS,
    "output_tokens": TOKENS,
    "cache_read_tokens": TOKENS,
    "cache_write_tokens": TOKENS,
    "time_to_first_token_ms": MILLIS,
    "cost_usd": MILLIS | st.sampled_from([0.1, 1e6, 1000001, 1e-30, "0.1"]),
    "trace_id": st.none() | NAMES | st.just("t" * 129),
    "session_id": st.none() | NAMES,
    "user_id": st.none() | NAMES,
    "tags": st.none()
    | st.dictionaries(st.text(max_size=3) | st.just("k" * 65), st.text(max_size=3), max_size=22)
    | st.dictionaries(st.text(max_size=2), JSON_LEAF, max_size=2),
    "metadata": st.none() | st.dictionaries(st.text(max_size=4), JSON_ANY, max_size=4) | JSON_ANY,
    "unknown": st.integers(),
}
UUIDS = st.uuids().flatmap(
    lambda u: st.sampled_from([str(u), str(u).upper(), u.hex, f"{{{u}}}", f"urn:uuid:{u}"])
)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event (``event_dict``) with a few fields changed, added or removed."""
    event = event_dict(draw(st.integers(0, 10_000)), NOW)
    if draw(st.booleans()):
        event["event_id"] = draw(UUIDS)
    changes = {**OPTIONAL, "agent": NAMES, "model": NAMES, "started_at": instants()}
    for key in draw(st.lists(st.sampled_from(sorted(changes)), unique=True, max_size=3)):
        event[key] = draw(changes[key])
    for key in draw(st.lists(st.sampled_from(sorted(event)), unique=True, max_size=1)):
        del event[key]
    return event


def spell(event: dict[str, Any], ascii_only: bool, compact: bool) -> bytes:
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(event, ensure_ascii=ascii_only, separators=separators).encode()


@SETTINGS
@given(events(), st.booleans(), st.booleans())
def test_generated_events(event: dict[str, Any], ascii_only: bool, compact: bool) -> None:
    check(spell(event, ascii_only, compact))


@SETTINGS
@given(
    st.integers(0, 10_000),
    st.sampled_from(sorted(RunEvent.model_fields)),
    st.data(),
)
def test_duplicate_keys(i: int, key: str, data: st.DataObject) -> None:
    """A key sent twice: both parsers must read the same (last) value, or refuse."""
    event = event_dict(i, NOW)
    other = OPTIONAL.get(key, NAMES)
    second = event.get(key) if data.draw(st.booleans()) else data.draw(other)
    text = payload(event)[:-1] + b", " + json.dumps({key: second}).encode()[1:]
    check(text)


@SETTINGS
@given(
    st.integers(0, 10_000),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255), st.integers(0, 2)), max_size=3),
)
def test_byte_mutations(i: int, edits: list[tuple[int, int, int]]) -> None:
    """Valid payloads with bytes deleted, replaced or inserted."""
    raw = bytearray(payload(event_dict(i, NOW, event_id=str(uuid.UUID(int=i)))))
    for where, byte, kind in edits:
        at = where % len(raw)
        if kind == 0:
            del raw[at]
        elif kind == 1:
            raw[at] = byte
        else:
            raw.insert(at, byte)
    check(bytes(raw))


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E999"])
@pytest.mark.parametrize("key", ["duration_ms", "time_to_first_token_ms", "cost_usd"])
def test_non_finite_numbers(number: str, key: str) -> None:
    event = {**event_dict(3, NOW, duration_ms=1e9), key: 12345.5}
    raw = payload(event).replace(b"12345.5", number.encode())
    assert number.encode() in raw
    assert not check(raw)


@pytest.mark.parametrize("depth", [50, 60, 100, 190, 200, 1500])
def test_deep_metadata(depth: int) -> None:
    text = json.dumps(event_dict(1, NOW))[:-1]
    check(f'{text}, "metadata": {{"a": {"[" * depth}{"]" * depth}}}}}'.encode())


@pytest.mark.parametrize(
    "value", ["\x00", "a\\u0000", "\ud800", "\udc00x", "\U0001f600", "é", "\u2028", "\x7f"]
)
def test_escapes_and_awkward_characters(value: str) -> None:
    for key in ("agent", "user_id", "error_message"):
        event = event_dict(1, NOW, status="error", error_type="E", **{key: value})
        check(json.dumps(event).encode())
        check(json.dumps(event, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    check(payload(event_dict(1, NOW, tags={value: value}, metadata={value: [value]})))


def _at(ms: float) -> str:
    return (NOW - timedelta(minutes=5) + timedelta(milliseconds=ms)).isoformat()


EDGES: list[dict[str, Any]] = [
    *({"status": "error", "error_type": "E", "error_message": "m" * n}
      for n in (999, 1000, 1001, 1200)),
    *({"status": s, "error_type": t} for s in ("success", "error", "maybe", "Error", None)
      for t in (None, "E", ...)),
    *({"tags": {"k": "v" * n}} for n in (255, 256, 257)),
    *({"tags": {"k" * n: "v"}} for n in (0, 1, 64, 65)),
    *({"tags": {f"k{i}": "v" for i in range(n)}} for n in (0, 19, 20, 21)),
    *({"agent": "a" * n} for n in (0, 1, 100, 101)),
    *({"error_type": "e" * n, "status": "error"} for n in (0, 1, 100, 101)),
    *({"user_id": "u" * n} for n in (0, 1, 128, 129)),
    *({"project": "p" * n} for n in (0, 1, 64, 65)),
    *({"input_tokens": n, "cache_read_tokens": 5} for n in (4, 5, 10**12, 10**12 + 1)),
    *({"output_tokens": n} for n in (-1, 0, 10**12, 10**12 + 1, 2**63, 2**64)),
    *({"cost_usd": c} for c in (0, -0.0, 1e-7, 0.1, 999999.99, 1e6, 1000000, 1000001, 1e6 + 0.01)),
    *({"started_at": _at(0), "ended_at": _at(1000 + d), "duration_ms": 1000.0}
      for d in (-2, -1.001, -1, -0.999, 0, 0.999, 1, 1.001, 1.5, 2)),
    *({"started_at": _at(0), "ended_at": _at(d), "duration_ms": ...}
      for d in (-1, -0.001, 0, 0.001)),
    *({"duration_ms": 500, "time_to_first_token_ms": t} for t in (0, 499.999, 500, 500.001, 501)),
]  # fmt: skip


@pytest.mark.parametrize("change", EDGES)
def test_edges_of_every_rule(change: dict[str, Any]) -> None:
    """Each rule at its bounds, in the plain spelling: the fast path answers exactly
    where pydantic accepts, with the same row."""
    event = event_dict(8, NOW, status="success", error_type=None)
    event.pop("error_type")
    for key, value in change.items():
        if value is ...:
            event.pop(key, None)
        else:
            event[key] = value
    raw = payload(event)
    accepted = not isinstance(slow_path(raw, WINDOW, PRICERS[0]), str)
    assert check(raw) == accepted
