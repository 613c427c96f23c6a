"""Reprice logic, pure, by tables: a rollup row from its own sums, windows, the model
filter, the report, and the effective table as text."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from runtally.cube import GroupKey
from runtally.pricing import parse_price_document
from runtally.pricing.listing import render_table
from runtally.reprice.plan import NOT_LINEAR, UNSPLIT, ModelFilter, Window, changed, reprice_tally
from runtally.reprice.report import Report
from runtally.tally import Tally

TABLE = parse_price_document(
    json.dumps(
        {
            "version": "t",
            "models": {
                "m": [
                    {"effective_from": "2026-01-01", "input": 1, "output": 2},
                    {"effective_from": "2026-02-01", "input": 3, "output": 4, "cache_read": 0.5},
                ],
                "fine": {"input": "0.0000001", "output": 1},
            },
        }
    ).replace('"0.0000001"', "0.0000001")
)
JAN = datetime(2026, 1, 15, 10, tzinfo=UTC)
FEB = datetime(2026, 2, 15, 10, tzinfo=UTC)
# 10 runs: 2 carried their cost ($5, 100 input + 10 output tokens), 1 had no tokens;
# the other 7 used 1000 input (200 cache reads) and 300 output tokens.
ROW = Tally(
    runs=10, input_tokens=1100, output_tokens=310, cache_read_tokens=200,
    cost_usd=Decimal(7), unpriced_runs=3, event_runs=2, event_cost_usd=Decimal(5),
    event_input_tokens=100, event_output_tokens=10, tokenless_runs=1, price_versions={"old"},
)  # fmt: skip
M = Decimal(1_000_000)


@pytest.mark.parametrize(
    ("model", "bucket", "row", "cost", "unpriced", "left"),
    [
        # January: (1000 - 200) * 1 + 200 * 1 (cache read as input) + 300 * 2
        ("m", JAN, ROW, 5 + (800 + 200 + 600) / M, 1, None),
        # February: 800 * 3 + 200 * 0.5 + 300 * 4
        ("m", FEB, ROW, 5 + (2400 + 100 + 1200) / M, 1, None),
        # before the first entry, and an unknown model: only the carried cost is left
        ("m", datetime(2025, 12, 31, 23, tzinfo=UTC), ROW, Decimal(5), 8, None),
        ("other", FEB, ROW, Decimal(5), 8, None),
        # not exact from sums: left as it is, with the reason
        ("fine", FEB, ROW, Decimal(7), 3, NOT_LINEAR),
        ("m", FEB, replace(ROW, unsplit_runs=10), Decimal(7), 3, UNSPLIT),
    ],
)
def test_rollup_row_repriced_from_its_own_sums(
    model: str, bucket: datetime, row: Tally, cost: Decimal, unpriced: int, left: str | None
) -> None:
    priced = reprice_tally(TABLE, GroupKey(bucket, "a", model, ""), row)
    assert priced.tally.cost_usd == cost
    assert priced.tally.unpriced_runs == unpriced
    assert priced.left_because == left
    assert priced.repriceable_runs == 8
    assert priced.tally.price_versions == ({"old"} if left else {TABLE.version})
    assert row.cost_usd == 7  # the input row is not changed


def test_a_row_of_carried_costs_only_has_no_price_version() -> None:
    row = replace(ROW, runs=2, tokenless_runs=0, input_tokens=100, output_tokens=10,
                  cache_read_tokens=0, unpriced_runs=0)  # fmt: skip
    priced = reprice_tally(TABLE, GroupKey(FEB, "a", "m", ""), row)
    assert priced.tally.cost_usd == 5
    assert priced.tally.price_versions == set()


@pytest.mark.parametrize(
    ("first", "last", "start", "end"),
    [
        (date(2026, 1, 1), date(2026, 1, 1), datetime(2026, 1, 1, tzinfo=UTC),
         datetime(2026, 1, 2, tzinfo=UTC)),
        (None, date(2026, 1, 31), datetime.min.replace(tzinfo=UTC),
         datetime(2026, 2, 1, tzinfo=UTC)),
        (date(2026, 1, 1), None, datetime(2026, 1, 1, tzinfo=UTC),
         datetime.max.replace(tzinfo=UTC)),
    ],
)  # fmt: skip
def test_window_from_inclusive_days(
    first: date | None, last: date | None, start: datetime, end: datetime
) -> None:
    window = Window.of_dates(first, last, None)
    assert (window.start, window.end) == (start, end)


@pytest.mark.parametrize(
    ("name", "stored", "matches"),
    [
        (None, "anything", True),
        ("m", "m", True),
        ("m", "M-2026-01-01", True),  # resolves to the same entry
        ("m", "fine", False),
        ("my-own", "my-own", True),  # not in the table, but the stored name is equal
        ("my-own", "my-own-2", False),
    ],
)
def test_model_filter(name: str | None, stored: str, matches: bool) -> None:
    assert ModelFilter(name, TABLE).matches(stored) is matches


@pytest.mark.parametrize(
    ("before", "after", "result"),
    [
        (None, None, False),
        (None, Decimal(0), True),
        (Decimal(0), None, True),
        (Decimal("1.000000000000"), Decimal(1), False),
        (Decimal(1), Decimal(2), True),
    ],
)
def test_changed(before: Decimal | None, after: Decimal | None, result: bool) -> None:
    assert changed(before, after) is result


def test_report_renders_per_model_lines_a_total_and_what_was_left() -> None:
    report = Report("t+abc", applied=False)
    report.line("b").add(3, Decimal("1.5"), Decimal(2), True)
    report.line("a").add(1, None, Decimal("0.25"), True)
    report.line("a").add(1, Decimal(1), Decimal(1), False)
    report.leave(NOT_LINEAR, 4)
    lines = report.render().splitlines()
    cells: list[Any] = [line.split() for line in lines[:4]]
    assert cells[0] == ["model", "runs", "changed", "cost", "before", "cost", "after"]
    assert cells[1] == ["a", "2", "1", "1.000000000000", "1.250000000000"]
    assert cells[2] == ["b", "3", "3", "1.500000000000", "2.000000000000"]
    assert cells[3] == ["total", "5", "4", "2.500000000000", "3.250000000000"]
    assert lines[4] == "price table t+abc: dry run, nothing changed"
    assert lines[5] == f"not repriced: 4 runs ({NOT_LINEAR}); left as they were"
    assert report.changed == 4


def test_price_listing_shows_every_entry_and_the_version() -> None:
    text = render_table(TABLE, "prices.json")
    lines = text.splitlines()
    assert lines[0] == f"price table {TABLE.version} (prices.json); USD per 1M tokens"
    rows = [line.split() for line in lines[2:]]
    assert ["fine", "always", "0.0000001", "as", "input", "as", "input", "1"] in rows
    assert ["m", "2026-01-01", "1", "as", "input", "as", "input", "2"] in rows
    assert ["m", "2026-02-01", "3", "0.5", "as", "input", "4"] in rows
    assert render_table(TABLE, "x", model="M-2026").count("\n") == 3
    with pytest.raises(LookupError, match="no price for model 'nope' in x"):
        render_table(TABLE, "x", model="nope")
