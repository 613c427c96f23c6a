"""Bounded top-K users/sessions per bucket, merged across buckets with an error bound (pure).

Each rollup bucket keeps its ``k`` ids with the highest cost (ties: more runs, then the
smaller id) as ``listed`` figures, and one ``Rest``: the exact sums of every other id,
and ``max_cost``/``max_runs``, an upper bound of what any single folded id has in the
bucket (in an hour: the largest folded id's figures, exactly; never more than the K-th
listed value nor the remainder's sum).

Merging buckets gives each id the sum of its listed figures (``Item.cost``: a lower
bound) and an error: for every bucket where it is not listed, that bucket's
``max_cost`` (the id may hide in that remainder), plus the errors its listed figures
already carry. An id listed nowhere may have up to the sum of every bucket's
``max_cost``. A merged ranking is therefore exact only when no listed id has an error
and no unlisted id's bound reaches the last listed cost; ``Ranking`` says which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal

ZERO = Decimal(0)


@dataclass
class Item:
    """Figures of one id (or of a remainder): sums, plus how much they may lack."""

    runs: int = 0
    successes: int = 0
    duration_sum: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost: Decimal = ZERO
    cost_error: Decimal = ZERO
    runs_error: int = 0

    def add(self, other: Item) -> None:
        mine, theirs = vars(self), vars(other)
        for name in ALL:  # a module tuple: dataclasses.fields() per call was the hot spot
            mine[name] += theirs[name]

    def minus(self, other: Item) -> Item:
        """Sums of ``self`` less ``other`` (errors are not subtracted: they stay 0)."""
        mine, theirs = vars(self), vars(other)
        out = Item()
        for name in SUMMED:
            setattr(out, name, mine[name] - theirs[name])
        return out

    def rank(self, item: str) -> tuple[Decimal, int, str]:
        """Sort key: highest cost, then most runs, then the smaller id."""
        return (-self.cost, -self.runs, item)


ALL = tuple(f.name for f in fields(Item))
SUMMED = tuple(name for name in ALL if name not in ("cost_error", "runs_error"))


@dataclass
class Rest:
    """The ids of a bucket not listed: exact sums, how many (None: not known exactly),
    and an upper bound of any single one's cost and runs."""

    sums: Item = field(default_factory=Item)
    items: int | None = 0
    max_cost: Decimal = ZERO
    max_runs: int = 0


@dataclass
class BucketTop:
    listed: dict[str, Item] = field(default_factory=dict)
    rest: Rest = field(default_factory=Rest)


def select(items: Mapping[str, Item], k: int) -> BucketTop:
    """One bucket's top ``k`` of exact per-id figures, and the exact remainder."""
    order = sorted(items, key=lambda i: items[i].rank(i))
    listed = {i: items[i] for i in order[:k]}
    rest = Rest(items=len(order) - len(listed))
    for i in order[k:]:
        rest.sums.add(items[i])
        rest.max_cost = max(rest.max_cost, items[i].cost)
        rest.max_runs = max(rest.max_runs, items[i].runs)
    return BucketTop(listed, rest)


@dataclass
class Merged:
    """Ids of several buckets: known figures with their errors, the total over all
    ids, and the bound of an id listed in none of them."""

    items: dict[str, Item]
    total: Item
    unseen_cost: Decimal
    unseen_runs: int


def merge(buckets: Sequence[BucketTop]) -> Merged:
    """Sum each id's listed figures; add the remainder bounds of buckets missing it."""
    items: dict[str, Item] = {}
    seen_cost: dict[str, Decimal] = {}  # sum of max_cost over the buckets listing the id
    seen_runs: dict[str, int] = {}
    total = Item()
    for bucket in buckets:
        total.add(bucket.rest.sums)
        max_cost, max_runs = bucket.rest.max_cost, bucket.rest.max_runs
        for item, figures in bucket.listed.items():
            if item not in items:
                items[item], seen_cost[item], seen_runs[item] = Item(), ZERO, 0
            items[item].add(figures)
            seen_cost[item] += max_cost
            seen_runs[item] += max_runs
            total.add(figures)
    unseen_cost = sum((b.rest.max_cost for b in buckets), ZERO)
    unseen_runs = sum(b.rest.max_runs for b in buckets)
    # The buckets missing an id are all but those listing it (Decimal sums are exact).
    for item, figures in items.items():
        figures.cost_error += unseen_cost - seen_cost[item]
        figures.runs_error += unseen_runs - seen_runs[item]
    total.cost_error, total.runs_error = ZERO, 0
    return Merged(items, total, unseen_cost, unseen_runs)


def merge_top(buckets: Sequence[BucketTop], k: int) -> BucketTop:
    """Buckets merged into one (hours into a day), keeping the top ``k`` by known cost.

    The new remainder's sums are exact (everything not attributed to a kept id); its
    bounds cover both ids listed somewhere but not kept and ids listed nowhere.
    """
    merged = merge(buckets)
    order = sorted(merged.items, key=lambda i: merged.items[i].rank(i))
    kept = {i: merged.items[i] for i in order[:k]}
    attributed = Item()
    for figures in kept.values():
        attributed.add(figures)
    rest = Rest(sums=merged.total.minus(attributed), items=None)
    rest.max_cost, rest.max_runs = merged.unseen_cost, merged.unseen_runs
    for i in order[k:]:
        dropped = merged.items[i]
        rest.max_cost = max(rest.max_cost, dropped.cost + dropped.cost_error)
        rest.max_runs = max(rest.max_runs, dropped.runs + dropped.runs_error)
    rest.max_cost = min(rest.max_cost, rest.sums.cost)
    rest.max_runs = min(rest.max_runs, rest.sums.runs)
    if not buckets or (all(b.rest.items == 0 for b in buckets) and len(order) <= k):
        rest.items = len(order) - len(kept)  # nothing was ever folded: still exact
    return BucketTop(kept, rest)


@dataclass(frozen=True)
class Ranking:
    """The top ``limit`` ids of merged buckets.

    ``rows``: (id, figures) by known cost; ``figures.cost`` is a lower bound and
    ``cost + cost_error`` an upper bound (equal when exact). ``approximate``: the rows
    or their order may differ from the exact ranking (a listed id's figures may lack
    something, or an id not listed, folded into some remainder, may reach the last
    row). ``error_bound_cost``/``error_bound_runs``: the most a listed id's figures may
    lack, or an id not listed may have (0 when exact).
    """

    rows: list[tuple[str, Item]]
    approximate: bool
    error_bound_cost: Decimal
    error_bound_runs: int


@dataclass(frozen=True)
class Outside:
    """What a ranking knows of the ids below its rows: whether any bucket folded ids
    (``folded``), how many listed ids below the rows carry an error (``unsure``) and the
    largest upper bound of their cost and runs, and the bound of an id listed nowhere."""

    folded: bool
    unsure: int
    unsure_cost: Decimal
    unsure_runs: int
    unseen_cost: Decimal
    unseen_runs: int


def verdict(rows: list[tuple[str, Item]], limit: int, outside: Outside) -> Ranking:
    """The ranking of ``rows`` (the top ``limit`` by known cost) with its exactness and
    bounds, given what is known of the ids below them."""
    cost, runs = outside.unsure_cost, outside.unsure_runs
    if outside.folded:
        cost, runs = max(cost, outside.unseen_cost), max(runs, outside.unseen_runs)
    row_cost = max((f.cost_error for _, f in rows), default=ZERO)
    row_runs = max((f.runs_error for _, f in rows), default=0)
    last = rows[-1][1].cost if rows else ZERO
    unsure = outside.folded or outside.unsure > 0
    approximate = bool(row_cost or row_runs) or (unsure and (cost >= last or len(rows) < limit))
    return Ranking(rows, approximate, max(row_cost, cost), max(row_runs, runs))


def rank(buckets: Sequence[BucketTop], limit: int) -> Ranking:
    """The merged top ``limit`` over ``buckets``, with its exactness and bounds."""
    merged = merge(buckets)
    order = sorted(merged.items, key=lambda i: merged.items[i].rank(i))
    rows = [(i, merged.items[i]) for i in order[:limit]]
    # Ids whose figures are not all known: listed somewhere with an error, or nowhere.
    unsure = [merged.items[i] for i in order[limit:] if merged.items[i].cost_error
              or merged.items[i].runs_error]  # fmt: skip
    outside = Outside(
        folded=any(b.rest.sums.runs for b in buckets),
        unsure=len(unsure),
        unsure_cost=max([f.cost + f.cost_error for f in unsure], default=ZERO),
        unsure_runs=max([f.runs + f.runs_error for f in unsure], default=0),
        unseen_cost=merged.unseen_cost,
        unseen_runs=merged.unseen_runs,
    )
    return verdict(rows, limit, outside)
