"""The effective price table as text, for ``runtally prices`` (pure)."""

from __future__ import annotations

from decimal import Decimal

from runtally.pricing.history import PriceHistory
from runtally.pricing.table import PriceTable

HEADER = ("model", "effective_from", "input", "cache_read", "cache_write", "output")


def _number(value: Decimal | None) -> str:
    # A missing cache price is billed as input: say so rather than print a number.
    return "as input" if value is None else format(value.normalize(), "f")


def history_rows(history: PriceHistory) -> list[tuple[str, ...]]:
    """One row per entry of a model, oldest first."""
    return [
        (
            history.key,
            "always" if dated.since is None else f"{dated.since:%Y-%m-%d}",
            _number(dated.price.input),
            _number(dated.price.cache_read),
            _number(dated.price.cache_write),
            _number(dated.price.output),
        )
        for dated in history.entries
    ]


def render_table(table: PriceTable, source: str, model: str | None = None) -> str:
    """``table`` (or the entry ``model`` resolves to) as aligned columns, USD per 1M tokens.

    Raises ``LookupError`` when ``model`` has no entry.
    """
    if model is None:
        histories = [table.models[key] for key in sorted(table.models)]
    else:
        found = table.lookup(model)
        if found is None:
            raise LookupError(f"no price for model {model!r} in {source}")
        histories = [found]
    rows = [HEADER, *(row for history in histories for row in history_rows(history))]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join([f"price table {table.version} ({source}); USD per 1M tokens", *lines])
