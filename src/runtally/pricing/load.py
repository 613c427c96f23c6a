"""Where the price table comes from: the built-in file or ``settings.prices_file``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from runtally.errors import UserError
from runtally.pricing.document import PriceFileError, parse_price_document
from runtally.pricing.table import PriceTable

if TYPE_CHECKING:
    from runtally.config import Settings


def builtin_price_table() -> PriceTable:
    """The table shipped with runtally (``runtally/prices.json``)."""
    text = resources.files("runtally").joinpath("prices.json").read_text(encoding="utf-8")
    return parse_price_document(text)


def load_price_table(settings: Settings) -> PriceTable:
    """``settings.prices_file`` when set (it replaces the built-in table), else built-in.

    A file that cannot be read or is malformed raises ``UserError`` with a one-line
    reason: nothing must be priced with a table the operator did not intend.
    """
    path: Path | None = settings.prices_file
    if path is None:
        return builtin_price_table()
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read prices file {path}: {exc.strerror or exc}") from None
    try:
        return parse_price_document(text)
    except PriceFileError as exc:
        raise UserError(f"bad prices file {path}: {exc}") from None
