"""An hour's rows merged from its quarter-hour rows equal the hour tallied directly."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from runtally.cube import GroupKey
from runtally.grid import QUARTER
from runtally.rollup.quarters import hour_of_quarters
from runtally.sketch import LatencySketch, hll_estimate, hll_from_values
from runtally.tally import Tally

HOUR = datetime(2026, 3, 8, 7, tzinfo=UTC)
Run = tuple[int, str, float, str]  # quarter, agent, duration, user


def tally_of(runs: list[Run]) -> Tally:
    durations = [r[2] for r in runs]
    return Tally(
        runs=len(runs), successes=len(runs), duration_sum=sum(durations),
        duration_min=min(durations), duration_max=max(durations),
        latency=LatencySketch.from_values(durations),
        users=[b] if (b := hll_from_values(r[3] for r in runs)) else [],
    )  # fmt: skip


def make_runs(seed: int) -> list[Run]:
    rng = random.Random(seed)
    return [
        (rng.randrange(4), rng.choice("ab"), rng.randrange(0, 90_000) / 4, f"u{rng.randrange(900)}")
        for _ in range(4000)
    ]


def quarters_of(runs: list[Run]) -> dict[GroupKey, Tally]:
    cells: dict[tuple[int, str], list[Run]] = {}
    for run in runs:
        cells.setdefault(run[:2], []).append(run)
    return {
        GroupKey(HOUR + q * QUARTER, agent, "m", ""): tally_of(members)
        for (q, agent), members in cells.items()
    }


def test_merged_quarters_equal_the_hour_tallied_from_its_runs() -> None:
    runs = make_runs(1)
    quarters = quarters_of(runs)
    before = {key: tally.to_row() for key, tally in quarters.items()}
    hourly = hour_of_quarters(HOUR, quarters)
    assert set(hourly) == {GroupKey(HOUR, "a", "m", ""), GroupKey(HOUR, "b", "m", "")}
    for agent in "ab":
        truth = tally_of([r for r in runs if r[1] == agent])
        got = hourly[GroupKey(HOUR, agent, "m", "")]
        assert (got.runs, got.duration_min, got.duration_max) == (
            truth.runs, truth.duration_min, truth.duration_max,
        )  # fmt: skip
        assert got.duration_sum == pytest.approx(truth.duration_sum, rel=1e-12)
        assert got.latency == truth.latency
        distinct = len({r[3] for r in runs if r[1] == agent})
        assert abs(got.unique_users - distinct) <= 0.03 * distinct
    # The quarters themselves are left untouched.
    assert {key: tally.to_row() for key, tally in quarters.items()} == before


def test_merging_is_deterministic_whatever_the_input_order() -> None:
    quarters = quarters_of(make_runs(2))
    shuffled = dict(random.Random(3).sample(list(quarters.items()), len(quarters)))
    one = hour_of_quarters(HOUR, quarters)
    other = hour_of_quarters(HOUR, shuffled)
    for key, tally in one.items():
        assert tally.to_row() == other[key].to_row()
        assert hll_estimate(tally.to_row()["users_hll"]) == tally.unique_users


@pytest.mark.parametrize(
    "key",
    [
        GroupKey(HOUR + timedelta(hours=1), "a", "m", ""),
        GroupKey(HOUR - QUARTER, "a", "m", ""),
        GroupKey(HOUR, "a", "", "", dims=1),
    ],
)
def test_a_quarter_outside_the_hour_or_not_full_key_is_refused(key: GroupKey) -> None:
    with pytest.raises(ValueError, match="not a full-key quarter"):
        hour_of_quarters(HOUR, {key: Tally(runs=1)})
