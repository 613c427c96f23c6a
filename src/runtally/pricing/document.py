"""The price document (JSON): validation into a ``PriceTable`` and its content version.

Shape: ``{"version": label, "currency": "USD", "unit": "per_1m_tokens", "models": {...}}``.
A model's entry is either one object of prices (in force at every moment: today's
shape) or a list of such objects, each with ``effective_from`` (an RFC 3339 date, a UTC
midnight), in force until the next one's date.

The table's version is ``<label>+<12 hex digits>``: the digits are a SHA-256 of the
table's content (every model's prices and dates, normalised, so ``2.5`` and ``2.50``
agree). So a run's stored version names exactly the prices that produced its cost,
even when a file is edited without changing its label.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

from runtally.pricing.cost import PRICE_FIELDS, REQUIRED_PRICES, ModelPrice
from runtally.pricing.history import Dated, PriceHistory
from runtally.pricing.table import PriceTable

EFFECTIVE_FROM = "effective_from"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class PriceFileError(ValueError):
    """The price document is malformed; the message says where and why."""


def _price_value(where: str, kind: str, value: Any) -> Decimal | None:
    if value is None and kind not in REQUIRED_PRICES:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise PriceFileError(f"{where}.{kind} must be a number >= 0, got {value!r}")
    number = Decimal(value)
    if not number.is_finite() or number < 0:
        raise PriceFileError(f"{where}.{kind} must be a number >= 0, got {value}")
    return number


def _effective_from(where: str, value: Any) -> datetime:
    if not isinstance(value, str) or not _DATE.match(value):
        raise PriceFileError(f"{where}.{EFFECTIVE_FROM} must be a date YYYY-MM-DD, got {value!r}")
    try:
        day = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise PriceFileError(f"{where}.{EFFECTIVE_FROM} is not a date: {value}") from None
    return day.replace(tzinfo=UTC)


def _model_price(key: str, where: str, entry: Any, dated: bool) -> Dated:
    if not isinstance(entry, dict):
        raise PriceFileError(f"{where} must be an object of prices")
    allowed = (*PRICE_FIELDS, EFFECTIVE_FROM) if dated else PRICE_FIELDS
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise PriceFileError(
            f"{where} has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )
    for kind in (*REQUIRED_PRICES, *((EFFECTIVE_FROM,) if dated else ())):
        if kind not in entry:
            raise PriceFileError(f"{where}.{kind} is required")
    values = {kind: _price_value(where, kind, entry.get(kind)) for kind in PRICE_FIELDS}
    input_price, output_price = values["input"], values["output"]
    assert input_price is not None  # required above
    assert output_price is not None
    price = ModelPrice(key, input_price, output_price, values["cache_read"], values["cache_write"])
    return Dated(_effective_from(where, entry[EFFECTIVE_FROM]) if dated else None, price)


def _history(key: str, entry: Any) -> PriceHistory:
    if not key.strip():
        raise PriceFileError("model names must not be empty")
    where = f"models.{key}"
    if not isinstance(entry, list):
        return PriceHistory(key, (_model_price(key, where, entry, dated=False),))
    if not entry:
        raise PriceFileError(f"{where} must not be an empty list")
    dated = [_model_price(key, f"{where}[{i}]", item, dated=True) for i, item in enumerate(entry)]
    dated.sort(key=lambda d: d.since or datetime.min.replace(tzinfo=UTC))
    for before, after in pairwise(dated):
        if before.since == after.since:
            raise PriceFileError(f"{where} has two entries effective from {after.since:%Y-%m-%d}")
    return PriceHistory(key, tuple(dated))


def _check_header(document: Any) -> str:
    if not isinstance(document, dict):
        raise PriceFileError("the top level must be a JSON object")
    unknown = sorted(set(document) - {"version", "currency", "unit", "models"})
    if unknown:
        raise PriceFileError(f"unknown top-level field(s) {', '.join(unknown)}")
    version = document.get("version")
    if not isinstance(version, str) or not version.strip() or len(version) > 64:
        raise PriceFileError('"version" must be a non-empty string of at most 64 chars')
    if document.get("currency", "USD") != "USD":
        raise PriceFileError('"currency" must be "USD"')
    if document.get("unit", "per_1m_tokens") != "per_1m_tokens":
        raise PriceFileError('"unit" must be "per_1m_tokens"')
    return version


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def content_digest(models: dict[str, PriceHistory]) -> str:
    """12 hex digits of SHA-256 over the normalised content of ``models``."""
    canonical = {
        key: [
            [
                None if d.since is None else d.since.strftime("%Y-%m-%d"),
                *(_text(getattr(d.price, kind)) for kind in PRICE_FIELDS),
            ]
            for d in history.entries
        ]
        for key, history in sorted(models.items())
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def price_table_from_document(document: Any) -> PriceTable:
    """Validate a parsed price document (floats parsed as ``Decimal``) into a table."""
    label = _check_header(document)
    models = document.get("models")
    if not isinstance(models, dict) or not models:
        raise PriceFileError('"models" must be a non-empty object')
    histories = {key: _history(key, entry) for key, entry in models.items()}
    return PriceTable(f"{label}+{content_digest(histories)}", histories)


def parse_price_document(text: str | bytes) -> PriceTable:
    """Parse price JSON exactly (no binary floats). Raises ``PriceFileError``."""
    try:
        document = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PriceFileError(f"not valid JSON: {exc}") from None
    return price_table_from_document(document)


def _reject_constant(name: str) -> Any:
    raise PriceFileError(f"{name} is not a price")
