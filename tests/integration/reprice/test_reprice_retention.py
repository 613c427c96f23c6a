"""Reprice past raw retention (rollup rows from their own sums), killed half way and
run again, and what cannot be repriced exactly: left as it is and said so."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runtally.config import Settings
from runtally.constants import RETENTION_LOCK
from runtally.reprice.plan import NOT_LINEAR, UNSPLIT, Window
from runtally.reprice.run import Options, reprice
from runtally.rollup.jobs import roll_pending
from tests.integration.reprice.kit import (
    NEW,
    OLD,
    ZONE,
    Run,
    insert,
    raw_costs,
    rollup_rows,
    rollup_truth,
    table,
)
from tests.integration.reprice.test_reprice import RUNS, check, expected

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 10, tzinfo=UTC)
CUTOFF = datetime(2026, 6, 3, tzinfo=UTC)  # NOW with 7 days of raw retention
RETENTION = 7


def zoned(settings: Settings) -> Settings:
    """``settings`` with ``ZONE``'s local days rolled up: repricing an hour re-rolls them."""
    return settings.model_copy(update={"rollup_zones": ZONE})


async def stored_then_retention(pool: Any, settings: Settings) -> None:
    """Runs stored and rolled up; then the raw runs before the cutoff are dropped."""
    async with pool.acquire() as conn:
        await insert(conn, RUNS, OLD)
    await roll_pending(pool, zoned(settings))
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM agent_runs WHERE started_at < $1", CUTOFF)


async def check_all(pool: Any, settings: Settings, cost_of: Any) -> None:
    async with pool.acquire() as conn:
        raw = await raw_costs(conn)
    for run in RUNS:
        if run.started_at >= CUTOFF:
            assert raw[run.event_id] == expected(run, True)
        else:
            assert run.event_id not in raw
    await roll_pending(pool, zoned(settings))
    async with pool.acquire() as conn:
        for level in ("q15", "hour", "day", "zone"):
            assert await rollup_rows(conn, level) == rollup_truth(RUNS, cost_of, level), level


def new_cost(run: Run) -> Any:
    return expected(run, True)[0]


async def test_rollups_past_retention_are_repriced_exactly_from_token_sums(
    pool: Any, settings: Settings
) -> None:
    await stored_then_retention(pool, settings)
    async with pool.acquire() as conn:
        report = await reprice(
            conn, table(NEW), Options(Window.of_dates(None, None, None), True, 500, RETENTION), NOW
        )
    await check_all(pool, settings, new_cost)
    mine = [r for r in RUNS if r.event_cost is None]
    assert sum(line.runs for line in report.lines.values()) == len(mine)
    assert sum(line.after for line in report.lines.values()) == sum(r.cost(NEW) or 0 for r in mine)
    assert not report.left


async def test_rows_that_cannot_be_repriced_exactly_are_left_and_reported(
    pool: Any, settings: Settings
) -> None:
    await stored_then_retention(pool, settings)
    # A price with 7 decimal places rounds per run; rows rolled before 0003 have no split.
    odd = json.loads(json.dumps(NEW))
    odd["models"]["m-c"] = {"input": 0.0000001, "output": 1}
    async with pool.acquire() as conn:
        first_hour = await conn.fetchval(
            "SELECT min(bucket) FROM rollup_hourly WHERE model = 'm-b'"
        )
        await conn.execute(
            "UPDATE rollup_hourly SET unsplit_runs = runs WHERE bucket = $1 AND model = 'm-b'",
            first_hour,
        )
        before = await rollup_rows(conn, "hour")
        report = await reprice(
            conn, table(odd), Options(Window.of_dates(None, None, None), True, 500, RETENTION), NOW
        )
        after = await rollup_rows(conn, "hour")
    for key, value in before.items():
        if (
            key[1] < CUTOFF
            and key[2] == 7
            and (key[4] == "m-c" or (key[1] == first_hour and key[4] == "m-b"))
        ):
            assert after[key] == value, key
    old_mc = [
        r for r in RUNS if r.model == "m-c" and r.started_at < CUTOFF and r.event_cost is None
    ]
    assert report.left[NOT_LINEAR] == len(old_mc)
    assert report.left[UNSPLIT] > 0
    rendered = report.render()
    assert f"not repriced: {len(old_mc)} runs ({NOT_LINEAR})" in rendered


SCRIPT = """
import asyncio, os, signal, sys
from datetime import datetime
from runtally.config import Settings
from runtally.pricing import load_price_table
from runtally.reprice.plan import Window
from runtally.reprice.run import Options, reprice
from runtally.store.engine import connect

async def main() -> None:
    settings = Settings(database_url=sys.argv[1], prices_file=sys.argv[2])
    conn = await connect(settings)
    async def after(batch: int) -> None:
        if batch == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    options = Options(Window.of_dates(None, None, None), True, 400, int(sys.argv[4]))
    now = datetime.fromisoformat(sys.argv[3])
    await reprice(conn, load_price_table(settings), options, now, after)

asyncio.run(main())
"""


async def test_a_reprice_killed_half_way_and_run_again_ends_in_the_same_state(
    pool: Any, settings: Settings, tmp_path: Path
) -> None:
    await stored_then_retention(pool, settings)
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps(NEW))
    args = [settings.database_url, str(prices), NOW.isoformat(), str(RETENTION)]
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SCRIPT, *args, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await child.communicate()
    assert child.returncode == -9, stderr.decode()
    async with pool.acquire() as conn:
        versions = await conn.fetch(
            "SELECT price_version, count(*) AS n FROM agent_runs "
            "WHERE cost_source IS DISTINCT FROM 'event' GROUP BY 1"
        )
    counts = {r["price_version"]: r["n"] for r in versions}
    assert counts[table(NEW).version] > 0  # some batches committed
    assert counts[table(OLD).version] > 0  # and some did not
    async with pool.acquire() as conn:  # run again to the end
        await reprice(
            conn, table(NEW), Options(Window.of_dates(None, None, None), True, 400, RETENTION), NOW
        )
    await check_all(pool, settings, new_cost)


async def test_reprice_marks_no_hour_while_retention_holds_its_lock(
    pool: Any, settings: Settings
) -> None:
    """Retention counts dirty hours and drops partitions under its lock: a reprice batch
    waits for it, so no hour is marked between that count and the drop."""
    async with pool.acquire() as conn:
        await insert(conn, RUNS, OLD)
    await roll_pending(pool, zoned(settings))
    options = Options(Window.of_dates(None, None, None), True, 500, 30)
    async with pool.acquire() as holder, pool.acquire() as conn:
        await holder.execute("SELECT pg_advisory_lock(hashtext($1))", RETENTION_LOCK)
        task = asyncio.create_task(reprice(conn, table(NEW), options, NOW))
        while not await holder.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ):
            assert not task.done(), task.exception()
            await asyncio.sleep(0.05)
        assert await holder.fetchval("SELECT count(*) FROM rollup_dirty") == 0
        await holder.execute("SELECT pg_advisory_unlock(hashtext($1))", RETENTION_LOCK)
        await task
    await check(pool, settings, lambda run: True)
