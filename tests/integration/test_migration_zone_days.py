"""Migration 0009_zone_days on a database holding raw runs and rollup rows: the rows
stay; a rollup with a zone configured then registers it and rolls its local days from
the hourly rows already there; downgrade drops the three tables and keeps every other
row; up again, the next rollup rolls the zone's days again."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from alembic import command

from runtally.cube import FULL
from runtally.devstack.servers import PostgresServer
from runtally.rollup.jobs import run_pending
from runtally.store.migrate import alembic_config, upgrade
from tests.integration.migrating import database_at
from tests.integration.rollup import kit
from tests.integration.test_migration_percentiles import START, counts, seed

pytestmark = pytest.mark.integration

BEFORE = "0008_packed_bins"  # the head before 0009_zone_days
NEW = ("rollup_zones", "rollup_zone_daily", "rollup_dirty_zone_day")


async def zone_state(dsn: str) -> dict[str, Any]:
    """Which of the new tables exist, and the zone rows' runs per (zone, day)."""
    conn = await asyncpg.connect(dsn)
    try:
        present = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_name = ANY($1)",
            list(NEW),
        )
        runs = []
        if present:
            runs = await conn.fetch(
                "SELECT zone, bucket, sum(runs) AS runs FROM rollup_zone_daily"
                " WHERE dims = $1 GROUP BY zone, bucket ORDER BY zone, bucket", FULL
            )  # fmt: skip
        return {"tables": sorted(r["table_name"] for r in present),
                "runs": [tuple(r.values()) for r in runs]}  # fmt: skip
    finally:
        await conn.close()


def test_zone_days_migration_up_down_up_with_data(pg_server: PostgresServer) -> None:
    dsn, settings = database_at(pg_server, "migrate09", BEFORE)
    runs = kit.make_runs(3_000, START, 2, seed=45)
    asyncio.run(seed(dsn, runs))
    before = counts(dsn)
    assert asyncio.run(zone_state(dsn)) == {"tables": [], "runs": []}

    upgrade(settings)
    assert counts(dsn) == before
    assert asyncio.run(zone_state(dsn)) == {"tables": sorted(NEW), "runs": []}
    zoned = settings.model_copy(update={"rollup_zones": "Asia/Kolkata"})
    asyncio.run(run_pending(zoned))
    # Both hours (10:00 and 11:00 UTC) lie in Kolkata's day from 18:30 UTC the day before.
    rolled = asyncio.run(zone_state(dsn))
    day = START.replace(hour=18, minute=30) - kit.DAY
    assert rolled["runs"] == [("Asia/Kolkata", day, len(runs))]

    after = counts(dsn)
    command.downgrade(alembic_config(settings), BEFORE)
    assert counts(dsn) == after
    assert asyncio.run(zone_state(dsn)) == {"tables": [], "runs": []}
    upgrade(settings)  # and up again: the next rollup registers the zone again
    asyncio.run(run_pending(zoned))
    assert asyncio.run(zone_state(dsn)) == rolled
