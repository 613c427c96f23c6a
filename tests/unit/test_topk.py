"""Top-K per bucket and the merged ranking: exact where it says so, and every true
figure within the bounds it gives (checked against exact per-id sums)."""

from __future__ import annotations

import random
from collections import defaultdict
from decimal import Decimal

import pytest

from runtally.topk import BucketTop, Item, Rest, merge_top, rank, select


def item(cost: int, runs: int = 1) -> Item:
    return Item(runs=runs, successes=runs, cost=Decimal(cost))


@pytest.mark.parametrize(
    ("costs", "k", "listed", "rest_cost", "rest_max", "rest_items"),
    [
        ({}, 2, [], 0, 0, 0),
        ({"a": 5}, 2, ["a"], 0, 0, 0),
        ({"a": 5, "b": 9, "c": 1, "d": 3}, 2, ["b", "a"], 4, 3, 2),
        ({"b": 2, "a": 2, "c": 2}, 2, ["a", "b"], 2, 2, 1),  # ties: smaller id
    ],
)
def test_select(
    costs: dict[str, int], k: int, listed: list[str], rest_cost: int, rest_max: int,
    rest_items: int,
) -> None:  # fmt: skip
    top = select({i: item(c) for i, c in costs.items()}, k)
    assert list(top.listed) == listed
    assert top.rest.sums.cost == rest_cost
    assert top.rest.max_cost == rest_max
    assert top.rest.items == rest_items


def bucket(listed: dict[str, int], rest_cost: int, rest_max: int, rest_runs: int) -> BucketTop:
    return BucketTop(
        {i: item(c) for i, c in listed.items()},
        Rest(
            Item(runs=rest_runs, cost=Decimal(rest_cost)),
            rest_runs,
            Decimal(rest_max),
            min(rest_runs, 1),
        ),
    )


@pytest.mark.parametrize(
    ("buckets", "limit", "order", "approximate", "bound"),
    [
        # nothing folded anywhere: exact
        ([bucket({"a": 5, "b": 3}, 0, 0, 0), bucket({"b": 4}, 0, 0, 0)], 2, ["b", "a"], False, 0),
        # 'a' missing from a bucket whose remainder's largest id cost 2: a's error 2
        ([bucket({"a": 5, "b": 3}, 0, 0, 0), bucket({"b": 4}, 3, 2, 2)], 2, ["b", "a"], True, 2),
        # folded ids (at most 1 + 1) cannot reach the last listed (4): the ranking is exact
        ([bucket({"a": 9}, 1, 1, 1), bucket({"a": 4}, 1, 1, 1)], 1, ["a"], False, 2),
        # but they can when the limit asks for more rows than were listed
        ([bucket({"a": 9}, 1, 1, 1), bucket({"a": 4}, 1, 1, 1)], 2, ["a"], True, 2),
    ],
)
def test_rank(
    buckets: list[BucketTop], limit: int, order: list[str], approximate: bool, bound: int
) -> None:
    ranking = rank(buckets, limit)
    assert [i for i, _ in ranking.rows] == order
    assert ranking.approximate is approximate
    assert ranking.error_bound_cost == bound


def exact_ranking(per_bucket: list[dict[str, Item]]) -> dict[str, Item]:
    total: dict[str, Item] = defaultdict(Item)
    for items in per_bucket:
        for i, figures in items.items():
            total[i].add(figures)
    return dict(total)


@pytest.mark.parametrize("seed", range(12))
def test_merged_bounds_hold_against_exact_sums(seed: int) -> None:
    """Random heavy-tailed spend over 24 hours, top 5 per hour, merged through a day
    (``merge_top``) and ranked: every listed id's true cost and runs lie within
    [known, known + error]; an exact answer equals the exact ranking."""
    rng = random.Random(seed)
    ids = [f"u{n}" for n in range(40)]
    hours = []
    for _ in range(24):
        items = {}
        for i in rng.sample(ids, rng.randint(3, 30)):
            runs = rng.randint(1, 6)
            cost = Decimal(rng.paretovariate(1.2)).quantize(Decimal("0.001"))
            items[i] = Item(runs=runs, successes=runs, cost=cost)
        hours.append(items)
    truth = exact_ranking(hours)
    k = rng.choice([3, 5, 50])
    day_a = merge_top([select(h, k) for h in hours[:12]], k)
    day_b = merge_top([select(h, k) for h in hours[12:]], k)
    ranking = rank([day_a, day_b], 5)
    assert sum(f.cost for f in truth.values()) == sum(
        (f.cost for d in (day_a, day_b) for f in [*d.listed.values(), d.rest.sums]), Decimal(0)
    )
    for i, figures in ranking.rows:
        assert figures.cost <= truth[i].cost <= figures.cost + figures.cost_error
        assert figures.runs <= truth[i].runs <= figures.runs + figures.runs_error
        assert truth[i].cost - figures.cost <= ranking.error_bound_cost
    listed = {i for i, _ in ranking.rows}
    last = ranking.rows[-1][1].cost
    for i, figures in truth.items():
        if i not in listed:  # an exactly known id ranked below, or within the bound
            assert figures.cost <= max(ranking.error_bound_cost, last)
    exact = sorted(truth, key=lambda i: truth[i].rank(i))[:5]
    if not ranking.approximate:
        assert [i for i, _ in ranking.rows] == exact
        assert all(f.cost == truth[i].cost for i, f in ranking.rows)
    if k == 50:  # nothing ever folded
        assert not ranking.approximate


def test_merge_top_remainder_bounds_every_dropped_id() -> None:
    rng = random.Random(9)
    hours = [{f"u{n}": item(rng.randint(1, 50)) for n in rng.sample(range(30), 12)}
             for _ in range(6)]  # fmt: skip
    truth = exact_ranking(hours)
    day = merge_top([select(h, 4) for h in hours], 4)
    for i, figures in truth.items():
        if i not in day.listed:
            assert figures.cost <= day.rest.max_cost
            assert figures.runs <= day.rest.max_runs
    assert day.rest.items is None
    assert day.rest.sums.cost + sum(f.cost for f in day.listed.values()) == sum(
        f.cost for f in truth.values()
    )
