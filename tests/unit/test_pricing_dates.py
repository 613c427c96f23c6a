"""Prices with effective dates and the table's content version (pure, by tables)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from runtally.events import RunEvent
from runtally.pricing import PriceFileError, parse_price_document

DATED = {
    "version": "v",
    "models": {
        "m": [
            {"effective_from": "2026-03-01", "input": 2, "output": 8},
            {"effective_from": "2026-01-01", "input": 1, "output": 4},
        ],
        "flat": {"input": 3, "output": 3},
    },
}
TABLE = parse_price_document(json.dumps(DATED))


def at(*parts: int, tz: timezone = UTC) -> datetime:
    return datetime(*parts, tzinfo=tz)  # type: ignore[misc,arg-type]


@pytest.mark.parametrize(
    ("model", "moment", "input_price"),
    [
        ("m", at(2025, 12, 31, 23, 59), None),  # before the first entry: no price
        ("m", at(2026, 1, 1), Decimal(1)),  # a date is a UTC midnight
        ("m", at(2026, 2, 28, 23, 59, 59), Decimal(1)),
        ("m", at(2026, 3, 1), Decimal(2)),
        ("m", at(2026, 3, 1, 1, tz=timezone(timedelta(hours=2))), Decimal(1)),  # 23:00 UTC
        ("m", at(2030, 1, 1), Decimal(2)),
        ("m-2026-01-01", at(2026, 3, 5), Decimal(2)),  # names still normalise
        ("flat", at(1999, 1, 1), Decimal(3)),  # undated: in force at every moment
        ("unknown", at(2026, 3, 5), None),
    ],
)
def test_the_entry_in_force_at_a_moment(
    model: str, moment: datetime, input_price: Decimal | None
) -> None:
    price = TABLE.price_at(model, moment)
    assert (None if price is None else price.input) == input_price


def event(started_at: datetime, **fields: Any) -> RunEvent:
    return RunEvent(
        event_id=uuid4(), agent="a", model="m", started_at=started_at, duration_ms=1.0, **fields
    )


@pytest.mark.parametrize(
    ("started_at", "expected"),
    [
        (at(2025, 6, 1), None),
        (at(2026, 1, 15), Decimal(1_000_000 * 1 + 10 * 4) / 1_000_000),
        (at(2026, 4, 15), Decimal(1_000_000 * 2 + 10 * 8) / 1_000_000),
    ],
)
def test_an_event_is_priced_at_its_started_at(
    started_at: datetime, expected: Decimal | None
) -> None:
    cost, version = TABLE.cost(event(started_at, input_tokens=1_000_000, output_tokens=10))
    assert cost == expected
    assert version == TABLE.version


def version_of(document: dict[str, Any]) -> str:
    return parse_price_document(json.dumps(document)).version


def test_version_is_label_plus_content_digest() -> None:
    label, digest = TABLE.version.split("+")
    assert label == "v"
    assert len(digest) == 12
    assert int(digest, 16) >= 0


@pytest.mark.parametrize(
    ("change", "same"),
    [
        (lambda d: d["models"]["flat"].update(input=3.0), True),  # 3 == 3.0
        (lambda d: d["models"]["m"].reverse(), True),  # entry order does not matter
        (lambda d: d["models"]["flat"].update(input=4), False),
        (lambda d: d["models"]["m"][0].update(effective_from="2026-03-02"), False),
        (lambda d: d["models"].update(extra={"input": 1, "output": 1}), False),
        (lambda d: d["models"]["flat"].update(cache_read=3), False),  # explicit != missing
    ],
)
def test_version_changes_exactly_when_prices_change(change: Any, same: bool) -> None:
    document = json.loads(json.dumps(DATED))
    change(document)
    assert (version_of(document) == TABLE.version) is same


@pytest.mark.parametrize(
    ("models", "reason"),
    [
        ({"m": []}, "models.m must not be an empty list"),
        ({"m": [{"input": 1, "output": 1}]}, "models.m[0].effective_from is required"),
        ({"m": [{"effective_from": "2026-1-1", "input": 1, "output": 1}]}, "must be a date"),
        ({"m": [{"effective_from": "2026-02-30", "input": 1, "output": 1}]}, "is not a date"),
        ({"m": [{"effective_from": 20260101, "input": 1, "output": 1}]}, "must be a date"),
        ({"m": [{"effective_from": "2026-01-01T00:00:00Z", "input": 1, "output": 1}]},
         "must be a date YYYY-MM-DD"),
        ({"m": [{"effective_from": "2026-01-01", "input": 1, "output": 1},
                {"effective_from": "2026-01-01", "input": 2, "output": 2}]},
         "two entries effective from 2026-01-01"),
        ({"m": [{"effective_from": "2026-01-01", "input": 1}]}, "models.m[0].output is required"),
        ({"m": [{"effective_from": "2026-01-01", "input": -1, "output": 1}]},
         "models.m[0].input must be a number >= 0"),
        ({"m": {"effective_from": "2026-01-01", "input": 1, "output": 1}},
         "models.m has unknown field(s) effective_from"),
        ({"m": [3]}, "models.m[0] must be an object"),
    ],
)  # fmt: skip
def test_bad_dated_entries_say_where_and_why(models: dict[str, Any], reason: str) -> None:
    with pytest.raises(PriceFileError, match=re.escape(reason)):
        parse_price_document(json.dumps({"version": "v", "models": models}))
