"""Grouping sets: which set a reader needs, key projection, and the cube of tallies
against sums computed independently from the runs themselves."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime

import pytest

from runtally.cube import AGENT, ERROR_TYPE, FULL, GROUPING_SETS, MODEL, GroupKey, cube, dims_of
from runtally.cube import project as project_key
from runtally.sketch import LatencySketch
from runtally.tally import Tally

HOUR = datetime(2026, 11, 24, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("columns", "dims"),
    [
        ((), 0),
        ((None, None), 0),
        (("agent",), AGENT),
        (("model",), MODEL),
        (("error_type",), ERROR_TYPE),
        (("agent", None, "model"), AGENT | MODEL),
        (("model", "error_type"), MODEL | ERROR_TYPE),
        (("agent", "agent"), AGENT),
        (("agent", "model", "error_type"), FULL),
    ],
)
def test_dims_of(columns: tuple[str | None, ...], dims: int) -> None:
    assert dims_of(columns) == dims


def test_dims_of_refuses_a_non_key_column() -> None:
    with pytest.raises(KeyError):
        dims_of(["user"])


@pytest.mark.parametrize(
    ("dims", "expected"),
    [
        (0, ("", "", "")),
        (AGENT, ("coder", "", "")),
        (MODEL, ("", "gpt-4o", "")),
        (ERROR_TYPE, ("", "", "timeout")),
        (AGENT | ERROR_TYPE, ("coder", "", "timeout")),
        (FULL, ("coder", "gpt-4o", "timeout")),
    ],
)
def test_project_blanks_the_dropped_columns(dims: int, expected: tuple[str, str, str]) -> None:
    key = project_key(GroupKey(HOUR, "coder", "gpt-4o", "timeout"), dims)
    assert (key.bucket, key.agent, key.model, key.error_type, key.dims) == (HOUR, *expected, dims)


def test_cube_matches_sums_over_the_runs_at_every_grouping_set() -> None:
    rng = random.Random(5)
    runs = [
        (rng.choice("abc"), rng.choice("xy"), rng.choice(["", "", "timeout", "oom"]),
         rng.randrange(1, 5000) / 4)
        for _ in range(2000)
    ]  # fmt: skip
    full: dict[GroupKey, Tally] = defaultdict(Tally)
    for agent, model, error, duration in runs:
        tally = full[GroupKey(HOUR, agent, model, error)]
        tally.merge(
            Tally(runs=1, successes=int(not error), failures=int(bool(error)),
                  duration_sum=duration, duration_min=duration, duration_max=duration,
                  latency=LatencySketch.from_values([duration]))
        )  # fmt: skip
    rows = cube(full)
    assert {key.dims for key in rows} == set(GROUPING_SETS)
    for dims in GROUPING_SETS:
        expected: dict[tuple[str, str, str], list[float]] = defaultdict(list)
        for agent, model, error, duration in runs:
            cells = (
                agent if dims & 1 else "",
                model if dims & 2 else "",
                error if dims & 4 else "",
            )
            expected[cells].append(duration)
        got = {(k.agent, k.model, k.error_type): t for k, t in rows.items() if k.dims == dims}
        assert set(got) == set(expected), dims
        for cells, durations in expected.items():
            tally = got[cells]
            assert tally.runs == len(durations)
            assert tally.duration_sum == sum(durations)  # quarters: exact in any order
            assert (tally.duration_min, tally.duration_max) == (min(durations), max(durations))
            assert tally.latency == LatencySketch.from_values(durations)


def test_cube_leaves_its_input_untouched_and_refuses_coarse_rows() -> None:
    one = Tally(runs=2, successes=2, latency=LatencySketch.from_values([1.0, 2.0]))
    full = {GroupKey(HOUR, "a", "m", ""): one}
    rows = cube(full)
    rows[GroupKey(HOUR, "", "", "", 0)].merge(one)
    assert (one.runs, one.latency.count) == (2, 2)
    with pytest.raises(ValueError):
        cube({GroupKey(HOUR, "a", "", "", AGENT): one})
