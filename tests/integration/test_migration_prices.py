"""Migration 0003_prices with data: legacy rollup rows are marked unsplit, hours that
still have raw runs are re-dirtied and gain the cost split at the next rollup (equal to
sums computed from the runs), and down and up again keep every row."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from alembic import command

from runtally.config import Settings
from runtally.devstack.servers import PostgresServer
from runtally.rollup.jobs import roll_pending
from runtally.store.engine import create_pool
from runtally.store.migrate import alembic_config, upgrade
from tests.integration.migrating import database_at
from tests.integration.reprice.kit import OLD, hour, insert, make_runs

pytestmark = pytest.mark.integration

RUNS = make_runs(800, seed=3)
LEGACY = datetime(2026, 5, 1, 10, tzinfo=UTC)  # a bucket whose raw runs are gone
LEGACY_ROW = """
INSERT INTO {table} (project, bucket, dims, agent, model, error_type, runs, successes,
    failures, duration_sum, duration_min, duration_max, lat_keys, lat_counts, input_tokens,
    cost_usd, unpriced_runs)
VALUES ('p1', $1, $2, $3, $4, '', 5, 5, 0, 50, 1, 20, '{{}}', '{{}}', 1000, 0.25, 1)
"""
SPLIT = ("event_runs", "event_cost_usd", "event_input_tokens", "tokenless_runs", "unsplit_runs")


async def query(dsn: str, sql: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def seed(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await insert(conn, RUNS, OLD)
        await conn.execute("DELETE FROM rollup_dirty")  # the migration must mark them again
        for table, bucket in (("rollup_hourly", LEGACY), ("rollup_daily", LEGACY.replace(hour=0))):
            for dims, agent, model in ((7, "a", "m"), (0, "", "")):
                await conn.execute(LEGACY_ROW.format(table=table), bucket, dims, agent, model)
    finally:
        await conn.close()


def split_truth() -> dict[tuple[Any, ...], tuple[Any, ...]]:
    out: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, Decimal(0), 0, 0])
    for run in RUNS:
        cell = out[(run.project, hour(run.started_at), run.agent, run.model, run.error_type or "")]
        if run.event_cost is not None:
            cell[0] += 1
            cell[1] += run.event_cost
            cell[2] += run.tokens[0] or 0
        elif run.tokens[0] is None and run.tokens[1] is None:
            cell[3] += 1
    return {key: tuple(value) for key, value in out.items()}


async def roll(settings: Settings) -> None:
    pool = await create_pool(settings)
    try:
        await roll_pending(pool, settings)
    finally:
        await pool.close()


def test_0003_up_down_up_with_data(pg_server: PostgresServer) -> None:
    dsn, settings = database_at(pg_server, "migrate03", "0002")
    asyncio.run(seed(dsn))

    upgrade(settings)
    legacy = asyncio.run(query(dsn, "SELECT runs, unsplit_runs FROM rollup_hourly"))
    assert [(r["runs"], r["unsplit_runs"]) for r in legacy] == [(5, 5), (5, 5)]
    dirty = asyncio.run(query(dsn, "SELECT project, hour FROM rollup_dirty"))
    assert {(r["project"], r["hour"]) for r in dirty} == {
        (r.project, hour(r.started_at)) for r in RUNS
    }

    asyncio.run(roll(settings))
    rows = asyncio.run(
        query(
            dsn,
            f"SELECT project, bucket, agent, model, error_type, {', '.join(SPLIT)} "
            "FROM rollup_hourly WHERE dims = 7 AND bucket <> $1",
            LEGACY,
        )
    )
    got = {tuple(r[:5]): tuple(r[5:9]) for r in rows}
    assert got == split_truth()
    assert all(r["unsplit_runs"] == 0 for r in rows)

    command.downgrade(alembic_config(settings), "0002")
    columns = asyncio.run(query(dsn, "SELECT * FROM rollup_hourly LIMIT 1"))[0].keys()
    assert "unsplit_runs" not in columns
    counts = asyncio.run(query(dsn, "SELECT count(*) AS n FROM rollup_hourly"))
    upgrade(settings)  # and up again: every row kept, none with a split it cannot know
    again = asyncio.run(query(dsn, "SELECT runs, unsplit_runs FROM rollup_hourly"))
    assert len(again) == counts[0]["n"]
    assert all(r["runs"] == r["unsplit_runs"] for r in again)
