"""Local days of registered zones, the pure parts (tables, truth from ``zoneinfo``):
the local day of an instant, the days an hour marks, which buckets of a series the
zone-day rows answer, ``cover`` leaving those buckets alone, and the zone setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from runtally.api.cover import cover
from runtally.api.zonedays import whole_days
from runtally.config import Settings
from runtally.localtime import local_day
from runtally.rollup.zones import days_of_hour

NEW_YORK, KOLKATA = "America/New_York", "Asia/Kolkata"
H = timedelta(hours=1)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def truth_day(moment: datetime, zone: str) -> tuple[datetime, datetime]:
    """Midnight of the local date and of the next one, via wall-clock arithmetic."""
    tz = ZoneInfo(zone)
    local = moment.astimezone(tz)
    first = datetime(local.year, local.month, local.day, tzinfo=tz)
    after = (first.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=tz)
    return first.astimezone(UTC), after.astimezone(UTC)


@pytest.mark.parametrize(
    ("moment", "zone", "hours"),
    [
        (at(2026, 3, 8, 12), NEW_YORK, 23),
        (at(2026, 11, 1, 12), NEW_YORK, 25),
        (at(2026, 3, 8, 18, 29), KOLKATA, 24),
        (at(2026, 3, 8, 18, 30), KOLKATA, 24),
        (at(2026, 4, 5, 2), "Australia/Adelaide", 25),
        (at(2026, 6, 1), "UTC", 24),
    ],
)
def test_local_day(moment: datetime, zone: str, hours: int) -> None:
    start, end = local_day(moment, ZoneInfo(zone))
    assert (start, end) == truth_day(moment, zone)
    assert start <= moment < end
    assert end - start == hours * H


def test_hours_mark_each_local_day_they_touch() -> None:
    cases = [
        (at(2026, 3, 8, 6), NEW_YORK, [(at(2026, 3, 8, 5), at(2026, 3, 9, 4))]),
        (at(2026, 3, 8, 4), NEW_YORK, [(at(2026, 3, 7, 5), at(2026, 3, 8, 5))]),
        (at(2026, 11, 1, 4), NEW_YORK, [(at(2026, 11, 1, 4), at(2026, 11, 2, 5))]),
        (at(2026, 3, 8, 18), KOLKATA, [(at(2026, 3, 7, 18, 30), at(2026, 3, 8, 18, 30)),
                                       (at(2026, 3, 8, 18, 30), at(2026, 3, 9, 18, 30))]),
        (at(2026, 3, 8, 18), "Asia/Kathmandu", [(at(2026, 3, 7, 18, 15), at(2026, 3, 8, 18, 15)),
                                                (at(2026, 3, 8, 18, 15), at(2026, 3, 9, 18, 15))]),
        (at(2026, 3, 8, 0), "UTC", [(at(2026, 3, 8), at(2026, 3, 9))]),
    ]  # fmt: skip
    for hour, zone, days in cases:
        assert days_of_hour(hour, zone) == days, (hour, zone)
        assert days == sorted({truth_day(hour + q * H / 4, zone) for q in range(4)})


# Kolkata, 2026-03-07 12:00 UTC to 03-10 18:30: a partial first day, then three whole.
K = [at(2026, 3, 7, 12), at(2026, 3, 7, 18, 30), at(2026, 3, 8, 18, 30), at(2026, 3, 9, 18, 30),
     at(2026, 3, 10, 18, 30)]  # fmt: skip


@pytest.mark.parametrize(
    ("dirty", "marked", "since", "expected"),
    [
        (set(), set(), None, K[1:4]),
        ({at(2026, 3, 8, 18)}, set(), None, [K[3]]),  # its hour starts both days
        ({at(2026, 3, 9, 3)}, set(), None, [K[1], K[3]]),
        (set(), {K[2]}, None, [K[1], K[3]]),
        (set(), set(), at(2026, 3, 8, 19), [K[3]]),  # quarters before 03-08 19:00 missing
        (set(), set(), at(2026, 3, 8, 18), K[2:4]),
    ],
)
def test_whole_days_answered_by_zone_rows(
    dirty: set[datetime], marked: set[datetime], since: datetime | None, expected: list[datetime]
) -> None:
    assert whole_days(K, ZoneInfo(KOLKATA), dirty, marked, since) == expected


def test_whole_days_on_whole_hours_ignore_the_quarter_horizon() -> None:
    days = [at(2026, 3, 7, 5), at(2026, 3, 8, 5), at(2026, 3, 9, 4)]
    assert whole_days(days, ZoneInfo(NEW_YORK), set(), set(), at(2026, 4, 1)) == days[:2]
    assert whole_days(days, ZoneInfo("Europe/Berlin"), set(), set(), None) == []


def test_cover_leaves_answered_buckets_alone() -> None:
    full = cover(K, set(), set())
    found = cover(K, set(), set(), answered={K[1], K[2]})
    assert found.hourly == [h for h in full.hourly if h < K[1] or h >= K[3]]
    assert found.quarters == [q for q in full.quarters if q < K[1] or q >= K[3]]
    assert found.raw == full.raw


def test_zone_names_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        Settings(rollup_zones="Europe/Berlin,Mars/Base")
    settings = Settings(rollup_zones=" Asia/Kolkata, America/New_York,Asia/Kolkata,")
    assert settings.zones == (KOLKATA, NEW_YORK)
    assert Settings().zones == ()
