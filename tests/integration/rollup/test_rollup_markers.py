"""The marker discipline: seq-checked clearing, advisory locks, days wait for hours."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runtally.rollup.daily import roll_day
from runtally.rollup.hourly import roll_hour
from runtally.rollup.rows import lock_key
from runtally.rollup.stats import Outcome
from runtally.store import partitions
from tests.integration.rollup import kit

pytestmark = pytest.mark.integration

HOUR = datetime(2026, 11, 12, 9, tzinfo=UTC)
DAY = datetime(2026, 11, 12, tzinfo=UTC)


async def _wait_until_blocked(conn: Any, deadline_s: float = 10) -> None:
    """Until some other backend of this database waits for a lock."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("no backend ever waited for a lock")


async def test_an_event_committed_during_the_rollup_keeps_the_hour_dirty(pool: Any) -> None:
    runs = kit.make_runs(300, HOUR, 1, seed=21)
    extra = kit.make_runs(7, HOUR, 1, seed=22)
    async with pool.acquire() as roller, pool.acquire() as ingest, pool.acquire() as watch:
        await kit.insert_runs(ingest, runs)
        # An ingest transaction stores more rows of the hour and marks it, but is slow
        # to commit: the rollup misses its rows and must not clear the marker.
        tx = ingest.transaction()
        await tx.start()
        await kit.insert_runs(ingest, extra)
        rolling = asyncio.create_task(roll_hour(roller, kit.PROJECT, HOUR))
        await _wait_until_blocked(watch)  # the rollup's marker DELETE waits for ingest
        await tx.commit()
        assert await rolling == (Outcome.REDIRTIED, await _rows(watch))
        await kit.assert_table_matches(watch, "rollup_hourly", runs, "hour")
        assert await kit.dirty_counts(watch) == (1, 1)
        outcome, _ = await roll_hour(roller, kit.PROJECT, HOUR)
        assert outcome is Outcome.CLEARED
        await kit.assert_table_matches(watch, "rollup_hourly", runs + extra, "hour")
        assert await kit.dirty_counts(watch) == (0, 1)


async def _rows(conn: Any) -> int:
    """Rows an hour's rollup writes: its quarter-hour rows and its hourly rows."""
    count: int = await conn.fetchval(
        "SELECT (SELECT count(*) FROM rollup_q15) + (SELECT count(*) FROM rollup_hourly)"
    )
    return count


async def test_a_locked_hour_is_skipped_and_stays_dirty(pool: Any) -> None:
    runs = kit.make_runs(100, HOUR, 1, seed=23)
    async with pool.acquire() as roller, pool.acquire() as other:
        await kit.insert_runs(roller, runs)
        async with other.transaction():
            await other.execute(
                "SELECT pg_advisory_xact_lock($1)", lock_key("hour", kit.PROJECT, HOUR)
            )
            assert await roll_hour(roller, kit.PROJECT, HOUR) == (Outcome.SKIPPED, 0)
            assert await kit.dirty_counts(roller) == (1, 0)
        assert (await roll_hour(roller, kit.PROJECT, HOUR))[0] is Outcome.CLEARED
        # Already done: a second scheduler holding a stale list finds no marker.
        assert await roll_hour(roller, kit.PROJECT, HOUR) == (Outcome.SKIPPED, 0)


async def test_a_day_waits_for_its_dirty_hours(pool: Any) -> None:
    runs = kit.make_runs(200, HOUR, 2, seed=24)
    async with pool.acquire() as conn:
        await kit.insert_runs(conn, runs)
        await roll_hour(conn, kit.PROJECT, HOUR)
        assert await roll_day(conn, kit.PROJECT, DAY) == (Outcome.WAITING, 0)
        assert await kit.dirty_counts(conn) == (1, 1)
        await roll_hour(conn, kit.PROJECT, HOUR + timedelta(hours=1))
        outcome, written = await roll_day(conn, kit.PROJECT, DAY)
        assert outcome is Outcome.CLEARED
        assert written > 0
        assert await kit.dirty_counts(conn) == (0, 0)
        await kit.assert_table_matches(conn, "rollup_daily", runs, "day")


async def test_an_hour_rollup_waits_for_a_partition_being_created(pool: Any) -> None:
    runs = kit.make_runs(500, HOUR, 1, seed=25)
    async with pool.acquire() as roller, pool.acquire() as ddl, pool.acquire() as watch:
        await kit.insert_runs(roller, runs)  # no partition yet: rows sit in the default one
        tx = ddl.transaction()
        await tx.start()
        # What create_partition holds while it moves the day's rows and attaches.
        await ddl.execute("SELECT pg_advisory_xact_lock(hashtext('runtally:partitions'))")
        rolling = asyncio.create_task(roll_hour(roller, kit.PROJECT, HOUR))
        await _wait_until_blocked(watch)
        await partitions.create_partition(ddl, HOUR.date())
        await tx.commit()
        assert (await rolling)[0] is Outcome.CLEARED
        assert await watch.fetchval("SELECT count(*) FROM agent_runs_default") == 0
        await kit.assert_table_matches(watch, "rollup_hourly", runs, "hour")
