"""Local time of an IANA zone: zone names, local day and hour buckets, plain dates (pure).

Every instant here is an aware ``datetime``; buckets are returned as UTC instants.

- A **local day** starts at the first instant of its local date: local midnight, or the
  end of the gap when a DST change skips midnight. A DST day is 23 or 25 hours long.
- A **local hour** is the instants sharing a local date, hour and UTC offset: it starts
  where the wall clock reads a whole hour (in zones offset by +5:30 or +5:45 those are
  not UTC hour starts) or where the offset changes. When clocks go back, the repeated
  hour is two buckets (same wall time, different offsets): a 25-hour day has 25 hour
  buckets. When a DST change skips a wall-clock hour, that hour has no bucket (23).
- A **plain date** (``2026-03-08``) given as a range end means its local day's start.

All of this follows ``zoneinfo`` (the system's IANA database): PEP 495 ``fold`` picks
the first of two repeated wall times; a wall time inside a gap maps to the gap's end.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

DEFAULT_ZONE = "UTC"
GRANULARITIES = ("hour", "day")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NAME = re.compile(r"[A-Za-z0-9_+\-/]{1,64}")
_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)
_TICK = timedelta(microseconds=1)


class UnknownZone(ValueError):
    """A name that is not an IANA time zone of this system's database."""


class BadMoment(ValueError):
    """Text that is neither an RFC 3339 timestamp with offset nor a plain date."""


# Files of the zone database that are not zones a user means: the server's own zone
# (a link whose target differs per machine) and placeholders.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_ZONES


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (exact spelling, e.g. ``America/New_York``).

    ``UnknownZone`` with a message for anything else (links the database carries, such
    as ``US/Eastern``, are accepted; ``localtime``, lower-case spellings or file paths
    are not).
    """
    if not _NAME.fullmatch(name) or name not in _zone_names():
        raise UnknownZone(
            f"unknown time zone {name[:80]!r}: use an IANA name such as Europe/Berlin"
        )
    return ZoneInfo(name)


def zone_name(tz: tzinfo) -> str:
    """The name a zone was made from (``str(ZoneInfo(name)) == name``)."""
    return str(tz)


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The first instant of local ``day`` in ``tz``, in UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def local_day(moment: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """The local day of ``tz`` that ``moment`` falls in: its first instant and the next
    day's (UTC; 23 or 25 hours apart on a DST change)."""
    day = moment.astimezone(tz).date()
    return local_midnight(day, tz), local_midnight(day + _DAY, tz)


def parse_moment(text: str, tz: tzinfo) -> datetime:
    """An RFC 3339 timestamp with offset, or a plain ``YYYY-MM-DD`` date as the start of
    that local day in ``tz``; in UTC. ``BadMoment`` otherwise (naive times included)."""
    try:
        if _DATE.fullmatch(text):
            return local_midnight(date.fromisoformat(text), tz)
        moment = datetime.fromisoformat(text.replace("z", "Z"))
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise BadMoment(f"{text[:80]!r} has no timezone offset (add Z or +hh:mm)")
        return moment.astimezone(UTC)
    except OverflowError:
        raise BadMoment(f"{text[:80]!r} is out of range") from None
    except BadMoment:
        raise
    except ValueError:
        what = "a calendar date" if _DATE.fullmatch(text) else "an RFC 3339 timestamp or a date"
        raise BadMoment(f"{text[:80]!r} is not {what}") from None


def _dates(start: datetime, end: datetime, tz: tzinfo) -> Iterator[date]:
    """Local dates from the day before ``start``'s to ``end``'s (inclusive)."""
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


def _whole_hours(day: date, tz: tzinfo) -> Iterator[datetime]:
    """Every instant of local ``day`` whose wall clock reads a whole hour (UTC), plus the
    end of a gap that skips a whole hour. A repeated hour yields both of its instants."""
    for hour in range(24):
        wall = datetime.combine(day, time(hour), tzinfo=tz)
        yield wall.astimezone(UTC)  # fold=0: the first occurrence, or the gap's end
        later = wall.replace(fold=1).astimezone(UTC)
        # fold=1 is a real instant only if that wall time reads the same at it.
        if later.astimezone(tz).replace(tzinfo=None) == wall.replace(tzinfo=None):
            yield later


def _offset(moment: datetime, tz: tzinfo) -> timedelta | None:
    return moment.astimezone(tz).utcoffset()


def _change(start: datetime, end: datetime, tz: tzinfo) -> datetime:
    """The first whole second in ``(start, end)`` whose offset differs from ``start``'s
    (the caller knows there is one; tz database changes fall on whole seconds)."""
    before = _offset(start, tz)
    low, high = 0, int((end - start).total_seconds())  # offset(low) == before != offset(high)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(start + timedelta(seconds=middle), tz) == before:
            low = middle
        else:
            high = middle
    return start + timedelta(seconds=high)


def _offset_changes(starts: list[datetime], tz: tzinfo) -> list[datetime]:
    """Offset changes strictly inside the spans between consecutive ``starts`` (a
    30-minute DST shift, as on Lord Howe Island, ends a local hour mid-way)."""
    return [
        _change(a, b, tz)
        for a, b in itertools.pairwise(starts)
        if _offset(a, tz) != _offset(b - _TICK, tz)
    ]


def _starts(start: datetime, end: datetime, granularity: str, tz: tzinfo) -> list[datetime]:
    """Sorted bucket starts (UTC) of the local dates around ``[start, end)``."""
    if granularity == "day":
        return sorted({local_midnight(day, tz) for day in _dates(start, end, tz)})
    if granularity != "hour":
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    return [moment for day in _dates(start, end, tz) for moment in _day_hours(day, tz)]


def _day_hours(day: date, tz: tzinfo) -> list[datetime]:
    """Sorted hour bucket starts (UTC) of local ``day``.

    A day of 24 hours at one offset (nearly all days) steps from its midnight; only a
    day with an offset change is worked out wall hour by wall hour.
    """
    first, after = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
    if after - first == _DAY and _offset(first, tz) == _offset(after - _TICK, tz):
        return [first + hour * _HOUR for hour in range(24)]
    hours = sorted({moment for moment in _whole_hours(day, tz) if first <= moment < after})
    return sorted(hours + _offset_changes([*hours, after], tz))


def _aware_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if start >= end:
        raise ValueError("start must be before end")
    return start.astimezone(UTC), end.astimezone(UTC)


def bucket_starts(start: datetime, end: datetime, granularity: str, tz: tzinfo) -> list[datetime]:
    """Start (UTC) of every local ``granularity`` bucket of ``tz`` that overlaps
    ``[start, end)``; the first may lie before ``start``. ``ValueError`` for an empty
    or naive range or an unknown granularity."""
    start, end = _aware_range(start, end)
    starts = _starts(start, end, granularity, tz)
    first = max(i for i, moment in enumerate(starts) if moment <= start)
    return [moment for moment in starts[first:] if moment < end]


def boundaries(start: datetime, end: datetime, granularity: str, tz: tzinfo) -> list[datetime]:
    """``[start, end)`` cut at every local bucket start inside it: ``start``, the inner
    bucket starts, ``end`` (UTC, ascending). Consecutive pairs are the in-range parts of
    the buckets of ``bucket_starts``, in the same order."""
    start, end = _aware_range(start, end)
    inner = bucket_starts(start, end, granularity, tz)[1:]
    return [start, *inner, end]


def bucket_count(start: datetime, end: datetime, granularity: str, tz: tzinfo) -> int:
    """``len(bucket_starts(...))``."""
    return len(bucket_starts(start, end, granularity, tz))


def label(moment: datetime, tz: tzinfo) -> datetime:
    """``moment`` as local time of ``tz`` (its ISO form carries the local offset)."""
    return moment.astimezone(tz)
