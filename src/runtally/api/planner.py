"""Query planning: which parts of ``[start, end)`` come from which table (pure; no I/O).

A range is cut into segments, each answered by exactly one source, so nothing is
counted twice and nothing is missed:

- a whole UTC day with no day marker and no dirty hour → one ``rollup_daily`` row set;
- any other whole hour that is clean → ``rollup_hourly``;
- a part of a clean hour cut by a range edge that covers more than half of the hour →
  ``trimmed``: the hour's rollup minus the raw rows of the rest of the hour, which are
  fewer (``api.edges``);
- a dirty hour, and the other parts of hours cut by the range edges → raw rows
  (``aggregate_raw``), coalesced into as few intervals as possible.

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
    """Sources of a range. Bucket lists are ascending; intervals are half-open.

    Each ``trimmed`` interval lies inside one clean hour.
    """

    daily: list[datetime] = field(default_factory=list)
    hourly: list[datetime] = field(default_factory=list)
    raw: list[tuple[datetime, datetime]] = field(default_factory=list)
    trimmed: list[tuple[datetime, datetime]] = field(default_factory=list)


def _coalesce(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if out and out[-1][1] >= start:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


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
    first, last = ceil_to(start, HOUR), floor_to(end, HOUR)  # whole hours: [first, last)
    if first > last:  # inside one hour
        pieces = [(start, end)]
    else:
        pieces = [(a, b) for a, b in ((start, first), (last, end)) if a < b]
    raw: list[tuple[datetime, datetime]] = []
    trimmed: list[tuple[datetime, datetime]] = []
    for a, b in pieces:
        clean = floor_to(a, HOUR) not in dirty_hours
        (trimmed if clean and b - a > HOUR / 2 else raw).append((a, b))
    spoiled = set(dirty_days) | {floor_to(hour, DAY) for hour in dirty_hours}
    daily, hourly = [], []
    hour = first
    while hour < last:
        # hour.hour == 0: a UTC day start (``start`` and ``end`` are in UTC here).
        whole_day = hour.hour == 0 and hour + DAY <= last
        if use_daily and whole_day and hour not in spoiled:
            daily.append(hour)
            hour += DAY
            continue
        if hour in dirty_hours:
            raw.append((hour, hour + HOUR))
        else:
            hourly.append(hour)
        hour += HOUR
    return Plan(daily=daily, hourly=hourly, raw=_coalesce(raw), trimmed=trimmed)
