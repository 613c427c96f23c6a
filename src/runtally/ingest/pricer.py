"""What the decode step asks of a price table."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from runtally.pricing.table import PricedRun


class Pricer(Protocol):
    """``runtally.pricing.PriceTable``: (cost or None when unpriced, table version)."""

    def cost(self, event: PricedRun) -> tuple[Decimal | None, str | None]: ...
