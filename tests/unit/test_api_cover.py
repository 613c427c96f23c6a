"""``cover``, table-tested: the sources of each bucket of a range at the daily, hourly
and quarter-hour grains, and (for any boundaries and markers) an exact tiling in which
raw rows only answer dirty hours and partial quarter hours at bucket edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtally.api.cover import QUARTER, Cover, cover
from runtally.grid import DAY, HOUR, floor_to
from runtally.localtime import boundaries, zone

T0 = datetime(2026, 3, 10, tzinfo=UTC)  # a UTC midnight


def h(n: float) -> datetime:
    """T0 plus ``n`` hours."""
    return T0 + timedelta(hours=n)


def quarters(a: float, b: float) -> list[datetime]:
    """Quarter starts from h(a) to h(b), exclusive."""
    return [h(a + i / 4) for i in range(round((b - a) * 4))]


CASES = [
    # (id, boundaries, dirty hours, dirty days, use_daily, expected)
    ("inside one quarter", [h(1.05), h(1.2)], set(), set(), True, Cover(raw=[(h(1.05), h(1.2))])),
    (
        "inside one hour: quarters and two ragged ends",
        [h(1.1), h(1.9)], set(), set(), True,
        Cover(quarters=quarters(1.25, 1.75), raw=[(h(1.1), h(1.25)), (h(1.75), h(1.9))]),
    ),
    (
        "a Kolkata hour: half of two UTC hours",
        [h(0.5), h(1.5)], set(), set(), True, Cover(quarters=quarters(0.5, 1.5)),
    ),
    (
        "a dirty hour's part stays raw",
        [h(0.5), h(1.5)], {h(1)}, set(), True,
        Cover(quarters=quarters(0.5, 1), raw=[(h(1), h(1.5))]),
    ),
    ("one whole clean hour", [h(1), h(2)], set(), set(), True, Cover(hourly=[h(1)])),
    ("a whole clean day", [h(0), h(24)], set(), set(), True, Cover(daily=[h(0)])),
    (
        "a whole day, no daily rows",
        [h(0), h(24)], set(), set(), False, Cover(hourly=[h(i) for i in range(24)]),
    ),
    (
        "a day marker spoils the daily row",
        [h(0), h(24)], set(), {h(0)}, True, Cover(hourly=[h(i) for i in range(24)]),
    ),
    (
        "a New York day (05:00 to 05:00 UTC) uses the UTC day inside it only if whole",
        [h(5), h(29)], set(), set(), True, Cover(hourly=[h(i) for i in range(5, 29)]),
    ),
    (
        "a Kathmandu day at 18:15 UTC",
        [h(-5.75), h(18.25)], set(), set(), True,
        Cover(hourly=[h(i) for i in range(-5, 18)],
              quarters=quarters(-5.75, -5) + quarters(18, 18.25)),
    ),
    (
        "two buckets: raw never coalesces across their boundary",
        [h(1), h(2), h(3)], {h(1), h(2)}, set(), True, Cover(raw=[(h(1), h(2)), (h(2), h(3))]),
    ),
    (
        "adjacent dirty hours coalesce inside a bucket",
        [h(0.9), h(4)], {h(1), h(2)}, set(), True,
        Cover(hourly=[h(3)], raw=[(h(0.9), h(3))]),
    ),
    (
        "a dirty hour spoils its day",
        [h(0), h(48)], {h(30)}, set(), True,
        Cover(daily=[h(0)], hourly=[h(i) for i in range(24, 48) if i != 30], raw=[(h(30), h(31))]),
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("cuts", "dirty_hours", "dirty_days", "use_daily", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_cover_table(
    cuts: list[datetime],
    dirty_hours: set[datetime],
    dirty_days: set[datetime],
    use_daily: bool,
    expected: Cover,
) -> None:
    assert cover(cuts, dirty_hours, dirty_days, use_daily) == expected


def test_boundaries_in_other_offsets_are_used_in_utc() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    assert cover([h(0.5).astimezone(ist), h(1.5).astimezone(ist)], set(), set()) == Cover(
        quarters=quarters(0.5, 1.5)
    )


@pytest.mark.parametrize(
    "cuts",
    [[h(1)], [h(2), h(1)], [h(1), h(1)], [datetime(2026, 3, 10), datetime(2026, 3, 11)]],
)
def test_bad_boundaries_are_refused(cuts: list[datetime]) -> None:
    with pytest.raises(ValueError, match=r"start and an end|aware|ascending"):
        cover(cuts, set(), set())


def parts(found: Cover) -> list[tuple[datetime, datetime, str]]:
    out = [(d, d + DAY, "daily") for d in found.daily]
    out += [(x, x + HOUR, "hourly") for x in found.hourly]
    out += [(q, q + QUARTER, "q15") for q in found.quarters]
    out += [(a, b, "raw") for a, b in found.raw]
    return sorted(out)


def assert_exact_tiling(cuts: list[datetime], dirty: set[datetime], days: set[datetime],
                        use_daily: bool) -> None:  # fmt: skip
    found = cover(cuts, dirty, days, use_daily)
    pieces = parts(found)
    # The pieces tile [first, last) exactly: no gap, no overlap.
    assert pieces[0][0] == cuts[0]
    assert pieces[-1][1] == cuts[-1]
    assert all(a[1] == b[0] for a, b in pairwise(pieces))
    spoiled = days | {floor_to(x, DAY) for x in dirty}
    for start, end, source in pieces:
        # No piece straddles a bucket boundary.
        assert not any(start < cut < end for cut in cuts)
        if source == "daily":
            assert use_daily
            assert start not in spoiled
        elif source in ("hourly", "q15"):
            assert floor_to(start, HOUR) not in dirty
        else:
            # Raw only for dirty hours, or within a quarter cut by a bucket edge.
            for moment in (start, end - timedelta(microseconds=1)):
                hour, quarter = floor_to(moment, HOUR), floor_to(moment, QUARTER)
                cut_quarter = any(quarter < cut < quarter + QUARTER for cut in cuts)
                assert hour in dirty or cut_quarter, (start, end)


minutes = st.integers(min_value=0, max_value=3 * 24 * 60)


@settings(max_examples=300, deadline=None)
@given(
    offsets=st.lists(minutes, min_size=2, max_size=8, unique=True),
    dirty=st.sets(st.integers(min_value=0, max_value=72), max_size=6),
    days=st.sets(st.integers(min_value=0, max_value=2), max_size=2),
    use_daily=st.booleans(),
)
def test_any_cover_tiles_its_range_exactly(
    offsets: list[int], dirty: set[int], days: set[int], use_daily: bool
) -> None:
    cuts = [T0 + timedelta(minutes=m) for m in sorted(offsets)]
    assert_exact_tiling(cuts, {h(x) for x in dirty}, {T0 + DAY * d for d in days}, use_daily)


@pytest.mark.parametrize(
    "name", ["America/New_York", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu",
             "Australia/Adelaide"],
)  # fmt: skip
@pytest.mark.parametrize("granularity", ["day", "hour"])
def test_local_buckets_across_dst_need_raw_rows_only_for_dirty_hours(
    name: str, granularity: str
) -> None:
    start, end = datetime(2026, 3, 1, 0, 7, tzinfo=UTC), datetime(2026, 4, 10, 0, 7, tzinfo=UTC)
    cuts = boundaries(start, end, granularity, zone(name))
    assert_exact_tiling(cuts, {h(5)}, set(), granularity == "day")
    found = cover(cuts, set(), set(), granularity == "day")
    # Clean: raw rows only at the two range edges, 7 minutes each.
    assert found.raw == [(start, start + timedelta(minutes=8)), (end - timedelta(minutes=7), end)]
