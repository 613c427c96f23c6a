"""Several rollups at once (tasks and processes, racing ingest) equal one rollup."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from runtally.config import Settings
from runtally.rollup.jobs import roll_pending, run_pending
from tests.integration.rollup import kit

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 10, 20, tzinfo=UTC)


async def _one_rollup_gives(pool: Any, settings: Settings) -> dict[str, Any]:
    """The tables one rollup computes from scratch for the stored rows."""
    async with pool.acquire() as conn:
        await kit.redirty_everything(conn)
    await roll_pending(pool, settings)
    async with pool.acquire() as conn:
        return await kit.snapshot(conn)


async def test_two_rollups_at_once_equal_one(pool: Any, settings: Settings) -> None:
    runs = kit.make_runs(40_000, START, 48, seed=11)
    async with pool.acquire() as conn:
        await kit.insert_runs(conn, runs, batch=2_000)
    first, second = await asyncio.gather(run_pending(settings), run_pending(settings))
    # Each hour and each day was cleared by exactly one of them.
    assert first.hours.cleared + second.hours.cleared == 48
    assert first.days.cleared + second.days.cleared == 3
    async with pool.acquire() as conn:
        assert await kit.dirty_counts(conn) == (0, 0)
        await kit.assert_table_matches(conn, "rollup_hourly", runs, "hour")
        await kit.assert_table_matches(conn, "rollup_daily", runs, "day")
        together = await kit.snapshot(conn)
    assert await _one_rollup_gives(pool, settings) == together


async def test_rollups_racing_ingest_stay_exact(pool: Any, settings: Settings) -> None:
    runs = kit.make_runs(30_000, START, 24, seed=12)
    early, late = runs[:20_000], runs[20_000:]
    async with pool.acquire() as conn:
        await kit.insert_runs(conn, early)
    done = asyncio.Event()

    async def ingest() -> None:
        async with pool.acquire() as conn:
            await kit.insert_runs(conn, late, batch=250)  # 40 commits, each re-dirtying hours
        done.set()

    async def keep_rolling() -> int:
        passes = 0
        while not done.is_set():
            await run_pending(settings)
            passes += 1
        return passes

    _, passes_a, passes_b = await asyncio.gather(ingest(), keep_rolling(), keep_rolling())
    assert passes_a >= 1
    assert passes_b >= 1
    final = await run_pending(settings)
    assert (final.dirty_hours, final.dirty_days) == (0, 0)
    async with pool.acquire() as conn:
        await kit.assert_table_matches(conn, "rollup_hourly", runs, "hour")
        await kit.assert_table_matches(conn, "rollup_daily", runs, "day")


SUMMARY = r"rolled \d+ hours, \d+ days \(\d+ rows\); still dirty: \d+ hours, \d+ days\n"


async def test_two_rollup_processes_equal_one(pool: Any, settings: Settings) -> None:
    runs = kit.make_runs(30_000, START, 40, seed=13)
    async with pool.acquire() as conn:
        await kit.insert_runs(conn, runs, batch=3_000)
    env = kit.cli_env(settings)
    procs = [
        await asyncio.create_subprocess_exec(
            *kit.cli("rollup"), env=env, stdout=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    for proc in procs:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0
        # One process may skip an hour or day the other holds locked, and say so.
        assert re.fullmatch(SUMMARY, out.decode()), out
    async with pool.acquire() as conn:
        assert await kit.dirty_counts(conn) == (0, 0)
        await kit.assert_table_matches(conn, "rollup_hourly", runs, "hour")
        await kit.assert_table_matches(conn, "rollup_daily", runs, "day")
        together = await kit.snapshot(conn)
    assert await _one_rollup_gives(pool, settings) == together
