"""Covering any range with rollup rows at three grains, raw rows only at its ragged ends
(pure; no I/O).

``cover`` takes the boundaries of an answer's buckets — ``[start, end]`` for a single
total, or every local day or hour start in between for a series (``localtime``) — and
cuts each bucket into parts that one source answers, so nothing is counted twice or
missed and no part straddles a bucket boundary:

- a whole UTC day with no day marker and no dirty hour → ``rollup_daily``;
- any other whole UTC hour that is clean → ``rollup_hourly``;
- a whole UTC quarter hour of a clean hour → ``rollup_q15`` (a bucket edge that cuts an
  hour, such as local midnight in Asia/Kolkata at 18:30 UTC, needs quarters);
- a dirty hour, and the part of a quarter hour cut by a bucket edge → raw rows.

So the raw part of a clean range is at most the partial quarter hour at each edge
(dirty hours excepted: they are raw until the rollup catches up), and a bucket's cost
does not grow with the event rate. ``use_daily=False`` never takes daily rows (an
hourly series). Raw intervals are coalesced within a bucket, never across one.
``lone_sources`` names the rollup buckets that make an answer bucket alone (their stored
percentiles answer it, ``runtally.api.rollups``).
All datetimes must be timezone-aware; grains are UTC-aligned like the rollup tables.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise

from runtally.api.hourplan import coalesce
from runtally.grid import DAY, HOUR, QUARTER, ceil_to, floor_to

Interval = tuple[datetime, datetime]  # half-open [start, end)


@dataclass
class Cover:
    """Sources of the buckets of a range. Bucket lists are ascending UTC starts; each
    raw interval lies inside one bucket of the answer."""

    daily: list[datetime] = field(default_factory=list)
    hourly: list[datetime] = field(default_factory=list)
    quarters: list[datetime] = field(default_factory=list)
    raw: list[Interval] = field(default_factory=list)


@dataclass(frozen=True)
class Markers:
    """Dirty hour and day markers (UTC starts) of the range; ``spoiled`` are the UTC days
    that daily rows do not describe yet (a day marker, or a dirty hour in the day)."""

    hours: Set[datetime]
    spoiled: Set[datetime]

    @classmethod
    def of(cls, dirty_hours: Set[datetime], dirty_days: Set[datetime]) -> Markers:
        spoiled = set(dirty_days) | {floor_to(hour, DAY) for hour in dirty_hours}
        return cls(frozenset(dirty_hours), frozenset(spoiled))


def _checked(boundaries: Sequence[datetime]) -> list[datetime]:
    if len(boundaries) < 2:
        raise ValueError("need at least a start and an end")
    if any(moment.tzinfo is None for moment in boundaries):
        raise ValueError("boundaries must be timezone-aware")
    utc = [moment.astimezone(UTC) for moment in boundaries]
    if any(a >= b for a, b in pairwise(utc)):
        raise ValueError("boundaries must be strictly ascending")
    return utc


def _part_of_hour(
    start: datetime, end: datetime, markers: Markers, out: Cover, raw: list[Interval]
) -> None:
    """``[start, end)`` inside one UTC hour: quarters of a clean hour, raw for the rest."""
    first, last = ceil_to(start, QUARTER), floor_to(end, QUARTER)
    if floor_to(start, HOUR) in markers.hours or first >= last:  # dirty, or no whole quarter
        raw.append((start, end))
        return
    if start < first:
        raw.append((start, first))
    quarter = first
    while quarter < last:
        out.quarters.append(quarter)
        quarter += QUARTER
    if last < end:
        raw.append((last, end))


def _whole_hours(
    first: datetime, last: datetime, markers: Markers, use_daily: bool
) -> Iterator[tuple[str, datetime]]:
    """``[first, last)`` (whole UTC hours) as ("daily" | "hourly" | "raw", start)."""
    hour = first
    while hour < last:
        # hour.hour == 0: a UTC day start (everything here is in UTC).
        whole_day = hour.hour == 0 and hour + DAY <= last
        if use_daily and whole_day and hour not in markers.spoiled:
            yield "daily", hour
            hour += DAY
            continue
        yield ("raw" if hour in markers.hours else "hourly"), hour
        hour += HOUR


def _bucket(start: datetime, end: datetime, markers: Markers, use_daily: bool, out: Cover) -> None:
    """Cover one bucket ``[start, end)``."""
    if end - start == HOUR and start == floor_to(start, HOUR) and start not in markers.hours:
        out.hourly.append(start)  # a clean whole UTC hour (most buckets of an hourly series)
        return
    raw: list[Interval] = []
    first, last = ceil_to(start, HOUR), floor_to(end, HOUR)  # whole hours: [first, last)
    if first >= last:  # no whole hour inside: one or two parts of hours
        cuts = [start, first, end] if start < first < end else [start, end]
        for a, b in pairwise(cuts):
            _part_of_hour(a, b, markers, out, raw)
    else:
        if start < first:
            _part_of_hour(start, first, markers, out, raw)
        for source, moment in _whole_hours(first, last, markers, use_daily):
            if source == "raw":
                raw.append((moment, moment + HOUR))
            else:
                getattr(out, source).append(moment)
        if last < end:
            _part_of_hour(last, end, markers, out, raw)
    out.raw += coalesce(raw)


def cover(
    boundaries: Sequence[datetime],
    dirty_hours: Set[datetime],
    dirty_days: Set[datetime],
    use_daily: bool = True,
    answered: Set[datetime] = frozenset(),
) -> Cover:
    """Sources of every bucket ``[boundaries[i], boundaries[i + 1])``, given the dirty
    hour and day markers (UTC starts), except the buckets starting at ``answered``
    (another source has them whole: a local day's own rollup row, ``api.zonedays``).

    ``ValueError`` unless there are at least two boundaries, all aware and strictly
    ascending.
    """
    markers = Markers.of(dirty_hours, dirty_days)
    out = Cover()
    for start, end in pairwise(_checked(boundaries)):
        if start not in answered:
            _bucket(start, end, markers, use_daily, out)
    return out


def lone_sources(boundaries: Sequence[datetime], found: Cover) -> frozenset[datetime]:
    """The rollup buckets of ``found`` (a ``cover`` of ``boundaries``) that are the only
    source of their answer bucket: no other rollup bucket and no raw interval shares it.
    Such a row is a whole answer cell by itself wherever the caller folds by answer
    bucket and the row's own key columns."""
    starts = _checked(boundaries)[:-1]
    rolled = [*found.daily, *found.hourly, *found.quarters]
    owners = Counter(bisect_right(starts, moment) for moment in rolled)
    owners.update(bisect_right(starts, start) for start, _ in found.raw)
    return frozenset(m for m in rolled if owners[bisect_right(starts, m)] == 1)
