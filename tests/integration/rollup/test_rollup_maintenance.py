"""Partitions ahead, raw retention (rollups kept), dead-letter trimming."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from runtally.config import Settings
from runtally.rollup import jobs, maintenance
from runtally.rollup.jobs import roll_pending
from runtally.rollup.rows import lock_key
from runtally.store import partitions
from tests.integration.rollup import kit

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)


async def test_partitions_are_created_from_retention_start_to_days_ahead(
    pool: Any, settings: Settings
) -> None:
    created = await maintenance.create_partitions_ahead(pool, settings, NOW)
    first = date(2026, 11, 24) - timedelta(days=settings.raw_retention_days)
    last = date(2026, 11, 24) + timedelta(days=settings.partitions_ahead_days)
    assert created == [first + timedelta(days=i) for i in range((last - first).days + 1)]
    assert await maintenance.create_partitions_ahead(pool, settings, NOW) == []


async def test_retention_drops_old_raw_days_after_rolling_them(
    pool: Any, settings: Settings
) -> None:
    settings = settings.model_copy(update={"raw_retention_days": 2})
    old_day = datetime(2026, 11, 21, tzinfo=UTC)  # before the cutoff, 2026-11-22
    old = kit.make_runs(2_000, old_day, 24, seed=41)
    recent = kit.make_runs(2_000, datetime(2026, 11, 23, tzinfo=UTC), 24, seed=42)
    async with pool.acquire() as conn:
        await partitions.ensure_partitions(conn, date(2026, 11, 21), date(2026, 11, 24))
        await kit.insert_runs(conn, old + recent[:1_000])
    await roll_pending(pool, settings)
    # Events of the old day stored but not rolled up yet when retention comes.
    late = kit.make_runs(50, old_day, 24, seed=43)
    async with pool.acquire() as conn:
        await kit.insert_runs(conn, late + recent[1_000:])

    retention = await maintenance.apply_retention(pool, settings, NOW)

    assert retention.dropped == [date(2026, 11, 21)]
    async with pool.acquire() as conn:
        assert date(2026, 11, 21) not in await partitions.existing_partitions(conn)
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM agent_runs WHERE started_at < $1", old_day + kit.DAY
            )
            == 0
        )
    await roll_pending(pool, settings)
    async with pool.acquire() as conn:
        # The old day's rollups outlive its raw rows, late events included, at every grain
        # (quarter-hour rows at least as long as raw rows: local days stay answerable).
        await kit.assert_table_matches(conn, "rollup_q15", old + late + recent, "q15")
        await kit.assert_table_matches(conn, "rollup_hourly", old + late + recent, "hour")
        await kit.assert_table_matches(conn, "rollup_daily", old + late + recent, "day")


async def test_retention_waits_for_a_dirty_old_hour_held_elsewhere(
    pool: Any, settings: Settings
) -> None:
    settings = settings.model_copy(update={"raw_retention_days": 2})
    hour = datetime(2026, 11, 21, 4, tzinfo=UTC)
    runs = kit.make_runs(100, hour, 1, seed=44)
    async with pool.acquire() as conn, pool.acquire() as other:
        await partitions.ensure_partitions(conn, date(2026, 11, 21), date(2026, 11, 21))
        await kit.insert_runs(conn, runs)
        async with other.transaction():
            await other.execute(
                "SELECT pg_advisory_xact_lock($1)", lock_key("hour", kit.PROJECT, hour)
            )
            retention = await maintenance.apply_retention(pool, settings, NOW)
        assert (retention.dropped, retention.postponed) == ([], 1)
        assert await conn.fetchval("SELECT count(*) FROM agent_runs") == 100
        retention = await maintenance.apply_retention(pool, settings, NOW)
        assert retention.dropped == [date(2026, 11, 21)]
        await kit.assert_table_matches(conn, "rollup_hourly", runs, "hour")


async def test_dead_letters_older_than_retention_are_trimmed(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    day_ms = 86_400_000
    now_ms = int(NOW.timestamp() * 1000)
    ages = (20, 15, 14.5, 13, 1)  # days; retention keeps 14
    for age in ages:
        await redis_client.xadd(
            settings.dead_stream, {"reason": f"{age}"}, id=f"{now_ms - int(age * day_ms)}-0"
        )
    removed = await maintenance.trim_dead_letters(redis_client, settings, NOW)
    assert removed == 3
    kept = await redis_client.xrange(settings.dead_stream)
    assert [fields[b"reason"] for _, fields in kept] == [b"13", b"1"]


async def test_job_bodies_run_with_an_arq_like_context(
    pool: Any, settings: Settings, redis_client: aioredis.Redis
) -> None:
    runs = kit.make_runs(1_000, datetime(2026, 11, 23, 5, tzinfo=UTC), 3, seed=45)
    async with pool.acquire() as conn:
        await kit.insert_runs(conn, runs)
    old_id = f"{int((NOW - timedelta(days=30)).timestamp() * 1000)}-0"
    await redis_client.xadd(settings.dead_stream, {"reason": "old"}, id=old_id)
    ctx = {"settings": settings, "pool": pool, "redis": redis_client, "clock": lambda: NOW}
    created = await jobs.job_partitions(ctx)
    assert "2026-11-23" in created
    assert (await jobs.job_roll_hours(ctx))["cleared"] == 3
    assert (await jobs.job_roll_days(ctx))["cleared"] == 1
    assert await jobs.job_retention(ctx) == {"dropped": [], "postponed": 0, "trimmed": 1}
    async with pool.acquire() as conn:
        await kit.assert_table_matches(conn, "rollup_daily", runs, "day")
