"""Local days and hours of IANA zones, table-tested against zoneinfo ground truth.

Expected values are written out from the published rules (New York and Berlin DST in
both directions, Kolkata +5:30, Kathmandu +5:45, Adelaide +9:30/+10:30) and checked
once more by brute force: every minute around each change, bucketed by its own local
date (and hour and offset) as zoneinfo reports them, must fall in the bucket the module
says, and every such group must start a bucket.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from runtally.localtime import (
    BadMoment,
    UnknownZone,
    boundaries,
    bucket_count,
    bucket_starts,
    label,
    local_midnight,
    parse_moment,
    zone,
)

Z = datetime.fromisoformat  # "2026-03-08T05:00:00+00:00" → aware datetime

DAYS = [
    # (zone, local date, first instant in UTC, hours in the day)
    ("America/New_York", date(2026, 3, 8), Z("2026-03-08T05:00+00:00"), 23),
    ("America/New_York", date(2026, 11, 1), Z("2026-11-01T04:00+00:00"), 25),
    ("America/New_York", date(2026, 7, 1), Z("2026-07-01T04:00+00:00"), 24),
    ("Europe/Berlin", date(2026, 3, 29), Z("2026-03-28T23:00+00:00"), 23),
    ("Europe/Berlin", date(2026, 10, 25), Z("2026-10-24T22:00+00:00"), 25),
    ("Asia/Kolkata", date(2026, 3, 8), Z("2026-03-07T18:30+00:00"), 24),
    ("Asia/Kathmandu", date(2026, 3, 8), Z("2026-03-07T18:15+00:00"), 24),
    ("Australia/Adelaide", date(2026, 4, 5), Z("2026-04-04T13:30+00:00"), 25),
    ("Australia/Adelaide", date(2026, 10, 4), Z("2026-10-03T14:30+00:00"), 23),
    ("UTC", date(2026, 3, 8), Z("2026-03-08T00:00+00:00"), 24),
    # Santiago springs forward at midnight: the day starts at 01:00 local.
    ("America/Santiago", date(2026, 9, 6), Z("2026-09-06T04:00+00:00"), 23),
]


@pytest.mark.parametrize(("name", "day", "first", "hours"), DAYS)
def test_local_days_start_at_local_midnight_and_last_23_24_or_25_hours(
    name: str, day: date, first: datetime, hours: int
) -> None:
    tz = zone(name)
    assert local_midnight(day, tz) == first
    after = local_midnight(day + timedelta(days=1), tz)
    assert after - first == timedelta(hours=hours)
    assert bucket_starts(first, after, "day", tz) == [first]
    assert bucket_count(first, after, "hour", tz) == hours
    assert label(first, tz).date() == day


HOUR_LABELS = [
    # (zone, start, end, local labels of the hour buckets)
    (
        "America/New_York", Z("2026-11-01T04:00+00:00"), Z("2026-11-01T08:00+00:00"),
        ["2026-11-01T00:00:00-04:00", "2026-11-01T01:00:00-04:00",
         "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"],
    ),
    (
        "America/New_York", Z("2026-03-08T05:00+00:00"), Z("2026-03-08T08:00+00:00"),
        ["2026-03-08T00:00:00-05:00", "2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00"],
    ),
    (
        "Europe/Berlin", Z("2026-10-25T00:00+00:00"), Z("2026-10-25T02:00+00:00"),
        ["2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"],
    ),
    (
        "Asia/Kolkata", Z("2026-03-08T00:00+00:00"), Z("2026-03-08T02:00+00:00"),
        ["2026-03-08T05:00:00+05:30", "2026-03-08T06:00:00+05:30", "2026-03-08T07:00:00+05:30"],
    ),
    (
        "Asia/Kathmandu", Z("2026-03-08T00:15+00:00"), Z("2026-03-08T01:15+00:00"),
        ["2026-03-08T06:00:00+05:45"],
    ),
    (
        "Australia/Adelaide", Z("2026-04-04T15:30+00:00"), Z("2026-04-04T18:30+00:00"),
        ["2026-04-05T02:00:00+10:30", "2026-04-05T02:00:00+09:30", "2026-04-05T03:00:00+09:30"],
    ),
    (
        "Australia/Lord_Howe", Z("2026-04-04T14:00+00:00"), Z("2026-04-04T16:00+00:00"),
        ["2026-04-05T01:00:00+11:00", "2026-04-05T01:30:00+10:30", "2026-04-05T02:00:00+10:30"],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "start", "end", "labels"), HOUR_LABELS)
def test_hour_buckets_carry_their_local_offset(
    name: str, start: datetime, end: datetime, labels: list[str]
) -> None:
    tz = zone(name)
    starts = bucket_starts(start, end, "hour", tz)
    assert [label(moment, tz).isoformat() for moment in starts] == labels


CHANGES = [
    ("America/New_York", Z("2026-03-08T07:00+00:00")),
    ("America/New_York", Z("2026-11-01T06:00+00:00")),
    ("Europe/Berlin", Z("2026-03-29T01:00+00:00")),
    ("Europe/Berlin", Z("2026-10-25T01:00+00:00")),
    ("Asia/Kolkata", Z("2026-03-08T00:00+00:00")),
    ("Asia/Kathmandu", Z("2026-03-08T00:00+00:00")),
    ("Australia/Adelaide", Z("2026-04-04T16:30+00:00")),
    ("Australia/Adelaide", Z("2026-10-03T16:30+00:00")),
    ("Australia/Lord_Howe", Z("2026-04-04T15:00+00:00")),
    ("America/Santiago", Z("2026-09-06T04:00+00:00")),
]


def brute_force_starts(
    name: str, start: datetime, end: datetime, granularity: str
) -> set[datetime]:
    """The first minute of every group of minutes sharing local date (and hour and
    offset, for hours), as zoneinfo reports each minute; the first group is left out
    (its start may lie before ``start``)."""
    tz = ZoneInfo(name)
    firsts: dict[tuple[object, ...], datetime] = {}
    moment = start
    while moment < end:
        local = moment.astimezone(tz)
        key = (local.date(),) if granularity == "day" else (
            local.date(), local.hour, local.utcoffset(),
        )  # fmt: skip
        firsts.setdefault(key, moment)
        moment += timedelta(minutes=1)
    return set(sorted(firsts.values())[1:])


@pytest.mark.parametrize("granularity", ["hour", "day"])
@pytest.mark.parametrize(("name", "change"), CHANGES)
def test_buckets_equal_brute_force_over_every_minute_around_a_change(
    name: str, change: datetime, granularity: str
) -> None:
    start, end = change - timedelta(hours=30), change + timedelta(hours=30)
    starts = bucket_starts(start, end, granularity, zone(name))
    assert starts[0] <= start < (starts[1] if len(starts) > 1 else end)
    assert set(starts[1:]) == brute_force_starts(name, start, end, granularity)
    cuts = boundaries(start, end, granularity, zone(name))
    assert cuts == [start, *starts[1:], end]
    # Every minute lies in the bucket of the last start at or before it.
    tz = ZoneInfo(name)
    for minute in range(0, 60 * 60, 7):
        moment = start + timedelta(minutes=minute)
        first = starts[bisect_right(starts, moment) - 1]
        assert label(first, tz).date() == moment.astimezone(tz).date()


def test_buckets_tile_the_range_without_gaps() -> None:
    tz = zone("Asia/Kathmandu")
    start, end = Z("2026-01-01T00:00+00:00"), Z("2026-01-31T00:00+00:00")
    cuts = boundaries(start, end, "day", tz)
    assert len(cuts) == 32  # 30 whole local days cut at 18:15 UTC, plus the two edges
    assert all(a < b for a, b in pairwise(cuts))
    assert all(c.minute == 15 and c.hour == 18 for c in cuts[1:-1])


PARSED = [
    ("2026-03-08", "America/New_York", Z("2026-03-08T05:00+00:00")),
    ("2026-11-02", "America/New_York", Z("2026-11-02T05:00+00:00")),
    ("2026-03-08", "Asia/Kolkata", Z("2026-03-07T18:30+00:00")),
    ("2026-03-08", "UTC", Z("2026-03-08T00:00+00:00")),
    ("2026-03-08T10:00:00Z", "Asia/Kolkata", Z("2026-03-08T10:00+00:00")),
    ("2026-03-08T10:00:00+05:30", "UTC", Z("2026-03-08T04:30+00:00")),
]


@pytest.mark.parametrize(("text", "name", "expected"), PARSED)
def test_a_plain_date_is_that_local_date(text: str, name: str, expected: datetime) -> None:
    moment = parse_moment(text, zone(name))
    assert moment == expected
    assert moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text", ["2026-02-30", "2026-03-08T10:00:00", "yesterday", "", "2026-3-8", "12:00"]
)
def test_other_text_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(BadMoment, match=r"date|offset|RFC 3339"):
        parse_moment(text, zone("UTC"))


@pytest.mark.parametrize("name", ["UTC", "America/New_York", "Asia/Kathmandu", "US/Eastern"])
def test_iana_names_are_zones(name: str) -> None:
    assert str(zone(name)) == name


@pytest.mark.parametrize(
    "name",
    ["Mars/Olympus", "", "utc", "america/new_york", "../etc/passwd", "localtime", "Factory",
     "America", "/usr/share/zoneinfo/UTC", "Europe/Berlin\x00", "x" * 300],
)  # fmt: skip
def test_anything_else_is_an_unknown_zone(name: str) -> None:
    with pytest.raises(UnknownZone, match="unknown time zone"):
        zone(name)


@pytest.mark.parametrize(
    ("start", "end", "granularity"),
    [
        (Z("2026-03-08T05:00+00:00"), Z("2026-03-08T05:00+00:00"), "day"),
        (datetime(2026, 3, 8), datetime(2026, 3, 9), "day"),
        (Z("2026-03-08T05:00+00:00"), Z("2026-03-09T05:00+00:00"), "week"),
    ],
)
def test_bad_ranges_are_refused(start: datetime, end: datetime, granularity: str) -> None:
    with pytest.raises(ValueError, match=r"aware|before|granularity"):
        bucket_starts(start, end, granularity, zone("UTC"))
