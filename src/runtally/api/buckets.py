"""Time buckets of a series answer: local days or hours of a zone, and which bucket a
part belongs to (pure).

Bucket starts come from ``localtime`` (local midnights, local hours with their offset);
the first bucket may start before the range. A part of ``gather`` lies inside exactly
one bucket, so ``bucket_of`` finds it from the part's own start.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, tzinfo
from typing import TypeVar

from runtally import localtime
from runtally.cube import GroupKey
from runtally.grid import STEPS

T = TypeVar("T")


class TooManyBuckets(ValueError):
    """A series would have more buckets than allowed."""


def series_buckets(
    start: datetime, end: datetime, granularity: str, tz: tzinfo, limit: int
) -> list[datetime]:
    """Start (UTC) of every ``granularity`` bucket of ``tz`` overlapping ``[start, end)``.

    ``TooManyBuckets`` beyond ``limit``. A range far too long is refused from its length
    alone, without listing its buckets: DST makes at most a day or an hour a year longer
    than its step, so the whole steps in the range minus two never exceed the count.
    """
    if (end - start) // STEPS[granularity] - 2 > limit:
        raise TooManyBuckets(f"more than {limit} {granularity} buckets")
    starts = localtime.bucket_starts(start, end, granularity, tz)
    if len(starts) > limit:
        raise TooManyBuckets(f"more than {limit} {granularity} buckets")
    return starts


def bucket_of(starts: Sequence[datetime]) -> Callable[[GroupKey], datetime]:
    """The start of the bucket holding a part (``starts`` ascending, the part at or after
    ``starts[0]``)."""

    def find(group: GroupKey) -> datetime:
        return starts[bisect_right(starts, group.bucket) - 1]

    return find


def by_bucket(starts: Sequence[datetime], found: Iterable[tuple[datetime, T]]) -> dict[datetime, T]:
    """``found`` (a moment at or after ``starts[0]`` and a value) keyed by the start of
    the bucket holding each moment; ``ValueError`` when two share a bucket."""
    out: dict[datetime, T] = {}
    for moment, value in found:
        start = starts[bisect_right(starts, moment) - 1]
        if out.setdefault(start, value) is not value:
            raise ValueError(f"two values in the bucket starting at {start.isoformat()}")
    return out
