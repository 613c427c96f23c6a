"""Daily rollup: merge a dirty UTC day's hourly rows into ``rollup_daily``.

Days are rolled from ``rollup_hourly``'s full-key rows (never from raw rows) by
``Tally.merge``: sums and counts add, min/max combine, latency bins add and user/session
HLLs union; the day's grouping sets are then derived from its full-key rows (``cube``);
its tag and top-K rows are merged from the hours' ones (``rollup.dimensions``). The
same discipline as the hourly rollup keeps it exact under concurrency: an advisory
lock per (project, day), the marker's ``seq`` read first, and the marker cleared only
if that ``seq`` is unchanged (an hourly rollup that commits later re-marks the day in
its own transaction). A day with a dirty hour is left for later: its hourly rows are
about to change, and rolling it now would only be redone.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from runtally.cube import GroupKey, cube
from runtally.grid import DAY
from runtally.rollup.dimensions import Dimensions, roll_day_dimensions
from runtally.rollup.rows import lock_key, read_rows, replace_rows
from runtally.rollup.stats import Outcome, RollStats
from runtally.store.protocols import Connection, Pool
from runtally.tally import Tally

TABLE = "rollup_daily"

# Days none of whose hours is dirty. '24 hours', not '1 day': interval arithmetic on
# timestamptz by days follows the session time zone's DST rules.
READY_DAYS_SQL = """
SELECT d.project, d.day FROM rollup_dirty_day d
WHERE NOT EXISTS (
    SELECT 1 FROM rollup_dirty h
    WHERE h.project = d.project AND h.hour >= d.day AND h.hour < d.day + interval '24 hours'
)
ORDER BY d.day, d.project LIMIT $1
"""


def merge_day(day: datetime, hourly: dict[GroupKey, Tally]) -> dict[GroupKey, Tally]:
    """Full-key hourly tallies of one day merged per (agent, model, error_type), at ``day``."""
    merged: dict[GroupKey, Tally] = defaultdict(Tally)
    for key, tally in hourly.items():
        merged[GroupKey(day, key.agent, key.model, key.error_type)].merge(tally)
    return dict(merged)


async def roll_day(
    conn: Connection, project: str, day: datetime, dims: Dimensions = Dimensions()
) -> tuple[Outcome, int]:
    """Recompute one day from its hourly rows; returns the outcome and rows written."""
    async with conn.transaction():
        if not await conn.fetchval(
            "SELECT pg_try_advisory_xact_lock($1)", lock_key("day", project, day)
        ):
            return Outcome.SKIPPED, 0
        seq = await conn.fetchval(
            "SELECT seq FROM rollup_dirty_day WHERE project = $1 AND day = $2", project, day
        )
        if seq is None:
            return Outcome.SKIPPED, 0
        if await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM rollup_dirty "
            "WHERE project = $1 AND hour >= $2 AND hour < $3)",
            project,
            day,
            day + DAY,
        ):
            return Outcome.WAITING, 0
        hourly = await read_rows(conn, "rollup_hourly", project, day, day + DAY)
        daily = cube(merge_day(day, hourly))
        written = await replace_rows(conn, TABLE, project, day, day + DAY, daily)
        await roll_day_dimensions(conn, project, day, dims)  # not in `written`: rollup_daily rows
        status = await conn.execute(
            "DELETE FROM rollup_dirty_day WHERE project = $1 AND day = $2 AND seq = $3",
            project,
            day,
            seq,
        )
    return (Outcome.CLEARED if status == "DELETE 1" else Outcome.REDIRTIED), written


async def roll_days(pool: Pool, limit: int, dims: Dimensions = Dimensions()) -> RollStats:
    """One pass: roll up to ``limit`` dirty days whose hours are all clean."""
    stats = RollStats()
    async with pool.acquire() as conn:
        for row in await conn.fetch(READY_DAYS_SQL, limit):
            outcome, written = await roll_day(conn, row["project"], row["day"], dims)
            stats.count(outcome, written)
    return stats
