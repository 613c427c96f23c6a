"""Time buckets of an answer: the granularities a series can have and their starts (pure).

Buckets are UTC-aligned like the rollup tables (``planner.floor_to``).
"""

from __future__ import annotations

from datetime import datetime

from runtally.api.planner import DAY, HOUR, floor_to

STEPS = {"hour": HOUR, "day": DAY}


def bucket_starts(start: datetime, end: datetime, granularity: str) -> list[datetime]:
    """Every UTC bucket start of ``granularity`` whose bucket overlaps ``[start, end)``."""
    step = STEPS[granularity]
    out = []
    bucket = floor_to(start, step)
    while bucket < end:
        out.append(bucket)
        bucket += step
    return out


def bucket_count(start: datetime, end: datetime, granularity: str) -> int:
    """``len(bucket_starts(start, end, granularity))`` without listing them."""
    step = STEPS[granularity]
    return -(-(end - floor_to(start, step)) // step)
