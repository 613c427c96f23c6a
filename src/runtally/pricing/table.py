"""``PriceTable``: a versioned set of model price histories; the cost of an event (pure).

An unknown model has no price: its cost is ``None`` (stored NULL, counted as unpriced),
never a silent $0. So has a known model before its first ``effective_from``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from runtally.pricing.cost import ModelPrice
from runtally.pricing.history import PriceHistory
from runtally.pricing.names import candidates, loose


class PricedRun(Protocol):
    """What ``PriceTable.cost`` reads of a run: a ``RunEvent`` or ingest's fast path's."""

    @property
    def model(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def input_tokens(self) -> int | None: ...
    @property
    def output_tokens(self) -> int | None: ...
    @property
    def cache_read_tokens(self) -> int | None: ...
    @property
    def cache_write_tokens(self) -> int | None: ...


_LOOKUP_CACHE_MAX = 10_000


@dataclass
class PriceTable:
    """Model price histories; ``version`` names this exact content (``document``).

    ``lookup``, ``price_at`` and ``cost`` never raise.
    """

    version: str
    models: dict[str, PriceHistory]
    # Exact names with one undated price: the per-event path needs one dict lookup.
    _flat: dict[str, ModelPrice] = field(init=False, repr=False)
    _by_lower: dict[str, PriceHistory] = field(init=False, repr=False)
    _by_loose: dict[str, PriceHistory] = field(init=False, repr=False)
    _cache: dict[str, PriceHistory | None] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._flat = {key: h.single for key, h in self.models.items() if h.single is not None}
        self._by_lower = {key.lower(): price for key, price in self.models.items()}
        self._by_loose = {}
        ambiguous: set[str] = set()
        for key, price in self.models.items():
            squashed = loose(key.lower())
            if squashed in self._by_loose and self._by_loose[squashed] != price:
                ambiguous.add(squashed)
            self._by_loose[squashed] = price
        # Two entries that differ only by punctuation: the loose form names neither.
        for squashed in ambiguous:
            del self._by_loose[squashed]

    def lookup(self, model: str) -> PriceHistory | None:
        """The price history for ``model``, or ``None`` when the table does not know it."""
        exact = self.models.get(model)
        if exact is not None:
            return exact
        if model in self._cache:
            return self._cache[model]
        found = self._match(model)
        if len(self._cache) < _LOOKUP_CACHE_MAX:
            self._cache[model] = found
        return found

    def _match(self, model: str) -> PriceHistory | None:
        for name in candidates(model):
            price = self._by_lower.get(name) or self._by_loose.get(loose(name))
            if price is not None:
                return price
        return None

    def price_at(self, model: str, moment: datetime) -> ModelPrice | None:
        """The price of ``model`` in force at ``moment``, ``None`` when there is none."""
        history = self.lookup(model)
        return None if history is None else history.at(moment)

    def cost_at(
        self,
        model: str,
        moment: datetime,
        tokens: tuple[int | None, int | None, int | None, int | None],
    ) -> Decimal | None:
        """The cost of a run of ``model`` at ``moment`` with (input, output, cache read,
        cache write) tokens, ``None`` when unpriced (as ``cost`` decides)."""
        input_tokens, output_tokens, cache_read, cache_write = tokens
        if input_tokens is None and output_tokens is None:
            return None
        price = self.price_at(model, moment)
        if price is None:
            return None
        return price.cost(input_tokens or 0, output_tokens or 0, cache_read or 0, cache_write or 0)

    def cost(self, event: PricedRun) -> tuple[Decimal | None, str | None]:
        """(cost in USD or ``None`` when unpriced, this table's version).

        Unpriced: the model is unknown or has no price at ``started_at``, or the event
        has neither input nor output tokens (nothing to price; $0 would claim a cost we
        do not know). The version is returned either way: it tells which table was
        consulted.
        """
        input_tokens, output_tokens = event.input_tokens, event.output_tokens
        if input_tokens is None and output_tokens is None:
            return None, self.version
        # The exact name first, inline: most events name a model as the table spells it.
        price = self._flat.get(event.model)
        if price is None:
            history = self.lookup(event.model)
            price = None if history is None else history.at(event.started_at)
            if price is None:
                return None, self.version
        value = price.cost(
            input_tokens or 0,
            output_tokens or 0,
            event.cache_read_tokens or 0,
            event.cache_write_tokens or 0,
        )
        return value, self.version
