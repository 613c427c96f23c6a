"""The UTC time grid the rollup tables are cut on (pure): steps and rounding to them.

Rollup buckets are UTC quarter hours, hours and days counted from 2000-01-01 UTC (as
``date_bin`` cuts them in SQL); ``api.cover`` plans a range on this grid.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def floor_to(moment: datetime, step: timedelta) -> datetime:
    """``moment`` rounded down to a multiple of ``step`` counted from 2000-01-01 UTC."""
    return moment - (moment - _EPOCH) % step


def ceil_to(moment: datetime, step: timedelta) -> datetime:
    """``moment`` rounded up to a multiple of ``step`` (itself when on the grid)."""
    floor = floor_to(moment, step)
    return floor if floor == moment else floor + step
