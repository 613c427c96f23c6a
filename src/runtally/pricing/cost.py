"""The cost of one run from its token counts under one model's prices (pure).

Prices are USD per 1M tokens for four kinds of tokens: input, cache read, cache write,
output. ``input_tokens`` includes the cached ones (OpenTelemetry GenAI), so the uncached
input is ``input - cache_read - cache_write``. The cost is exact: a sum of integers of
1e-12 USD when every price has at most 6 decimal places (always, for the built-in
table), else Decimal arithmetic quantized to 1e-12 (``agent_runs.cost_usd``'s scale).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import cast

PER_TOKENS = Decimal(1_000_000)
# agent_runs.cost_usd is numeric(24,12).
COST_QUANTUM = Decimal("1e-12")
PRICE_FIELDS = ("input", "cache_read", "cache_write", "output")
REQUIRED_PRICES = ("input", "output")


@dataclass(frozen=True)
class ModelPrice:
    """Prices of one model in USD per 1M tokens; ``key`` is its entry in the table.

    A missing cache price (``None``) means the provider bills those tokens as input.
    """

    key: str
    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    # (input, output, cache read, cache write) in micro-USD per 1M tokens = 1e-12 USD per
    # token, the cost quantum: integer arithmetic is then exact and needs no rounding.
    # None when some price has more than 6 decimal places (then Decimal arithmetic).
    _micro: tuple[int, int, int, int] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        scaled = [_micro_units(price) for price in self._per_token()]
        micro = None
        if None not in scaled:
            micro = cast(tuple[int, int, int, int], tuple(scaled))
        object.__setattr__(self, "_micro", micro)

    def cost(
        self, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0
    ) -> Decimal:
        """Exact cost; ``input_tokens`` includes the cached ones (OpenTelemetry GenAI)."""
        uncached = input_tokens - cache_read - cache_write
        if uncached < 0:  # not max(): a builtin call per event for a rare case
            uncached = 0
        micro = self._micro
        if micro is not None:  # the common case: one int sum per event, no Decimal context
            per_input, per_output, per_read, per_write = micro
            total = (
                uncached * per_input
                + output_tokens * per_output
                + cache_read * per_read
                + cache_write * per_write
            )
            # From text: exact whatever the coefficient's size or the thread's context.
            return Decimal(f"{total}E-12")
        return self._decimal_cost(uncached, output_tokens, cache_read, cache_write)

    def _per_token(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(input, output, cache read, cache write) prices; cached tokens without their
        own price cost as input."""
        read_price = self.input if self.cache_read is None else self.cache_read
        write_price = self.input if self.cache_write is None else self.cache_write
        return self.input, self.output, read_price, write_price

    def _decimal_cost(
        self, uncached: int, output_tokens: int, cache_read: int, cache_write: int
    ) -> Decimal:
        input_price, output_price, read_price, write_price = self._per_token()
        with localcontext() as ctx:
            ctx.prec = 60  # exact for any token count the event schema allows
            total = (
                uncached * input_price
                + cache_read * read_price
                + cache_write * write_price
                + output_tokens * output_price
            ) / PER_TOKENS
            return total.quantize(COST_QUANTUM)


def _micro_units(price: Decimal) -> int | None:
    """``price`` × 10**6 as an int when that is exact (and ``price`` >= 0), else ``None``.

    Read from the digits: no Decimal arithmetic, so no context precision can round it.
    """
    sign, digits, exponent = price.as_tuple()
    if sign or not isinstance(exponent, int):
        return None
    coefficient = int("".join(map(str, digits)))
    shift = exponent + 6
    if shift >= 0:
        return int(coefficient * 10**shift)
    unit = int(10**-shift)
    return coefficient // unit if coefficient % unit == 0 else None


def is_linear(price: ModelPrice) -> bool:
    """Whether the cost of many runs equals the cost of their summed tokens exactly.

    True when every price has at most 6 decimal places: each run's cost is then an exact
    integer of 1e-12 USD, with no rounding that a sum would do differently.
    """
    return price._micro is not None
