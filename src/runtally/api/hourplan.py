"""The hour-grain plan the tag and top-K rollups are read by (pure; no I/O).

Tag rows (``rollup_tag_hourly``/``rollup_tag_daily``) and top-K rows exist only at UTC
hours and days (there is no quarter-hour tag grain), so their answers are planned here:

- a whole UTC day with no day marker and no dirty hour → the daily rows;
- any other whole hour that is clean → the hourly rows;
- a dirty hour, and the parts of hours cut by the range edges → raw rows, coalesced into
  as few intervals as possible (``trimmed`` marks edge parts longer than half a clean
  hour; the tag and top-K readers answer them from raw rows too).

With ``use_daily=False`` (hourly time series) days are never taken from the daily rows.
All datetimes must be timezone-aware; buckets are UTC-aligned like the rollup tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from runtally.grid import DAY, HOUR, ceil_to, floor_to

Interval = tuple[datetime, datetime]  # half-open [start, end)


@dataclass(frozen=True)
class Plan:
    """Sources of a range. Bucket lists are ascending; intervals are half-open.

    Each ``trimmed`` interval lies inside one clean hour.
    """

    daily: list[datetime] = field(default_factory=list)
    hourly: list[datetime] = field(default_factory=list)
    raw: list[Interval] = field(default_factory=list)
    trimmed: list[Interval] = field(default_factory=list)


def coalesce(intervals: Iterable[Interval]) -> list[Interval]:
    """``intervals`` sorted, with overlapping or touching ones merged."""
    out: list[Interval] = []
    for start, end in sorted(intervals):
        if out and out[-1][1] >= start:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _utc_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if start >= end:
        raise ValueError("start must be before end")
    return start.astimezone(UTC), end.astimezone(UTC)


def _edges(
    start: datetime, end: datetime, first: datetime, last: datetime, dirty_hours: Set[datetime]
) -> tuple[list[Interval], list[Interval]]:
    """The parts of hours cut by the range edges (``[first, last)`` are the whole hours),
    as (raw, trimmed): a part of a clean hour longer than half of it is trimmed."""
    if first > last:  # inside one hour
        pieces = [(start, end)]
    else:
        pieces = [(a, b) for a, b in ((start, first), (last, end)) if a < b]
    raw: list[Interval] = []
    trimmed: list[Interval] = []
    for a, b in pieces:
        clean = floor_to(a, HOUR) not in dirty_hours
        (trimmed if clean and b - a > HOUR / 2 else raw).append((a, b))
    return raw, trimmed


def _whole_hours(
    first: datetime, last: datetime, dirty_hours: Set[datetime], spoiled: Set[datetime] | None
) -> Plan:
    """``[first, last)`` (whole UTC hours) as clean days, clean hours and dirty hours.

    A day comes from ``rollup_daily`` when it is whole and not ``spoiled``
    (``spoiled=None``: no daily rows at all).
    """
    daily: list[datetime] = []
    hourly: list[datetime] = []
    raw: list[datetime] = []
    hour = first
    while hour < last:
        # hour.hour == 0: a UTC day start (``first`` and ``last`` are in UTC).
        if spoiled is not None and hour.hour == 0 and hour + DAY <= last and hour not in spoiled:
            daily.append(hour)
            hour += DAY
            continue
        (raw if hour in dirty_hours else hourly).append(hour)
        hour += HOUR
    return Plan(daily=daily, hourly=hourly, raw=[(h, h + HOUR) for h in raw])


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
    start, end = _utc_range(start, end)
    first, last = ceil_to(start, HOUR), floor_to(end, HOUR)  # whole hours: [first, last)
    raw, trimmed = _edges(start, end, first, last, dirty_hours)
    spoiled = set(dirty_days) | {floor_to(hour, DAY) for hour in dirty_hours}
    whole = _whole_hours(first, last, dirty_hours, spoiled if use_daily else None)
    return replace(whole, raw=coalesce(raw + whole.raw), trimmed=trimmed)
