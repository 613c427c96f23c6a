"""Latency sketch and HLL: bucket keys, quantile accuracy after merging, round trips."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from ddsketch.mapping import LogarithmicMapping

from runtally import sketch
from runtally.sketch import SMALL_FOLD, LatencySketch, hll_estimate, hll_from_values, hll_union


def sql_form(x: float) -> int:
    """``sketch.SQL_KEY`` evaluated with the same float operations Postgres uses."""
    return math.ceil(math.log(x) / math.log(2.0) * sketch.MULTIPLIER)


def boundary_values() -> list[float]:
    """Bucket boundaries gamma^k, their float neighbours, and ordinary values."""
    mapping = LogarithmicMapping(0.01)
    values = [1e-6, 0.001, 0.5, 1.0, 1.5, 2.0, 3.0, 10.0, 123.456, 1e3, 6e4, 3.6e6, 1e9]
    for k in range(-400, 1500, 7):
        edge = mapping._pow_gamma(k)
        values += [edge, math.nextafter(edge, 0.0), math.nextafter(edge, math.inf)]
    return values


BOUNDARIES = boundary_values()


def test_multiplier_is_ddsketchs() -> None:
    assert LogarithmicMapping(0.01)._multiplier == sketch.MULTIPLIER


@pytest.mark.parametrize("x", BOUNDARIES[:: max(1, len(BOUNDARIES) // 120)])
def test_key_matches_ddsketch_and_the_sql_form(x: float) -> None:
    expected = LogarithmicMapping(0.01).key(x)
    assert sketch.bucket_key(x) == expected
    assert sql_form(x) == expected


def test_every_boundary_and_neighbour_agrees() -> None:
    mapping = LogarithmicMapping(0.01)
    mismatched = [
        x for x in BOUNDARIES if not mapping.key(x) == sketch.bucket_key(x) == sql_form(x)
    ]
    assert mismatched == []


def test_bucket_value_is_within_one_percent_of_its_members() -> None:
    for x in BOUNDARIES:
        assert abs(sketch.bucket_value(sketch.bucket_key(x)) - x) <= 0.01 * x * (1 + 1e-12)


def test_merged_quantiles_of_a_million_lognormal_durations_are_within_one_percent() -> None:
    rng = np.random.default_rng(7)
    durations = rng.lognormal(mean=6.0, sigma=1.1, size=1_000_000)
    parts = [LatencySketch.from_values(part.tolist()) for part in np.array_split(durations, 24)]
    merged = LatencySketch()
    for part in parts:
        merged.merge(part)
    assert merged.count == durations.size
    for q in (0.5, 0.75, 0.9, 0.95, 0.99):
        exact = float(np.quantile(durations, q, method="lower"))  # value at rank q*(n-1)
        got = merged.quantile(q)
        assert got is not None
        assert abs(got - exact) / exact <= 0.01, q


def test_quantiles_with_zeros_clamping_and_empty() -> None:
    assert LatencySketch().quantile(0.5) is None
    mixed = LatencySketch.from_values([0.0] * 6 + [100.0] * 4)
    assert mixed.quantile(0.5) == 0.0
    assert mixed.quantile(0.99) == pytest.approx(100.0, rel=0.01)
    assert mixed.quantiles(0.0, 99.0)["p99"] == 99.0  # clamped to the exact max
    clamped = LatencySketch.from_values([100.0]).quantiles(low=100.0, high=100.0)
    assert set(clamped.values()) == {100.0}
    with pytest.raises(ValueError):
        mixed.add(-1.0)
    with pytest.raises(ValueError):
        mixed.quantile(1.5)


def test_latency_sketch_round_trips_through_arrays() -> None:
    original = LatencySketch.from_values([0.0, 0.0, 1.0, 2.5, 2.5, 1e4, 3.3e6])
    zero, keys, counts = original.to_arrays()
    assert keys == sorted(keys)
    assert LatencySketch.from_arrays(zero, keys, counts) == original


def test_hll_of_merged_parts_is_within_three_percent() -> None:
    rng = np.random.default_rng(8)
    distinct = 100_000
    ids = [f"user-{i}" for i in range(distinct)]
    # Each id lands in one to three of 24 parts, so the parts overlap as hours do.
    parts: list[list[str]] = [[] for _ in range(24)]
    for user, copies in zip(ids, rng.integers(1, 4, distinct).tolist(), strict=True):
        for part in rng.choice(24, size=copies, replace=False).tolist():
            parts[part].append(user)
    union = hll_union(hll_from_values(part) for part in parts)
    assert abs(hll_estimate(union) - distinct) / distinct <= 0.03


def test_hll_round_trips_and_empties() -> None:
    blob = hll_from_values(f"s{i}" for i in range(500))
    assert blob is not None
    assert hll_estimate(blob) == hll_estimate(hll_union([blob]))
    assert abs(hll_estimate(blob) - 500) <= 15
    assert hll_from_values([]) is None
    assert hll_union([None, None]) is None
    assert hll_estimate(None) == 0
    # A union of a sketch with itself (and empties) counts the same set.
    assert hll_estimate(hll_union([blob, None, blob])) == hll_estimate(hll_union([blob, blob]))
    assert abs(hll_estimate(hll_union([blob, blob])) - 500) <= 15


@pytest.mark.parametrize("seed", range(5))
def test_lazy_merges_equal_one_sketch_of_every_value(seed: int) -> None:
    rng = np.random.default_rng(seed)
    chunks = [rng.lognormal(6.0, 1.5, int(rng.integers(0, 400))).tolist() for _ in range(40)]
    chunks[3] = [0.0] * 7  # zeros only
    merged = LatencySketch()
    for i, chunk in enumerate(chunks):
        part = LatencySketch.from_values(chunk)
        if i % 2:  # half of them as stored rows: arrays kept by reference
            part = LatencySketch.from_arrays(*part.to_arrays())
        merged.merge(part)
        if i == 20:
            merged.add(5.0)  # an add between merges folds what is pending first
            chunks[20] = [*chunk, 5.0]
    assert merged == LatencySketch.from_values([v for chunk in chunks for v in chunk])


def test_a_merged_sketch_is_independent_of_its_parts() -> None:
    a = LatencySketch.from_values([1.0, 2.0])
    b = LatencySketch.from_arrays(*LatencySketch.from_values([2.0, 3.0]).to_arrays())
    total = LatencySketch()
    total.merge(a)
    total.merge(b)
    assert total.count == 4
    total.add(1.0)
    assert (a.count, b.count) == (2, 2)
    assert a == LatencySketch.from_values([1.0, 2.0])


def test_subtract_removes_exactly_the_counts_of_a_contained_sketch() -> None:
    rng = np.random.default_rng(11)
    values = rng.lognormal(5.0, 1.0, 3000).tolist() + [0.0] * 5
    whole = LatencySketch.from_arrays(*LatencySketch.from_values(values).to_arrays())
    whole.subtract(LatencySketch.from_values(values[:1000] + [0.0] * 2))
    assert whole == LatencySketch.from_values(values[1000:3000] + [0.0] * 3)
    assert all(count > 0 for count in whole.bins.values())  # emptied bins are gone


def test_from_arrays_refuses_arrays_of_different_lengths() -> None:
    with pytest.raises(ValueError):
        LatencySketch.from_arrays(0, [1, 2], [3])


def test_hll_bytes_depend_on_the_set_of_values_only() -> None:
    ids = [f"user-{i}" for i in range(5000)]
    shuffled = ids[::-1] + ids[::7]  # another order, with repeats
    assert hll_from_values(ids) == hll_from_values(shuffled)
    assert hll_from_values([]) is None


@pytest.mark.parametrize("seed", range(4))
def test_quantiles_equal_the_ddsketch_library(seed: int) -> None:
    from ddsketch import DDSketch

    rng = np.random.default_rng(seed)
    values = [*rng.lognormal(4.0, 2.0, 777).tolist(), *[0.0] * int(rng.integers(0, 60))]
    reference = DDSketch(relative_accuracy=0.01)
    for value in values:
        reference.add(value)
    ours = LatencySketch.from_values(values)
    for q in (0.0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0):
        expected = reference.get_quantile_value(q)
        assert ours.quantile(q) == pytest.approx(expected, rel=1e-12), q


@pytest.mark.parametrize(
    ("zero", "keys", "bins"),
    [
        (0, [], {}),
        (3, [5], {5: 1}),
        (1, [7, -2, 7, 7, 0, -2], {-2: 2, 0: 1, 7: 3}),
    ],
)
def test_from_keys_counts_one_key_per_value(
    zero: int, keys: list[int], bins: dict[int, int]
) -> None:
    sketch = LatencySketch.from_keys(zero, np.asarray(keys, dtype=np.int64))
    assert (sketch.zero, sketch.bins) == (zero, bins)


@pytest.mark.parametrize("pairs", [0, 7, SMALL_FOLD + 1, 5000])
def test_from_counts_adds_the_counts_of_repeated_keys(pairs: int) -> None:
    rng = np.random.default_rng(pairs)
    keys = rng.integers(300, 900, size=pairs)
    counts = rng.integers(1, 50, size=pairs)
    expected: Counter[int] = Counter()
    for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
        expected[key] += count
    sketch = LatencySketch.from_counts(3, keys, counts)
    assert (sketch.zero, sketch.bins) == (3, dict(expected))
