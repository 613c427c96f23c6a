"""Batch percentiles (``runtally.quantiles``): each sketch's p50…p99 equal the value at
rank floor(q * (n - 1)) of its runs sorted, every run standing for its bin's value (zero
for the zero count), clamped to the exact min/max — and equal ``LatencySketch.quantiles``."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from runtally import quantiles
from runtally.quantiles import quantiles_of
from runtally.sketch import QUANTILES, LatencySketch, bucket_value


def expected(zero: int, bins: dict[int, int], low: float | None, high: float | None
             ) -> dict[str, float | None]:  # fmt: skip
    """Ground truth: the runs in order (zeros first, then bin by bin), the one at index
    floor(q * (n - 1)) found by counting (without listing the runs one by one)."""
    n = zero + sum(bins.values())
    out: dict[str, float | None] = {}
    for name, q in QUANTILES:
        if n == 0:
            out[name] = None
            continue
        index = math.floor(q * (n - 1))
        value, before = 0.0, zero
        for key in sorted(k for k in bins if bins[k]):
            if index < before:
                break
            value, before = bucket_value(key), before + bins[key]
        if low is not None and high is not None:
            value = min(max(value, low), high)
        out[name] = value
    return out


def sketch_of(zero: int, *parts: tuple[list[int], list[int]]) -> LatencySketch:
    out = LatencySketch(zero)
    for keys, counts in parts:
        out.merge(LatencySketch.from_arrays(0, keys, counts))
    return out


CASES = [
    # (zero, parts, (low, high)); parts may overlap in keys
    (0, [], (None, None)),
    (5, [], (None, None)),
    (5, [], (0.0, 0.0)),
    (0, [([300], [1])], (None, None)),
    (0, [([300], [1])], (20.0, 20.0)),
    (3, [([100, 200], [1, 1])], (None, None)),
    (0, [([-40, 5, 900], [2, 3, 4])], (None, None)),
    (1, [([10, 20], [5, 5]), ([15, 20], [1, 2])], (1.0, 5.0)),
    (0, [([7], [10**12])], (None, None)),
    (2, [([1, 2, 3], [0, 4, 0])], (None, None)),  # zero counts stored in a row
    (0, [(np.array([400, 401]), np.array([3, 1]))], (None, None)),  # numpy parts
]


@pytest.mark.parametrize(("zero", "parts", "bounds"), CASES)
def test_table(zero: int, parts: list[tuple[list[int], list[int]]],
               bounds: tuple[float | None, float | None]) -> None:  # fmt: skip
    bins: dict[int, int] = {}
    for keys, counts in parts:
        for k, c in zip(list(keys), list(counts), strict=True):
            bins[int(k)] = bins.get(int(k), 0) + int(c)
    got = quantiles_of([sketch_of(zero, *parts)], [bounds])
    assert got == [expected(zero, bins, *bounds)]


def random_sketch(rng: random.Random) -> tuple[LatencySketch, int, dict[int, int]]:
    zero = rng.choice([0, 0, 1, 40])
    out, bins = LatencySketch(zero), {}
    for _ in range(rng.randint(0, 4)):
        keys = rng.sample(range(-30, 700), rng.randint(0, 60))
        counts = [rng.randint(1, 9) for _ in keys]
        out.merge(LatencySketch.from_arrays(0, keys, counts))
        for k, c in zip(keys, counts, strict=True):
            bins[k] = bins.get(k, 0) + c
    if rng.random() < 0.3:
        _ = out.bins  # folded, then more pending on top
        values = [rng.uniform(0.5, 5e4) for _ in range(10)]
        out.merge(LatencySketch.from_values(values))
        for v in values:
            k = LatencySketch.from_values([v]).to_arrays()[1][0]
            bins[k] = bins.get(k, 0) + 1
    return out, zero, bins


@pytest.mark.parametrize("cells", [quantiles.MAX_CELLS, 50, 1])
def test_many_sketches_at_once_in_any_slices(monkeypatch: pytest.MonkeyPatch, cells: int) -> None:
    monkeypatch.setattr(quantiles, "MAX_CELLS", cells)
    rng = random.Random(cells)
    made = [random_sketch(rng) for _ in range(150)]
    bounds = [rng.choice([(None, None), (1.0, 300.0), (0.0, 1e9)]) for _ in made]
    got = quantiles_of([s for s, _, _ in made], bounds)
    assert got == [expected(z, b, *bd) for (_, z, b), bd in zip(made, bounds, strict=True)]
    assert got == [s.quantiles(*bd) for (s, _, _), bd in zip(made, bounds, strict=True)]


def test_subtracted_counts_and_unfolded_sketches() -> None:
    whole = sketch_of(2, ([10, 20, 30], [4, 4, 4]))
    whole.subtract(sketch_of(1, ([20, 30], [4, 1])))
    assert quantiles_of([whole], [(None, None)]) == [expected(1, {10: 4, 30: 3}, None, None)]
    pending = sketch_of(0, ([5], [1]), ([6], [1]))
    quantiles_of([pending], [(None, None)])
    assert pending.parts() == [([5], [1]), ([6], [1])]  # not folded by the batch


def test_one_bounds_pair_per_sketch() -> None:
    with pytest.raises(ValueError, match="one"):
        quantiles_of([LatencySketch()], [])
    assert quantiles_of([], []) == []
