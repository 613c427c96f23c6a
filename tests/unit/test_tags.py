"""Tag rows: the value cap and ``__other__`` fold, grouping sets, day merges — against
sums computed independently from the runs, and the rolled-up keys of the settings."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from runtally.config import Settings
from runtally.cube import AGENT, ERROR_TYPE, FULL, MODEL
from runtally.tags import (
    OTHER,
    TAG_GROUPING_SETS,
    TagKey,
    complete_combos,
    derive_sets,
    fold,
    kept_values,
    rebucket,
)
from runtally.tally import Tally

HOUR = datetime(2026, 11, 24, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("runs", "cap", "kept"),
    [
        ({}, 3, set()),
        ({"a": 5, "b": 1}, 3, {"a", "b"}),
        ({"a": 5, "b": 1, "c": 9}, 2, {"a", "c"}),
        ({"b": 2, "a": 2, "c": 2}, 2, {"a", "b"}),  # ties: the smaller value
        ({OTHER: 100, "a": 1}, 1, {"a"}),  # __other__ is never a kept value
        ({"a": 1, "b": 1}, 1, {"a"}),
    ],
)
def test_kept_values(runs: dict[str, int], cap: int, kept: set[str]) -> None:
    assert kept_values(runs, cap) == kept


def _tally(runs: int, cost: int = 0) -> Tally:
    from decimal import Decimal

    return Tally(runs=runs, successes=runs, duration_sum=float(runs), duration_min=1.0,
                 duration_max=1.0, cost_usd=Decimal(cost))  # fmt: skip


def test_fold_keeps_sums_exact_with_a_runaway_key() -> None:
    """A request id sent as a tag: one value per run. At most cap + 1 values remain
    per bucket and grouping set, and every set still sums to all runs."""
    rng = random.Random(3)
    runs = [(f"req-{i}", rng.choice("ab"), rng.choice("xy")) for i in range(500)]
    runs += [("hot", "a", "x")] * 40 + [("warm", "b", "y")] * 20
    full: dict[TagKey, Tally] = defaultdict(Tally)
    for value, agent, model in runs:
        full[TagKey(HOUR, "request_id", value, agent, model, "")].merge(_tally(1))
    rows = fold(derive_sets(full), cap=10)
    for dims in TAG_GROUPING_SETS:
        mine = {k: t for k, t in rows.items() if k.dims == dims}
        assert sum(t.runs for t in mine.values()) == len(runs)
        assert len({k.value for k in mine}) == 11
    top = {k.value: t.runs for k, t in rows.items() if k.dims == 0}
    assert (top["hot"], top["warm"]) == (40, 20)
    assert top[OTHER] == len(runs) - 40 - 20 - 8  # 8 req-* values kept (ties: smaller)
    kept_req = sorted(v for v in top if v.startswith("req-"))
    assert kept_req == sorted(f"req-{i}" for i in range(500))[:8]


def test_derive_sets_against_runs() -> None:
    rng = random.Random(5)
    runs = [(rng.choice(["prod", "dev"]), rng.choice("abc"), rng.choice("xy"),
             rng.choice(["", "", "timeout"])) for _ in range(300)]  # fmt: skip
    full: dict[TagKey, Tally] = defaultdict(Tally)
    for value, agent, model, error in runs:
        full[TagKey(HOUR, "environment", value, agent, model, error)].merge(_tally(1))
    rows = derive_sets(full)
    assert {k.dims for k in rows} == set(TAG_GROUPING_SETS)
    expected: Counter[tuple[object, ...]] = Counter()
    for value, agent, model, error in runs:
        for dims in TAG_GROUPING_SETS:
            expected[(dims, value, agent if dims & AGENT else "", model if dims & MODEL else "",
                      error if dims & ERROR_TYPE else "")] += 1  # fmt: skip
    got = {(k.dims, k.value, k.agent, k.model, k.error_type): t.runs for k, t in rows.items()}
    assert got == dict(expected)


def test_derive_sets_keeps_collapsed_rows_at_set_0() -> None:
    """A (bucket, key) the aggregate collapsed (``dims == 0``: too few runs per
    combination) stays at set 0 and sums every run; a full-key key of the same hour
    gets every set, each summing every run."""
    rng = random.Random(8)
    rows: dict[TagKey, Tally] = defaultdict(Tally)
    runs = [(f"c{i % 50}", rng.choice("abc"), rng.choice("xy")) for i in range(60)]
    for customer, agent, model in runs:
        rows[TagKey(HOUR, "customer", customer, "", "", "", 0)].merge(_tally(1))
        rows[TagKey(HOUR, "environment", "prod", agent, model, "")].merge(_tally(1))
    derived = derive_sets(rows)
    sets = {key: {k.dims for k in derived if k.key == key} for key in ("customer", "environment")}
    assert sets == {"customer": {0}, "environment": set(TAG_GROUPING_SETS)}
    customers = {k.value: t.runs for k, t in derived.items() if k.key == "customer"}
    assert customers == dict(Counter(c for c, _, _ in runs))
    for dims in TAG_GROUPING_SETS:
        assert sum(t.runs for k, t in derived.items()
                   if k.key == "environment" and k.dims == dims) == len(runs)  # fmt: skip


def test_complete_combos_drops_a_key_some_bucket_keeps_without_them() -> None:
    """Hours into a day: a key's combination rows are merged only when every hour with
    runs of the key has them; its set-0 rows always are."""
    h0, h1 = HOUR, HOUR + timedelta(hours=1)
    rows = [
        (TagKey(h0, "customer", "c1", "", "", "", 0), _tally(2)),
        (TagKey(h0, "customer", "c1", "a", "", "", AGENT), _tally(2)),
        (TagKey(h1, "customer", "c2", "", "", "", 0), _tally(1)),  # h1: no combinations
        (TagKey(h0, "environment", "prod", "", "", "", 0), _tally(2)),
        (TagKey(h0, "environment", "prod", "a", "", "", AGENT), _tally(2)),
    ]
    kept = [(k.key, k.dims) for k, _ in complete_combos(rows)]
    assert kept == [("customer", 0), ("customer", 0), ("environment", 0), ("environment", AGENT)]


def test_derive_sets_refuses_coarse_rows() -> None:
    with pytest.raises(ValueError, match="full-key or set-0"):
        derive_sets({TagKey(HOUR, "k", "v", "a", "", "", dims=AGENT): _tally(1)})


def test_day_fold_reapplies_the_cap_and_keeps_other_exact() -> None:
    """Hours each keep their own top values; the day keeps the day's top ones, and the
    hours' __other__ rows plus the values the day drops make the day's __other__."""
    hours = [HOUR + timedelta(hours=h) for h in range(3)]
    per_hour = [{"a": 5, "b": 4, OTHER: 7}, {"c": 9, "a": 1, OTHER: 2}, {"b": 3, "d": 2}]
    rows = []
    for hour, values in zip(hours, per_hour, strict=True):
        for value, n in values.items():
            rows.append((TagKey(hour, "k", value, "", "", "", dims=0), _tally(n, cost=n)))
    day = fold(rebucket(rows, HOUR.replace(hour=0)), cap=2)
    got = {k.value: (t.runs, t.cost_usd) for k, t in day.items()}
    assert got == {"c": (9, 9), "b": (7, 7), OTHER: (6 + 2 + 9, 6 + 2 + 9)}
    assert sum(t.runs for t in day.values()) == sum(sum(v.values()) for v in per_hour)


def test_fold_is_deterministic() -> None:
    rows = {TagKey(HOUR, "k", f"v{i}", "a", "", "", dims=AGENT): _tally(i % 3 + 1)
            for i in range(50)}  # fmt: skip
    again = dict(reversed(list(rows.items())))
    assert {k: t.to_row() for k, t in fold(rows, 5).items()} == {
        k: t.to_row() for k, t in fold(again, 5).items()
    }


@pytest.mark.parametrize(
    ("extra", "keys"),
    [
        ("", ("environment", "release")),
        ("customer", ("environment", "release", "customer")),
        (" customer , region,,release", ("environment", "release", "customer", "region")),
    ],
)
def test_settings_tag_keys(extra: str, keys: tuple[str, ...]) -> None:
    assert Settings(rollup_tags=extra).tag_keys == keys


def test_settings_refuse_a_long_tag_key() -> None:
    with pytest.raises(ValueError, match="at most 64"):
        Settings(rollup_tags="x" * 65)


def test_full_key_default() -> None:
    assert TagKey(HOUR, "k", "v", "a", "m", "e").dims == FULL
