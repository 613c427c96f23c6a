"""Local days of registered zones (``rollup_zone_daily``): which to mark, and their roll.

A deployment names the zones its users read daily series in (``RUNTALLY_ROLLUP_ZONES``);
for those, a local day is one row per key, as a UTC day is in ``rollup_daily``.

- ``sync_zones`` registers the configured zones in ``rollup_zones`` and marks every local
  day that has hourly rows; a zone no longer configured is dropped with its rows.
- ``mark_zone_days`` marks the local days an hour's rows touch, in every registered zone.
  Whatever rewrites an hour's rows calls it in the same transaction (the hourly rollup,
  repricing). It and ``sync_zones`` lock ``rollup_zones`` against each other, so a zone
  registered while an hour is rolled is marked by one of the two: the roll sees the zone,
  or the registration sees the roll's rows.
- ``roll_zone_day`` recomputes a marked day from its hourly rows (quarter-hour rows at
  edges inside an hour, as in Asia/Kolkata), with the daily rollup's discipline: advisory
  lock, marker ``seq`` read first and cleared only if unchanged, a day with a dirty hour
  left for later.

Only days whose edges fall on UTC quarter hours (every zone today) are marked. A day
that needs quarter-hour rows from before that grain existed is rolled short; the read
path never takes it (``api.zonedays`` checks ``rollup_q15_horizon``), nor a marked day,
nor one with a dirty hour.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from runtally import localtime
from runtally.cube import FULL, GroupKey, cube
from runtally.grid import HOUR, QUARTER, ceil_to, floor_to
from runtally.rollup.daily import merge_day
from runtally.rollup.rows import lock_key, read_rows, replace_rows
from runtally.rollup.stats import Outcome, RollStats
from runtally.store.protocols import Connection, Pool
from runtally.store.selection import ZONE_TABLE
from runtally.tally import Tally

Day = tuple[datetime, datetime]  # a local day's first instant and the next day's (UTC)

MARK_SQL = """
INSERT INTO rollup_dirty_zone_day (project, zone, day, until)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])
ON CONFLICT (project, zone, day)
DO UPDATE SET seq = nextval('rollup_dirty_seq'), dirtied_at = now()
"""

# Marked days none of whose hours is dirty (the hour of ``day`` included: it may start
# inside that hour).
READY_SQL = """
SELECT d.project, d.zone, d.day FROM rollup_dirty_zone_day d
WHERE NOT EXISTS (
    SELECT 1 FROM rollup_dirty h
    WHERE h.project = d.project AND h.hour > d.day - interval '1 hour' AND h.hour < d.until
)
ORDER BY d.day, d.project, d.zone LIMIT $1
"""


def days_of_hour(hour: datetime, zone: str) -> list[Day]:
    """The local days of ``zone`` that the UTC ``hour`` has instants in (one, or two
    when a local day starts inside it), those cut on quarter hours only (pure)."""
    tz = localtime.zone(zone)
    quarters = (hour + k * QUARTER for k in range(4))
    days = sorted({localtime.local_day(moment, tz) for moment in quarters})
    return [day for day in days if all(floor_to(edge, QUARTER) == edge for edge in day)]


async def _mark(conn: Connection, marks: Iterable[tuple[str, str, datetime, datetime]]) -> None:
    rows = sorted(set(marks))  # one lock order for concurrent markers
    if rows:
        await conn.execute(MARK_SQL, *(list(column) for column in zip(*rows, strict=True)))


async def mark_zone_days(conn: Connection, project: str, hours: Iterable[datetime]) -> None:
    """Mark the local days of ``hours`` (UTC hour starts) in every registered zone; call
    in the transaction that rewrote those hours' rows."""
    await conn.execute("LOCK TABLE rollup_zones IN SHARE MODE")
    zones = [row["zone"] for row in await conn.fetch("SELECT zone FROM rollup_zones")]
    await _mark(conn, ((project, zone, *day) for zone in zones for hour in set(hours)
                       for day in days_of_hour(hour, zone)))  # fmt: skip


async def sync_zones(conn: Connection, names: Sequence[str]) -> bool:
    """Make ``rollup_zones`` hold exactly ``names``; a new zone's local days that have
    hourly rows are marked for the roll. Whether anything changed."""
    current = {row["zone"] for row in await conn.fetch("SELECT zone FROM rollup_zones")}
    if current == set(names):
        return False
    async with conn.transaction():
        await conn.execute("LOCK TABLE rollup_zones IN EXCLUSIVE MODE")
        await conn.execute("DELETE FROM rollup_zones WHERE zone <> ALL($1::text[])", list(names))
        current = {row["zone"] for row in await conn.fetch("SELECT zone FROM rollup_zones")}
        new = [name for name in names if name not in current]
        if new:
            await _register(conn, new)
    return True


async def _register(conn: Connection, new: list[str]) -> None:
    """Add ``new`` zones and mark their local days that have hourly rows."""
    await conn.execute("INSERT INTO rollup_zones (zone) SELECT unnest($1::text[])", new)
    hours = await conn.fetch(
        "SELECT DISTINCT project, bucket FROM rollup_hourly WHERE dims = $1", FULL
    )
    await _mark(conn, ((row["project"], zone, *day) for zone in new for row in hours
                       for day in days_of_hour(row["bucket"], zone)))  # fmt: skip


async def _day_rows(conn: Connection, project: str, day: Day) -> dict[GroupKey, Tally]:
    """The full-key rows of ``day``: its whole hours' hourly rows and the quarter-hour
    rows of the hours it starts or ends inside."""
    start, end = day
    first, last = ceil_to(start, HOUR), floor_to(end, HOUR)
    rows = dict(await read_rows(conn, "rollup_hourly", project, first, last))
    rows.update(await read_rows(conn, "rollup_q15", project, start, min(first, end)))
    rows.update(await read_rows(conn, "rollup_q15", project, max(last, start), end))
    return rows


async def roll_zone_day(conn: Connection, project: str, zone: str, start: datetime
                        ) -> tuple[Outcome, int]:  # fmt: skip
    """Recompute one marked local day of ``zone`` from its hourly and quarter-hour rows;
    the outcome and rows written."""
    async with conn.transaction():
        lock = lock_key(f"zone-day:{zone}", project, start)
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", lock):
            return Outcome.SKIPPED, 0
        marker = await conn.fetchrow(
            "SELECT seq, until FROM rollup_dirty_zone_day"
            " WHERE project = $1 AND zone = $2 AND day = $3", project, zone, start
        )  # fmt: skip
        if marker is None:
            return Outcome.SKIPPED, 0
        end = marker["until"]
        if await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM rollup_dirty"
            " WHERE project = $1 AND hour >= $2 AND hour < $3)", project, floor_to(start, HOUR), end
        ):  # fmt: skip
            return Outcome.WAITING, 0
        day = cube(merge_day(start, await _day_rows(conn, project, (start, end))))
        written = await replace_rows(conn, ZONE_TABLE, project, start, end, day, zone)
        status = await conn.execute(
            "DELETE FROM rollup_dirty_zone_day"
            " WHERE project = $1 AND zone = $2 AND day = $3 AND seq = $4",
            project, zone, start, marker["seq"],
        )  # fmt: skip
    return (Outcome.CLEARED if status == "DELETE 1" else Outcome.REDIRTIED), written


async def roll_zone_days(pool: Pool, limit: int, zones: Sequence[str]) -> RollStats:
    """One pass: register ``zones`` (``sync_zones``), then roll up to ``limit`` marked
    local days whose hours are all clean."""
    stats = RollStats()
    async with pool.acquire() as conn:
        await sync_zones(conn, zones)
        for row in await conn.fetch(READY_SQL, limit):
            outcome, written = await roll_zone_day(conn, row["project"], row["zone"], row["day"])
            stats.count(outcome, written)
    return stats
