"""The hour-grain plan of tag and top-K answers, table-tested: every instant of a range
is covered by exactly one segment, and each segment's source follows the dirty markers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

import pytest

from runtally.api.hourplan import Plan, plan
from runtally.grid import DAY, HOUR, ceil_to, floor_to

T0 = datetime(2026, 3, 10, tzinfo=UTC)  # a UTC midnight


def h(n: float) -> datetime:
    """T0 plus ``n`` hours."""
    return T0 + timedelta(hours=n)


def hours(a: int, b: int) -> list[datetime]:
    return [h(i) for i in range(a, b)]


CASES = [
    # (id, start, end, dirty hours, dirty days, use_daily, expected plan)
    ("inside one hour", h(1.25), h(1.5), set(), set(), True, Plan(raw=[(h(1.25), h(1.5))])),
    ("one whole clean hour", h(1), h(2), set(), set(), True, Plan(hourly=[h(1)])),
    ("one whole dirty hour", h(1), h(2), {h(1)}, set(), True, Plan(raw=[(h(1), h(2))])),
    (
        "edges cut two hours",
        h(1.5),
        h(4.25),
        set(),
        set(),
        True,
        Plan(hourly=[h(2), h(3)], raw=[(h(1.5), h(2)), (h(4), h(4.25))]),
    ),
    (
        "dirty hour next to an edge coalesces",
        h(1.5),
        h(4),
        {h(2)},
        set(),
        True,
        Plan(hourly=[h(3)], raw=[(h(1.5), h(3))]),
    ),
    (
        "adjacent dirty hours coalesce",
        h(0),
        h(5),
        {h(1), h(2), h(4)},
        set(),
        True,
        Plan(hourly=[h(0), h(3)], raw=[(h(1), h(3)), (h(4), h(5))]),
    ),
    ("a whole clean day", h(0), h(24), set(), set(), True, Plan(daily=[h(0)])),
    (
        "a whole day, hourly granularity",
        h(0),
        h(24),
        set(),
        set(),
        False,
        Plan(hourly=hours(0, 24)),
    ),
    (
        "day with a dirty hour falls back to hours",
        h(0),
        h(24),
        {h(5)},
        set(),
        True,
        Plan(hourly=hours(0, 5) + hours(6, 24), raw=[(h(5), h(6))]),
    ),
    (
        "day with a day marker falls back to hours",
        h(0),
        h(24),
        set(),
        {h(0)},
        True,
        Plan(hourly=hours(0, 24)),
    ),
    (
        "partial days use hours, whole day uses daily",
        h(-2.5),
        h(26),
        set(),
        set(),
        True,
        Plan(daily=[h(0)], hourly=[h(-2), h(-1), h(24), h(25)], raw=[(h(-2.5), h(-2))]),
    ),
    (
        "markers outside the range are ignored",
        h(0),
        h(48),
        {h(50), h(-1)},
        {h(48), h(-24)},
        True,
        Plan(daily=[h(0), h(24)]),
    ),
    (
        "an edge over half a clean hour is trimmed from the hour",
        h(1.25),
        h(3.75),
        set(),
        set(),
        True,
        Plan(hourly=[h(2)], trimmed=[(h(1.25), h(2)), (h(3), h(3.75))]),
    ),
    (
        "an edge over half a dirty hour stays raw",
        h(1.25),
        h(3.75),
        {h(1), h(3)},
        set(),
        True,
        Plan(hourly=[h(2)], raw=[(h(1.25), h(2)), (h(3), h(3.75))]),
    ),
    (
        "exactly half an hour stays raw",
        h(1.5),
        h(3),
        set(),
        set(),
        True,
        Plan(hourly=[h(2)], raw=[(h(1.5), h(2))]),
    ),
    (
        "most of one hour is trimmed",
        h(1) + timedelta(minutes=1),
        h(2) - timedelta(minutes=1),
        set(),
        set(),
        True,
        Plan(trimmed=[(h(1) + timedelta(minutes=1), h(2) - timedelta(minutes=1))]),
    ),
    (
        "two edges and no whole hour",
        h(1.1),
        h(2.2),
        set(),
        set(),
        True,
        Plan(trimmed=[(h(1.1), h(2))], raw=[(h(2), h(2.2))]),
    ),
    (
        "one-microsecond range",
        h(3),
        h(3) + timedelta(microseconds=1),
        set(),
        set(),
        True,
        Plan(raw=[(h(3), h(3) + timedelta(microseconds=1))]),
    ),
]


@pytest.mark.parametrize(
    ("start", "end", "dirty", "dirty_days", "use_daily", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_plan_table(
    start: datetime,
    end: datetime,
    dirty: set[datetime],
    dirty_days: set[datetime],
    use_daily: bool,
    expected: Plan,
) -> None:
    assert plan(start, end, dirty, dirty_days, use_daily) == expected


def _covered(result: Plan) -> list[tuple[datetime, datetime]]:
    parts = [(d, d + DAY) for d in result.daily] + [(x, x + HOUR) for x in result.hourly]
    return sorted(parts + result.raw + result.trimmed)


@pytest.mark.parametrize("use_daily", [True, False])
@pytest.mark.parametrize("offset_min", [0, 1, 29, 31, 59])
@pytest.mark.parametrize("length_h", [0.5, 1, 23, 24, 25, 49, 73.3])
def test_segments_tile_the_range_exactly(use_daily: bool, offset_min: int, length_h: float) -> None:
    start = h(-3) + timedelta(minutes=offset_min)
    end = start + timedelta(hours=length_h)
    dirty = {h(7), h(30), h(31)}
    parts = _covered(plan(start, end, dirty, {h(48)}, use_daily))
    assert parts[0][0] == start
    assert parts[-1][1] == end
    for (_, a_end), (b_start, _) in pairwise(parts):
        assert a_end == b_start  # no gap, no overlap
    result = plan(start, end, dirty, {h(48)}, use_daily)
    assert not set(result.hourly) & dirty
    assert all(
        floor_to(a, HOUR) == floor_to(b - timedelta.resolution, HOUR) for a, b in result.trimmed
    )
    assert not {floor_to(a, HOUR) for a, _ in result.trimmed} & dirty
    assert all(d == floor_to(d, DAY) for d in result.daily)


def test_non_utc_offsets_are_normalised() -> None:
    tz = timezone(timedelta(hours=5, minutes=30))
    start = h(1).astimezone(tz)
    result = plan(start, h(3).astimezone(tz), set(), set())
    assert result == Plan(hourly=[h(1), h(2)])
    assert all(x.utcoffset() == timedelta(0) for x in result.hourly)


@pytest.mark.parametrize(
    ("start", "end"),
    [(h(2), h(2)), (h(3), h(2)), (datetime(2026, 1, 1), datetime(2026, 1, 2))],
)
def test_bad_ranges_raise(start: datetime, end: datetime) -> None:
    with pytest.raises(ValueError):
        plan(start, end, set(), set())


@pytest.mark.parametrize(
    ("moment", "step", "floor", "ceil"),
    [
        (h(1.5), HOUR, h(1), h(2)),
        (h(2), HOUR, h(2), h(2)),
        (h(25), DAY, h(24), h(48)),
        (h(0), DAY, h(0), h(0)),
    ],
)
def test_floor_and_ceil(moment: datetime, step: timedelta, floor: datetime, ceil: datetime) -> None:
    assert (floor_to(moment, step), ceil_to(moment, step)) == (floor, ceil)
