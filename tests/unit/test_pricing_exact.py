"""``ModelPrice.cost``'s integer fast path equals the exact Decimal computation."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from runtally.pricing import ModelPrice, builtin_price_table


def by_hand(price: ModelPrice, inp: int, out: int, read: int, write: int) -> Decimal:
    """Exact cost from the definition, summed as ints of 1e-12 USD (no Decimal context)."""
    read_price = price.input if price.cache_read is None else price.cache_read
    write_price = price.input if price.cache_write is None else price.cache_write
    uncached = max(inp - read - write, 0)
    units = [int(p * 10**6) for p in (price.input, price.output, read_price, write_price)]
    total = uncached * units[0] + out * units[1] + read * units[2] + write * units[3]
    return Decimal((0, tuple(int(d) for d in str(total)), -12))


def test_every_builtin_price_takes_the_integer_path() -> None:
    for history in builtin_price_table().models.values():
        price = history.entries[0].price
        assert price._micro is not None, history.key


@pytest.mark.parametrize("seed", range(5))
def test_integer_path_equals_decimal_path(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2_000):
        prices = [Decimal(rng.randint(0, 10**9)).scaleb(-rng.randint(0, 6)) for _ in range(4)]
        price = ModelPrice(
            "m", prices[0], prices[1],
            prices[2] if rng.random() < 0.7 else None,
            prices[3] if rng.random() < 0.7 else None,
        )  # fmt: skip
        inp = rng.choice([0, rng.randint(0, 10**4), rng.randint(0, 10**12)])
        read = rng.randint(0, inp)
        write = rng.randint(0, inp - read)
        out = rng.choice([0, rng.randint(0, 10**12)])
        fast = price.cost(inp, out, read, write)
        assert price._micro is not None
        assert fast == by_hand(price, inp, out, read, write)
        assert fast == price._decimal_cost(max(inp - read - write, 0), out, read, write)
        assert fast.as_tuple().exponent == -12


@pytest.mark.parametrize(
    ("text", "integer_path"),
    [("2.5", True), ("0.000001", True), ("1E+3", True), ("3.750000000", True),
     ("0.0000001", False), ("0.3333333333333", False)],
)  # fmt: skip
def test_more_than_six_decimals_falls_back_to_decimal(text: str, integer_path: bool) -> None:
    price = ModelPrice("m", Decimal(text), Decimal(text))
    assert (price._micro is not None) is integer_path
    expected = (Decimal(text) * 1000 * 2 / Decimal(10**6)).quantize(Decimal("1e-12"))
    assert price.cost(1000, 1000) == expected


@pytest.mark.parametrize("read_price", ["0.3", "0.0000003"])  # integer path, Decimal path
def test_cached_tokens_beyond_input_leave_no_negative_uncached_part(read_price: str) -> None:
    """``ModelPrice.cost`` is public: callers may pass more cached than input tokens."""
    price = ModelPrice("m", Decimal("3"), Decimal("15"), Decimal(read_price), Decimal("3.75"))
    # 80 read + 50 written of 100 input: nothing uncached, all 130 cached tokens billed.
    expected = (80 * Decimal(read_price) + 50 * Decimal("3.75")) / 10**6
    assert price.cost(100, 0, 80, 50) == expected.quantize(Decimal("1e-12"))
    assert price.cost(100, 0, 80, 50) == price._decimal_cost(0, 0, 80, 50)
