"""Rollups equal ground truth exactly, late events included, and are idempotent."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runtally.config import Settings
from runtally.rollup.jobs import roll_pending
from runtally.store import partitions
from tests.integration.rollup import kit

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 20, 5, tzinfo=UTC)  # 72 hours over four UTC days
HOURS = 72


async def test_200k_events_with_late_ones_roll_up_exactly(pool: Any, settings: Settings) -> None:
    runs = kit.make_runs(200_000, START, HOURS, seed=3)
    rng = random.Random(4)
    late = set(rng.sample(range(len(runs)), len(runs) // 20))
    on_time = [r for i, r in enumerate(runs) if i not in late]
    late_runs = [r for i, r in enumerate(runs) if i in late]
    async with pool.acquire() as conn:
        await partitions.ensure_partitions(conn, START.date(), START.date() + timedelta(days=3))
        await kit.insert_runs(conn, on_time)
        assert await kit.dirty_counts(conn) == (HOURS, 0)

    first = await roll_pending(pool, settings)
    assert (first.hours.cleared, first.days.cleared) == (HOURS, 4)
    assert (first.dirty_hours, first.dirty_days) == (0, 0)
    async with pool.acquire() as conn:
        await kit.assert_table_matches(conn, "rollup_hourly", on_time, "hour", check_bins=False)
        # The late 5% arrive after every hour was rolled up; they re-dirty their hours.
        await kit.insert_runs(conn, late_runs, batch=1_000)
        assert (await kit.dirty_counts(conn))[0] == HOURS

    second = await roll_pending(pool, settings)
    assert (second.dirty_hours, second.dirty_days) == (0, 0)
    async with pool.acquire() as conn:
        await kit.assert_table_matches(conn, "rollup_q15", runs, "q15")
        await kit.assert_table_matches(conn, "rollup_hourly", runs, "hour")
        await kit.assert_table_matches(conn, "rollup_daily", runs, "day")


async def test_rolling_again_changes_nothing(pool: Any, settings: Settings) -> None:
    runs = kit.make_runs(20_000, START, 30, seed=5)
    async with pool.acquire() as conn:
        await kit.insert_runs(conn, runs)
    await roll_pending(pool, settings)
    async with pool.acquire() as conn:
        before = await kit.snapshot(conn)
    nothing = await roll_pending(pool, settings)
    assert (nothing.hours.found, nothing.days.found) == (0, 0)
    async with pool.acquire() as conn:
        assert await kit.snapshot(conn) == before
        await kit.redirty_everything(conn)
    again = await roll_pending(pool, settings)
    assert again.hours.cleared == 30
    async with pool.acquire() as conn:
        assert await kit.snapshot(conn) == before
        await kit.assert_table_matches(conn, "rollup_daily", runs, "day")


async def test_an_hour_whose_rows_are_gone_loses_its_rollup_rows(
    pool: Any, settings: Settings
) -> None:
    runs = kit.make_runs(500, START, 2, seed=6)
    async with pool.acquire() as conn:
        await kit.insert_runs(conn, runs)
        await roll_pending(pool, settings)
        async with conn.transaction():
            await conn.execute("DELETE FROM agent_runs WHERE started_at >= $1", START + kit.HOUR)
            await kit.mark_hours(conn, [(kit.PROJECT, START + kit.HOUR)])
    await roll_pending(pool, settings)
    kept = [r for r in runs if r.started_at < START + kit.HOUR]
    async with pool.acquire() as conn:
        await kit.assert_table_matches(conn, "rollup_q15", kept, "q15")
        await kit.assert_table_matches(conn, "rollup_hourly", kept, "hour")
        await kit.assert_table_matches(conn, "rollup_daily", kept, "day")
