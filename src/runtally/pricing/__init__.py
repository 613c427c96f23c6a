"""Prices: the cost of a run from its token counts, prices over time, repricing.

Modules: ``names`` (model-name normalisation), ``cost`` (one model's prices, the exact
cost of one run), ``history`` (the entry in force at a moment), ``table`` (the versioned
table, the cost of an event), ``document`` (the JSON file, validation, content version),
``load`` (built-in file or ``RUNTALLY_PRICES_FILE``); ``runtally.reprice`` recomputes
stored costs from the current table.
"""

from __future__ import annotations

from runtally.pricing.cost import COST_QUANTUM, PRICE_FIELDS, ModelPrice, is_linear
from runtally.pricing.document import (
    PriceFileError,
    parse_price_document,
    price_table_from_document,
)
from runtally.pricing.history import Dated, PriceHistory
from runtally.pricing.load import builtin_price_table, load_price_table
from runtally.pricing.names import candidates, loose, normalize
from runtally.pricing.table import PriceTable

__all__ = [
    "COST_QUANTUM",
    "PRICE_FIELDS",
    "Dated",
    "ModelPrice",
    "PriceFileError",
    "PriceHistory",
    "PriceTable",
    "builtin_price_table",
    "candidates",
    "is_linear",
    "load_price_table",
    "loose",
    "normalize",
    "parse_price_document",
    "price_table_from_document",
]
