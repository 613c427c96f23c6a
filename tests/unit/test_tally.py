"""``Tally``: merging is associative and exact; rows round-trip."""

from __future__ import annotations

import random
from dataclasses import fields
from decimal import Decimal

import pytest

from runtally.sketch import LatencySketch, hll_estimate, hll_from_values
from runtally.stored_quantiles import StoredQuantiles
from runtally.tally import COST_SPLIT, ROLLUP_FIELDS, Tally


def random_tally(rng: random.Random) -> Tally:
    """A tally of a few runs; floats are multiples of 1/4 so sums are exact in any order."""
    runs = rng.randrange(1, 50)
    durations = [rng.randrange(0, 40_000) / 4 for _ in range(runs)]
    failures = rng.randrange(0, runs + 1)
    return Tally(
        runs=runs,
        successes=runs - failures,
        failures=failures,
        duration_sum=sum(durations),
        duration_min=min(durations),
        duration_max=max(durations),
        latency=LatencySketch.from_values(durations),
        input_tokens=rng.randrange(10**6),
        output_tokens=rng.randrange(10**6),
        cache_read_tokens=rng.randrange(10**5),
        cache_write_tokens=rng.randrange(10**5),
        cost_usd=Decimal(rng.randrange(10**12)) / Decimal(10**12),
        unpriced_runs=rng.randrange(runs + 1),
        ttft_sum=rng.randrange(4_000) / 4,
        ttft_count=rng.randrange(runs + 1),
        users=[b] if (b := hll_from_values(f"u{rng.randrange(300)}" for _ in range(runs))) else [],
        sessions=[],
        event_runs=(carried := rng.randrange(runs + 1)),
        event_cost_usd=Decimal(rng.randrange(10**9)) / Decimal(10**12),
        event_input_tokens=rng.randrange(10**4),
        event_output_tokens=rng.randrange(10**4),
        event_cache_read_tokens=rng.randrange(10**3),
        event_cache_write_tokens=rng.randrange(10**3),
        tokenless_runs=rng.randrange(runs - carried + 1),
        unsplit_runs=rng.choice([0, 0, runs]),
        price_versions=set(rng.sample(["v1", "v2", "v3"], rng.randrange(3))),
    )


def comparable(tally: Tally) -> dict[str, object]:
    """to_row with the HLL columns as estimates (their bytes depend on union order)."""
    row = tally.to_row()
    for column in ("users_hll", "sessions_hll"):
        row[column] = hll_estimate(row[column])
    return row


@pytest.mark.parametrize("seed", range(20))
def test_merge_is_associative_and_commutative(seed: int) -> None:
    rng = random.Random(seed)
    a, b, c = (random_tally(rng) for _ in range(3))
    left = Tally.merged([Tally.merged([a, b]), c])
    right = Tally.merged([a, Tally.merged([b, c])])
    swapped = Tally.merged([c, a, b])
    assert comparable(left) == comparable(right) == comparable(swapped)


def test_merge_adds_exactly() -> None:
    rng = random.Random(99)
    parts = [random_tally(rng) for _ in range(10)]
    total = Tally.merged(parts)
    for name in ("runs", "successes", "failures", "input_tokens", "output_tokens",
                 "cache_read_tokens", "cache_write_tokens", "cost_usd", "unpriced_runs",
                 "ttft_count", "duration_sum", *COST_SPLIT):  # fmt: skip
        assert getattr(total, name) == sum(getattr(p, name) for p in parts), name
    assert total.price_versions == set().union(*(p.price_versions for p in parts))
    assert total.duration_min == min(p.duration_min for p in parts if p.duration_min is not None)
    assert total.duration_max == max(p.duration_max for p in parts if p.duration_max is not None)
    assert total.latency.count == total.runs


def test_empty_tally_is_the_identity() -> None:
    tally = random_tally(random.Random(5))
    assert comparable(Tally.merged([Tally(), tally, Tally()])) == comparable(tally)
    empty = Tally()
    assert empty.latency_ms() == {
        "avg": None, "min": None, "max": None,
        "p50": None, "p75": None, "p90": None, "p95": None, "p99": None,
    }  # fmt: skip


def test_row_round_trip() -> None:
    tally = random_tally(random.Random(6))
    row = tally.to_row()
    assert set(row) == set(ROLLUP_FIELDS)
    back = Tally.from_row(row)
    assert set(vars(back)) == {f.name for f in fields(Tally)}  # every field, no other
    assert back == Tally.from_row(row, LatencySketch.from_arrays(
        row["lat_zero"], row["lat_keys"], row["lat_counts"]))  # fmt: skip
    assert comparable(back) == comparable(tally)
    assert back.unique_users == tally.unique_users > 0


@pytest.mark.parametrize("seed", range(10))
def test_subtract_undoes_merge_for_every_additive_field(seed: int) -> None:
    rng = random.Random(seed)
    a, b = random_tally(rng), random_tally(rng)
    total = Tally.merged([a, b])
    total.subtract(b)
    got, want = total.to_row(), a.to_row()
    additive = set(ROLLUP_FIELDS) - {
        "duration_min",
        "duration_max",
        "users_hll",
        "sessions_hll",
        "price_versions",
    }
    assert {f: got[f] for f in additive} == {f: want[f] for f in additive}


@pytest.mark.parametrize("seed", range(10))
def test_merged_equals_merging_one_by_one(seed: int) -> None:
    """``merged`` (one pass per field) gives exactly what merging each tally in turn
    into an empty one gives, float sums to the last bit, and leaves its inputs as they
    were."""
    rng = random.Random(seed)
    parts = [random_tally(rng) for _ in range(rng.randrange(2, 30))]
    for part in parts:
        part.duration_sum += rng.random()  # not exact in every order: the order must match
    parts.append(Tally())  # an empty part: no min/max
    rng.shuffle(parts)
    before = [comparable(p) for p in parts]
    one_by_one = Tally()
    for part in parts:
        one_by_one.merge(part)
    total = Tally.merged(parts)
    assert comparable(total) == comparable(one_by_one)
    assert total.users == one_by_one.users
    assert [comparable(p) for p in parts] == before


def test_merged_refuses_a_sketch_without_bins() -> None:
    alone = random_tally(random.Random(8))
    alone.latency = StoredQuantiles([1.0, 2.0, 3.0, 4.0, 5.0])
    with pytest.raises(ValueError, match="cannot be merged"):
        Tally.merged([random_tally(random.Random(9)), alone])
