"""A scheduler SIGKILLed mid-rollup: the next run completes the work, tables stay exact."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runtally.config import Settings
from runtally.rollup.jobs import run_pending
from tests.integration.rollup import kit

pytestmark = pytest.mark.faults

START = datetime(2026, 11, 23, 0, tzinfo=UTC)


async def _poll(check: Any, deadline_s: float, what: str) -> None:
    deadline = time.monotonic() + deadline_s
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


APP = "runtally-to-kill"


async def _victims(conn: Any, waiting: bool = False) -> int:
    """Backends of the process under test (it connects with application_name APP)."""
    sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
    if waiting:
        sql += " AND wait_event_type = 'Lock'"
    count: int = await conn.fetchval(sql, APP)
    return count


async def _hold_marker(holder: Any, hour: datetime) -> Any:
    """Lock the marker row of ``hour`` in an open transaction (returned): a rollup of
    that hour computes and writes it, marks its day, then waits at the marker DELETE
    with its own transaction still open."""
    tx = holder.transaction()
    await tx.start()
    await holder.execute(
        "SELECT 1 FROM rollup_dirty WHERE project = $1 AND hour = $2 FOR UPDATE",
        kit.PROJECT,
        hour,
    )
    return tx


async def test_killed_inside_an_hour_transaction(pool: Any, settings: Settings) -> None:
    runs = kit.make_runs(20_000, START, 24, seed=51)
    blocked_hour = START + timedelta(hours=12)
    async with pool.acquire() as conn, pool.acquire() as holder:
        await kit.insert_runs(conn, runs)
        tx = await _hold_marker(holder, blocked_hour)
        env = kit.cli_env(
            settings, RUNTALLY_DATABASE_URL=f"{settings.database_url}?application_name={APP}"
        )
        proc = await asyncio.create_subprocess_exec(*kit.cli("rollup"), env=env)
        await _poll(lambda: _victims(conn, waiting=True), 30, "the rollup to block")
        assert (await kit.dirty_counts(conn))[0] == 12  # hours before the held one are done
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        await tx.rollback()
        await _poll(lambda: _none_left(conn), 30, "the dead backend to go")
        # Its transaction rolled back: the hour is still dirty and has no rows.
        assert (await kit.dirty_counts(conn))[0] == 12
        assert not await conn.fetchval(
            "SELECT count(*) FROM rollup_hourly WHERE bucket = $1", blocked_hour
        )

    pending = await run_pending(settings)
    assert (pending.hours.cleared, pending.dirty_hours, pending.dirty_days) == (12, 0, 0)
    async with pool.acquire() as conn:
        await kit.assert_table_matches(conn, "rollup_hourly", runs, "hour")
        await kit.assert_table_matches(conn, "rollup_daily", runs, "day")


async def _none_left(conn: Any) -> bool:
    return await _victims(conn) == 0


async def test_scheduler_killed_while_rolling_then_restarted(
    pool: Any, settings: Settings, tmp_path: Path
) -> None:
    hours = 48
    runs = kit.make_runs(60_000, START - timedelta(hours=24), hours, seed=52)
    env = kit.cli_env(
        settings,
        RUNTALLY_ROLLUP_INTERVAL_S="1",
        RUNTALLY_ROLLUP_DAYS_INTERVAL_S="1",
        RUNTALLY_ROLLUP_BATCH_HOURS="4",
    )
    async with pool.acquire() as conn:
        await kit.insert_runs(conn, runs, batch=5_000)

        async def some_hours_done() -> bool:
            return 0 < (await kit.dirty_counts(conn))[0] < hours

        with (tmp_path / "first.log").open("wb") as log:
            first = await asyncio.create_subprocess_exec(
                *kit.cli("scheduler"), env=env, stdout=log, stderr=log
            )
        await _poll(some_hours_done, 60, "the first scheduler to roll some hours")
        first.send_signal(signal.SIGKILL)
        await first.wait()
        assert (await kit.dirty_counts(conn))[0] > 0

        with (tmp_path / "second.log").open("wb") as log:
            second = await asyncio.create_subprocess_exec(
                *kit.cli("scheduler"), env=env, stdout=log, stderr=log
            )
        try:

            async def all_done() -> bool:
                return await kit.dirty_counts(conn) == (0, 0)

            await _poll(all_done, 60, "the second scheduler to finish")
        finally:
            second.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(second.wait(), timeout=20)
            assert code == 0, (tmp_path / "second.log").read_text()[-3000:]
        await kit.assert_table_matches(conn, "rollup_hourly", runs, "hour")
        await kit.assert_table_matches(conn, "rollup_daily", runs, "day")


async def test_sigterm_waits_out_the_grace_then_cancels_without_a_traceback(
    pool: Any, settings: Settings, tmp_path: Path
) -> None:
    runs = kit.make_runs(5_000, START, 4, seed=53)
    blocked_hour = START + timedelta(hours=2)
    async with pool.acquire() as conn, pool.acquire() as holder:
        await kit.insert_runs(conn, runs)
        tx = await _hold_marker(holder, blocked_hour)
        env = kit.cli_env(
            settings,
            RUNTALLY_DATABASE_URL=f"{settings.database_url}?application_name={APP}",
            RUNTALLY_ROLLUP_INTERVAL_S="1",
            RUNTALLY_SHUTDOWN_GRACE_S="1",
        )
        log_path = tmp_path / "scheduler.log"
        with log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                *kit.cli("scheduler"), env=env, stdout=log, stderr=log
            )
        try:
            await _poll(lambda: _victims(conn, waiting=True), 30, "the rollup to block")
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), timeout=20)
        finally:
            if proc.returncode is None:
                proc.kill()
            await tx.rollback()
        log_text = log_path.read_text()
        assert code == 0, log_text[-3000:]
        assert "Traceback" not in log_text
        assert "cancelled" in log_text  # by arq, or by our handler when close() re-raises
        # The cancelled hour rolled back: still dirty, no rows; a later run finishes it.
        assert (
            await conn.fetchval("SELECT count(*) FROM rollup_dirty WHERE hour = $1", blocked_hour)
            == 1
        )
        assert not await conn.fetchval(
            "SELECT count(*) FROM rollup_hourly WHERE bucket = $1", blocked_hour
        )
    await run_pending(settings)
    async with pool.acquire() as conn:
        assert await kit.dirty_counts(conn) == (0, 0)
        await kit.assert_table_matches(conn, "rollup_hourly", runs, "hour")
