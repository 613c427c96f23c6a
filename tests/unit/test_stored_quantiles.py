"""Stored percentiles: which rollup buckets make an answer bucket alone
(``cover.lone_sources``, table-tested and checked against interval overlap for any cover),
and the ``StoredQuantiles`` stand-in (answers its stored values, refuses every merge)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtally.api.cover import QUARTER, Cover, cover, lone_sources
from runtally.cube import GroupKey
from runtally.grid import DAY, HOUR
from runtally.localtime import boundaries, zone
from runtally.quantiles import quantiles_of
from runtally.rollup.rows import record, stored_percentiles
from runtally.sketch import LatencySketch
from runtally.stored_quantiles import StoredQuantiles
from runtally.tally import Tally

T0 = datetime(2026, 3, 10, tzinfo=UTC)  # a UTC midnight


def h(n: float) -> datetime:
    return T0 + timedelta(hours=n)


CASES = [
    # (id, boundaries, dirty hours, use_daily, expected lone buckets)
    ("an aligned hour alone", [h(1), h(2)], set(), True, {h(1)}),
    ("a summary of two hours: neither alone", [h(1), h(3)], set(), True, set()),
    ("an hourly series: every whole hour", [h(1), h(2), h(3)], set(), False, {h(1), h(2)}),
    ("edge hours share with raw", [h(0.9), h(1), h(2), h(2.1)], set(), False, {h(1)}),
    ("quarters beside a raw edge are not alone", [h(1.1), h(2)], set(), False, set()),
    ("a Kolkata hour: four quarters together", [h(0.5), h(1.5)], set(), False, set()),
    ("a dirty hour is raw, its neighbours stay alone", [h(0), h(1), h(2), h(3)], {h(1)}, False,
     {h(0), h(2)}),
    ("a daily series: whole clean days", [h(0), h(24), h(48)], set(), True, {h(0), h(24)}),
    ("a dirty hour spoils its day's rows", [h(0), h(24), h(48)], {h(30)}, True, {h(0)}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("cuts", "dirty", "use_daily", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_lone_sources_table(
    cuts: list[datetime], dirty: set[datetime], use_daily: bool, expected: set[datetime]
) -> None:
    assert lone_sources(cuts, cover(cuts, dirty, set(), use_daily)) == expected


def test_a_25_hour_local_day_is_a_utc_day_and_an_hour() -> None:
    # London falls back on 2026-10-25: that local day runs 23:00 UTC to 00:00 UTC + 1 day.
    cuts = boundaries(datetime(2026, 10, 24, 23, tzinfo=UTC),
                      datetime(2026, 10, 26, tzinfo=UTC), "day", zone("Europe/London"))  # fmt: skip
    found = cover(cuts, set(), set())
    assert found.daily == [datetime(2026, 10, 25, tzinfo=UTC)]
    assert lone_sources(cuts, found) == set()


def spans(found: Cover) -> list[tuple[datetime, datetime, bool]]:
    """Every source as (start, end, is a rollup row)."""
    out = [(d, d + DAY, True) for d in found.daily]
    out += [(x, x + HOUR, True) for x in found.hourly]
    out += [(q, q + QUARTER, True) for q in found.quarters]
    return out + [(a, b, False) for a, b in found.raw]


@settings(max_examples=300, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=3 * 24 * 4), min_size=2, max_size=8,
                     unique=True),
    dirty=st.sets(st.integers(min_value=0, max_value=72), max_size=6),
    use_daily=st.booleans(),
)  # fmt: skip
def test_lone_means_the_only_source_overlapping_its_answer_bucket(
    offsets: list[int], dirty: set[int], use_daily: bool
) -> None:
    cuts = [T0 + QUARTER * m for m in sorted(offsets)]
    found = cover(cuts, {h(x) for x in dirty}, set(), use_daily)
    lone = lone_sources(cuts, found)
    sources = spans(found)
    for start, end in pairwise(cuts):
        inside = [s for s in sources if s[0] < end and start < s[1]]
        for source in inside:
            assert (source[0] in lone) == (source[2] and len(inside) == 1)


def binned() -> LatencySketch:
    return LatencySketch.from_arrays(2, [10, 40, 90], [5, 1, 3])


def test_stored_values_are_answered_as_they_are() -> None:
    values = [1.5, 2.0, 3.0, 4.0, 5.0]
    stored = StoredQuantiles(values)
    other = binned()
    found = quantiles_of([stored, other], [(0.0, 1.0), (None, None)])
    assert list(found[0].values()) == values  # not clamped again
    assert found[1] == other.quantiles()
    assert stored.quantiles(0.0, 1.0) == found[0]


def test_stored_percentiles_are_those_a_read_computes() -> None:
    tallies = [Tally(runs=11, duration_min=0.0, duration_max=50.0, latency=binned()),
               Tally(runs=1, duration_min=7.0, duration_max=7.0,
                     latency=LatencySketch.from_values([7.0]))]  # fmt: skip
    # The read's batch computation (``quantiles_of``) is the reference.
    read = quantiles_of([t.latency for t in tallies],
                        [(t.duration_min, t.duration_max) for t in tallies])  # fmt: skip
    for tally, values in zip(tallies, read, strict=True):
        row = record("p", GroupKey(datetime(2026, 1, 1, tzinfo=UTC), "a", "m", ""), tally)
        assert stored_percentiles(row) == list(values.values())


@pytest.mark.parametrize(
    "attempt",
    [
        lambda s: binned().merge(s),
        lambda s: s.merge(binned()),
        lambda s: s.subtract(binned()),
        lambda s: s.parts(),
        lambda s: s.bins,
        lambda s: Tally.merged([Tally(runs=1, latency=s)]),
    ],
    ids=["into a sketch", "a sketch into it", "subtract", "parts", "bins", "a tally merge"],
)
def test_stored_percentiles_refuse_every_merge(attempt: object) -> None:
    with pytest.raises(ValueError, match="bins"):
        attempt(StoredQuantiles([1.0] * 5))  # type: ignore[operator]


def test_five_values_are_required() -> None:
    with pytest.raises(ValueError, match="5 stored percentiles"):
        StoredQuantiles([1.0, 2.0])
