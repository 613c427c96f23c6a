"""Query planning: which parts of ``[start, end)`` come from which table (pure; no I/O).

A range is cut into segments, each answered by exactly one source, so nothing is
counted twice and nothing is missed:

- a whole UTC day with no day marker and no dirty hour → one ``rollup_daily`` row set;
- any other whole hour that is clean → ``rollup_hourly``;
- a dirty hour, and the parts of the first and last hour cut by the range edges → raw
  rows (``aggregate_raw``), coalesced into as few intervals as possible.

With ``use_daily=False`` (hourly time series) days are never taken from ``rollup_daily``.
All datetimes must be timezone-aware; buckets are UTC-aligned like the rollup tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def floor_to(moment: datetime, step: timedelta) -> datetime:
    """``moment`` rounded down to a multiple of ``step`` counted from 2000-01-01 UTC."""
    return moment - (moment - _EPOCH) % step


def ceil_to(moment: datetime, step: timedelta) -> datetime:
    floor = floor_to(moment, step)
    return floor if floor == moment else floor + step


@dataclass(frozen=True)
class Plan:
    """Sources of a range. Bucket lists are ascending; raw intervals are half-open."""

    daily: list[datetime] = field(default_factory=list)
    hourly: list[datetime] = field(default_factory=list)
    raw: list[tuple[datetime, datetime]] = field(default_factory=list)


def _coalesce(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if out and out[-1][1] >= start:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _whole_hours(start: datetime, end: datetime) -> list[datetime]:
    hours = []
    hour = ceil_to(start, HOUR)
    while hour + HOUR <= end:
        hours.append(hour)
        hour += HOUR
    return hours


def _clean_days(
    hours: list[datetime], dirty_hours: Set[datetime], dirty_days: Set[datetime]
) -> set[datetime]:
    """Days all 24 of whose hours are in ``hours`` and none of them dirty."""
    count: dict[datetime, int] = {}
    spoiled: set[datetime] = set(dirty_days)
    for hour in hours:
        day = floor_to(hour, DAY)
        count[day] = count.get(day, 0) + 1
        if hour in dirty_hours:
            spoiled.add(day)
    return {day for day, n in count.items() if n == 24 and day not in spoiled}


def plan(
    start: datetime,
    end: datetime,
    dirty_hours: Set[datetime],
    dirty_days: Set[datetime],
    use_daily: bool = True,
) -> Plan:
    """Segments of ``[start, end)`` given the dirty hour and day markers (UTC starts).

    Raises ``ValueError`` unless ``start < end`` and both are timezone-aware.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if start >= end:
        raise ValueError("start must be before end")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    hours = _whole_hours(start, end)
    if not hours:
        return Plan(raw=[(start, end)])
    raw = []
    if start < hours[0]:
        raw.append((start, hours[0]))
    if hours[-1] + HOUR < end:
        raw.append((hours[-1] + HOUR, end))
    days = _clean_days(hours, dirty_hours, dirty_days) if use_daily else set()
    hourly = []
    for hour in hours:
        if floor_to(hour, DAY) in days:
            continue
        if hour in dirty_hours:
            raw.append((hour, hour + HOUR))
        else:
            hourly.append(hour)
    return Plan(daily=sorted(days), hourly=hourly, raw=_coalesce(raw))
