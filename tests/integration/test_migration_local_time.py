"""Migration 0005_local_time on a database holding raw runs and rollups: ``rollup_q15`` appears,
every hour with raw rows is marked dirty, and the next rollup derives its quarter rows
equal to ground truth from the runs; downgrade drops the table and keeps the rest;
up again works the same."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from alembic import command

from runtally.api.errors import ApiError
from runtally.api.gather import gather
from runtally.config import Settings
from runtally.cube import GroupKey, cube
from runtally.devstack.servers import PostgresServer
from runtally.rollup.jobs import roll_pending
from runtally.rollup.rows import COLUMNS, record
from runtally.store.engine import create_pool
from runtally.store.migrate import alembic_config, upgrade
from runtally.store.selection import Selection
from runtally.tally import Tally
from tests.integration.migrating import database_at
from tests.integration.rollup import kit

pytestmark = pytest.mark.integration

PREVIOUS = "0004_alerts"  # the revision 0005_local_time follows here (re-chained at merges)

START = datetime(2026, 3, 8, 5, 40, tzinfo=UTC)  # 3 hours across the New York DST change
OLD_HOUR = datetime(2025, 12, 1, 9, tzinfo=UTC)  # rolled long ago; its raw rows are gone
OLD_DAY = OLD_HOUR.replace(hour=0)
OLD_DAY_END = datetime(2025, 12, 1, 18, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def seed(dsn: str, runs: list[kit.Run]) -> None:
    """Raw runs already rolled up (no markers left) and one old hourly row without runs."""
    conn = await asyncpg.connect(dsn)
    try:
        await kit.insert_runs(conn, runs)
        await conn.execute("DELETE FROM rollup_dirty")
        for table, bucket in (("rollup_hourly", OLD_HOUR), ("rollup_daily", OLD_DAY)):
            rows = cube({GroupKey(bucket, "a", "m", ""): Tally(runs=3, successes=3)})
            old = [record(kit.PROJECT, key, tally) for key, tally in rows.items()]
            await conn.copy_records_to_table(table, records=old, columns=list(COLUMNS))
    finally:
        await conn.close()


async def markers(dsn: str) -> set[datetime]:
    conn = await asyncpg.connect(dsn)
    try:
        return {r["hour"] for r in await conn.fetch("SELECT hour FROM rollup_dirty")}
    finally:
        await conn.close()


async def roll_and_check(settings: Settings, runs: list[kit.Run]) -> None:
    pool = await create_pool(settings, max_size=2)
    try:
        pending = await roll_pending(pool, settings)
        assert (pending.dirty_hours, pending.dirty_days) == (0, 0)
        async with pool.acquire() as conn:
            await kit.assert_table_matches(conn, "rollup_q15", runs, "q15")
            hourly = await conn.fetchval(
                "SELECT runs FROM rollup_hourly WHERE bucket = $1 AND dims = 7", OLD_HOUR
            )
            assert hourly == 3  # a rollup without raw rows is left as it was
            assert await conn.fetchval("SELECT since FROM rollup_q15_horizon") == OLD_HOUR + HOUR
            await check_horizon(conn)
    finally:
        await pool.close()


async def check_horizon(conn: Any) -> None:
    """A Kolkata day (cut at 18:30 UTC) needs quarter rows: refused with a reason over the
    old hour, which has none; answered exactly over the new ones. UTC days need none."""
    kolkata = ZoneInfo("Asia/Kolkata")
    old_day = Selection(kit.PROJECT, datetime(2025, 11, 30, 18, 30, tzinfo=UTC), OLD_DAY_END)
    with pytest.raises(ApiError, match="15-minute rollups begin at"):
        await gather(conn, old_day, "day", tz=kolkata)
    utc_day = old_day.during(OLD_DAY, OLD_DAY + 24 * HOUR)
    _, parts, _ = await gather(conn, utc_day, "day")
    assert sum(tally.runs for key, tally in parts if key.dims == 0) == 3
    new_day = old_day.during(
        datetime(2026, 3, 7, 18, 30, tzinfo=UTC), START.replace(hour=18, minute=30)
    )
    sources, parts, _ = await gather(conn, new_day, "day", tz=kolkata)
    assert sources.raw == []
    assert sum(tally.runs for _, tally in parts) == 6_000


def test_upgrade_marks_raw_hours_then_quarters_roll_up_and_downgrade_drops_them(
    pg_server: PostgresServer,
) -> None:
    dsn, settings = database_at(pg_server, "migrate06", PREVIOUS)
    runs = kit.make_runs(6_000, START, 3, seed=60)
    asyncio.run(seed(dsn, runs))
    raw_hours = {kit.hour_of(r.started_at) for r in runs}
    assert len(raw_hours) == 4

    upgrade(settings)
    assert asyncio.run(markers(dsn)) == raw_hours
    asyncio.run(roll_and_check(settings, runs))

    command.downgrade(alembic_config(settings), PREVIOUS)
    tables = pg_server.psql(
        "SELECT to_regclass('rollup_q15') IS NULL, count(*) FROM rollup_hourly", "migrate06"
    )
    gone, hourly_rows = tables.split("|")
    assert gone == "t"
    assert int(hourly_rows) > 1

    upgrade(settings)  # and up again, from a state with raw rows and clean rollups
    assert asyncio.run(markers(dsn)) == raw_hours
    asyncio.run(roll_and_check(settings, runs))
