"""What to reprice and what things cost now (pure).

A run whose cost the event carried (``cost_source = 'event'``) is never repriced. Any
other run costs what the current table says at its ``started_at`` (``None``: unpriced).

A rollup row past raw retention is repriced from its own sums: its event-carried part
(runs, cost, tokens) is kept and the rest of its tokens are priced at the bucket's
start. That is exact because a price entry holds for whole UTC days (``effective_from``
is a date) and a run's cost is linear in its tokens with no rounding when every price
has at most 6 decimal places. Where that does not hold, the row is left as it is and
the reason is returned, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from runtally.cube import GroupKey
from runtally.pricing import PriceTable, is_linear
from runtally.tally import Tally

NOT_LINEAR = "a price with more than 6 decimal places rounds per run"
UNSPLIT = "rolled up before migration 0003 kept the cost split"


@dataclass(frozen=True)
class Window:
    """Runs with ``start <= started_at < end`` (UTC), optionally of one model."""

    start: datetime
    end: datetime
    model: str | None = None

    @classmethod
    def of_dates(cls, first: date | None, last: date | None, model: str | None) -> Window:
        """From ``first`` 00:00 UTC to the end of ``last`` (both optional, inclusive)."""
        start = datetime.combine(first, time(), UTC) if first else datetime.min.replace(tzinfo=UTC)
        end = (
            datetime.combine(last + timedelta(days=1), time(), UTC)
            if last
            else datetime.max.replace(tzinfo=UTC)
        )
        return cls(start, end, model)

    def clip(self, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        """This window's bounds within ``[start, end)`` (empty when ``start >= end``)."""
        return max(self.start, start), min(self.end, end)


@dataclass(frozen=True)
class ModelFilter:
    """``--model``: a stored name equal to it, or one the table resolves to its entry."""

    name: str | None
    table: PriceTable

    def matches(self, model: str) -> bool:
        if self.name is None or model == self.name:
            return True
        wanted = self.table.lookup(self.name)
        return wanted is not None and self.table.lookup(model) is wanted


def changed(before: Decimal | None, after: Decimal | None) -> bool:
    """Whether a cost changed (``None`` = unpriced; equal values in any scale agree)."""
    if before is None or after is None:
        return before is not after
    return before != after


@dataclass(frozen=True)
class RowPrice:
    """A rollup row repriced: the new tally (the old one when left), or why it was left."""

    tally: Tally
    left_because: str | None = None

    @property
    def repriceable_runs(self) -> int:
        return self.tally.runs - self.tally.event_runs


def _table_tokens(tally: Tally) -> tuple[int, int, int, int]:
    """(input, output, cache read, cache write) of the runs priced by the table."""
    return (
        tally.input_tokens - tally.event_input_tokens,
        tally.output_tokens - tally.event_output_tokens,
        tally.cache_read_tokens - tally.event_cache_read_tokens,
        tally.cache_write_tokens - tally.event_cache_write_tokens,
    )


def reprice_tally(table: PriceTable, key: GroupKey, tally: Tally) -> RowPrice:
    """A full-key rollup row with its cost, unpriced runs and versions from ``table``."""
    if tally.unsplit_runs:
        return RowPrice(tally, UNSPLIT)
    priced_runs = tally.runs - tally.event_runs
    price = table.price_at(key.model, key.bucket)
    if price is None:
        cost, unpriced = tally.event_cost_usd, priced_runs
    elif not is_linear(price):
        return RowPrice(tally, NOT_LINEAR)
    else:
        cost = tally.event_cost_usd + price.cost(*_table_tokens(tally))
        unpriced = tally.tokenless_runs
    versions = {table.version} if priced_runs else set()
    return RowPrice(replace(tally, cost_usd=cost, unpriced_runs=unpriced, price_versions=versions))
