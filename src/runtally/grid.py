"""The UTC time grid the rollup tables are cut on (pure): steps and rounding to them.

Rollup buckets are UTC quarter hours, hours and days counted from 2000-01-01 UTC (as
``date_bin`` cuts them in SQL); the rollup writes its rows on this grid, the store reads
them by it and ``api.cover`` plans a range on it. The one place each step is written.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# The grains by the names raw aggregates are bucketed at (``store.aggregate``).
STEPS = {"q15": QUARTER, "hour": HOUR, "day": DAY}
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def floor_to(moment: datetime, step: timedelta) -> datetime:
    """``moment`` rounded down to a multiple of ``step`` counted from 2000-01-01 UTC."""
    return moment - (moment - _EPOCH) % step


def ceil_to(moment: datetime, step: timedelta) -> datetime:
    """``moment`` rounded up to a multiple of ``step`` (itself when on the grid)."""
    floor = floor_to(moment, step)
    return floor if floor == moment else floor + step
