"""``runtally scheduler`` as real arq workers against real Redis and Postgres."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runtally.config import Settings
from runtally.store import partitions
from tests.integration.rollup import kit

pytestmark = pytest.mark.integration


async def start_scheduler(settings: Settings, log: Path) -> asyncio.subprocess.Process:
    env = kit.cli_env(settings, RUNTALLY_ROLLUP_INTERVAL_S="1", RUNTALLY_ROLLUP_DAYS_INTERVAL_S="1")
    with log.open("wb") as sink:
        return await asyncio.create_subprocess_exec(
            *kit.cli("scheduler"), env=env, stdout=sink, stderr=sink
        )


async def wait_all_rolled(conn: Any, deadline_s: float = 45) -> None:
    """Until no hour or day is dirty (bounded)."""
    deadline = time.monotonic() + deadline_s
    while await kit.dirty_counts(conn) != (0, 0):
        assert time.monotonic() < deadline, f"still dirty: {await kit.dirty_counts(conn)}"
        await asyncio.sleep(0.2)


async def stop_all(procs: list[asyncio.subprocess.Process], logs: list[Path]) -> None:
    """SIGTERM every scheduler still running and wait for all of them (none is left
    behind to write into the next test's Redis), then check each exited cleanly."""
    for proc in procs:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            await asyncio.wait_for(proc.wait(), timeout=20)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    for proc, log in zip(procs, logs, strict=True):
        text = _read(log)
        assert proc.returncode == 0, text
        assert "Traceback" not in text


def _read(log: Path) -> str:
    return log.read_text()


async def test_two_schedulers_keep_the_rollups_exact(
    pool: Any, settings: Settings, tmp_path: Path
) -> None:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=6)
    runs = kit.make_runs(20_000, start, 6, seed=31)
    logs = [tmp_path / "scheduler-a.log", tmp_path / "scheduler-b.log"]
    procs = [await start_scheduler(settings, log) for log in logs]
    try:
        async with pool.acquire() as conn:
            await kit.insert_runs(conn, runs[:15_000], batch=1_000)
            await wait_all_rolled(conn)
            await kit.assert_table_matches(conn, "rollup_hourly", runs[:15_000], "hour")
            # Late events for hours rolled already: the schedulers pick them up too.
            await kit.insert_runs(conn, runs[15_000:], batch=500)
            await wait_all_rolled(conn)
            await kit.assert_table_matches(conn, "rollup_hourly", runs, "hour")
            await kit.assert_table_matches(conn, "rollup_daily", runs, "day")
            # The startup job created the raw partitions of the retention window and ahead.
            made = await partitions.existing_partitions(conn)
            today = datetime.now(UTC).date()
            assert today + timedelta(days=settings.partitions_ahead_days) in made
    finally:
        await stop_all(procs, logs)


async def test_scheduler_refuses_unreachable_postgres(settings: Settings) -> None:
    env = kit.cli_env(settings, RUNTALLY_DATABASE_URL="postgresql://x@127.0.0.1:1/x")
    proc = await asyncio.create_subprocess_exec(
        *kit.cli("scheduler"), env=env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 1
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("runtally: error: cannot reach Postgres at postgresql://x@")
