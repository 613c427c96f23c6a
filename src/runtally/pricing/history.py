"""One model's prices over time: the entry in force at a moment (pure).

A model's prices are a list of entries, each in force from its ``effective_from`` (a
UTC midnight) until the next one's. Before the first entry the model has no price.
An entry without a date (today's one-price shape) is in force at every moment.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime

from runtally.pricing.cost import ModelPrice


@dataclass(frozen=True)
class Dated:
    """One price entry and the moment it takes effect (``None``: always)."""

    since: datetime | None
    price: ModelPrice


@dataclass(frozen=True)
class PriceHistory:
    """The entries of one model, oldest first; ``key`` is the model's name in the table.

    ``single`` is the price when one undated entry covers every moment (the common case:
    the per-event path then needs no date comparison).
    """

    key: str
    entries: tuple[Dated, ...]
    single: ModelPrice | None = field(init=False, repr=False, compare=False)
    _starts: tuple[datetime, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        undated = len(self.entries) == 1 and self.entries[0].since is None
        object.__setattr__(self, "single", self.entries[0].price if undated else None)
        starts = tuple(e.since for e in self.entries if e.since is not None)
        object.__setattr__(self, "_starts", starts)

    def at(self, moment: datetime) -> ModelPrice | None:
        """The price in force at ``moment`` (timezone-aware), ``None`` before the first."""
        if self.single is not None:
            return self.single
        index = bisect_right(self._starts, moment)
        return self.entries[index - 1].price if index else None
