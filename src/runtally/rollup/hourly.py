"""Hourly rollup: recompute dirty (project, hour) markers from raw rows.

Each hour is rolled in its own short transaction that never blocks ingest:

1. ``pg_try_advisory_xact_lock`` on the hour; if another scheduler holds it, skip.
2. Read the marker's ``seq`` (gone: someone else already rolled it; skip), after taking
   the partition lock shared (a partition being created moves rows; wait for it).
3. Aggregate the hour's raw rows once at quarter hours and replace its ``rollup_q15``
   rows (``rollup.quarters``), then its ``rollup_hourly`` rows merged from the quarters
   (the full-key rows and every grouping set derived from them, ``cube``), and its tag
   and top-K rows (``rollup.dimensions``; the tag aggregate on a second connection if
   one is free, ``rollup.side``, as exact as on this one: see there).
4. Mark the hour's UTC day dirty for the daily rollup, and its local days in the
   registered zones (``rollup.zones``).
5. ``DELETE`` the marker only if its ``seq`` is still the one read in step 2.

Why this is exact under READ COMMITTED: every statement sees all commits made before
it started. An ingest transaction that committed before step 3 is in the aggregate.
One that commits after step 2 bumped the marker's ``seq`` when it marked the hour
(``dirty.mark_hours`` runs in the same transaction as its rows), so step 5 finds a
newer ``seq`` and leaves the marker: the next run recomputes the hour. If that ingest
transaction is still open at step 5, the DELETE waits for its row lock and then
re-checks ``seq`` against the committed row. Ingest never waits on a rollup except for
the instant between step 5 and the commit. Rolling an hour twice is harmless: the rows
are replaced, never added to, so the rollup is idempotent.
"""

from __future__ import annotations

from datetime import datetime

from runtally.cube import cube
from runtally.grid import HOUR
from runtally.rollup.dimensions import Dimensions, hour_tags, roll_hour_dimensions
from runtally.rollup.quarters import roll_quarters
from runtally.rollup.rows import day_start, lock_key, replace_rows
from runtally.rollup.side import alongside, spare
from runtally.rollup.stats import Outcome, RollStats
from runtally.rollup.zones import mark_zone_days
from runtally.store.dirty import mark_days
from runtally.store.partitions import PARTITION_LOCK
from runtally.store.protocols import Connection, Pool
from runtally.store.selection import Selection

TABLE = "rollup_hourly"


async def dirty_hours(
    conn: Connection, limit: int, before: datetime | None = None
) -> list[tuple[str, datetime]]:
    """Up to ``limit`` dirty (project, hour) pairs, oldest hour first."""
    if before is None:
        rows = await conn.fetch(
            "SELECT project, hour FROM rollup_dirty ORDER BY hour, project LIMIT $1", limit
        )
    else:
        rows = await conn.fetch(
            "SELECT project, hour FROM rollup_dirty WHERE hour < $2 "
            "ORDER BY hour, project LIMIT $1",
            limit,
            before,
        )
    return [(row["project"], row["hour"]) for row in rows]


async def roll_hour(
    conn: Connection,
    project: str,
    hour: datetime,
    dims: Dimensions = Dimensions(),
    side: Connection | None = None,
) -> tuple[Outcome, int]:
    """Recompute one hour (steps 1-5 above); returns the outcome and rows written.
    With ``side`` (an idle connection), the tag aggregate runs on it meanwhile
    (``rollup.side``)."""
    async with conn.transaction():
        locked = await conn.fetchval(
            "SELECT pg_try_advisory_xact_lock($1)", lock_key("hour", project, hour)
        )
        if not locked:
            return Outcome.SKIPPED, 0
        # Wait out a partition being created: it moves rows out of the default partition
        # and attaches the new one, and a scan planned meanwhile could miss those rows.
        await conn.execute("SELECT pg_advisory_xact_lock_shared(hashtext($1))", PARTITION_LOCK)
        seq = await conn.fetchval(
            "SELECT seq FROM rollup_dirty WHERE project = $1 AND hour = $2", project, hour
        )
        if seq is None:
            return Outcome.SKIPPED, 0
        written = await _recompute(conn, Selection(project, hour, hour + HOUR), dims, side)
        await mark_days(conn, [(project, day_start(hour))])
        await mark_zone_days(conn, project, [hour])
        status = await conn.execute(
            "DELETE FROM rollup_dirty WHERE project = $1 AND hour = $2 AND seq = $3",
            project,
            hour,
            seq,
        )
    return (Outcome.CLEARED if status == "DELETE 1" else Outcome.REDIRTIED), written


async def _recompute(
    conn: Connection, raw: Selection, dims: Dimensions, side: Connection | None
) -> int:
    """Step 3: the hour's quarter, hourly, tag and top-K rows; rollup rows written."""
    async with alongside(side, lambda other: hour_tags(other, raw, dims)) as tags:
        tallies, written = await roll_quarters(conn, raw.project, raw.start)
        written += await replace_rows(conn, TABLE, raw.project, raw.start, raw.end,
                                      cube(tallies))  # fmt: skip
        # Tag and top-K rows: not counted in ``written`` (the rollup tables' rows).
        await roll_hour_dimensions(conn, raw, dims, tags)
    return written


async def roll_hours(
    pool: Pool, limit: int, before: datetime | None = None, dims: Dimensions = Dimensions()
) -> RollStats:
    """One pass: roll up to ``limit`` dirty hours (only those before ``before`` if given),
    with a second connection for each hour's tag aggregate if the pool has one free."""
    stats = RollStats()
    async with pool.acquire() as conn, spare(pool) as side:
        for project, hour in await dirty_hours(conn, limit, before):
            outcome, written = await roll_hour(conn, project, hour, dims, side)
            stats.count(outcome, written)
    return stats
