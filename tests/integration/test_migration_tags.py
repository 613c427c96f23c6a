"""Migration 0006_tags on a database at the schema before it holding raw runs with tags
and rollups: up keeps every row and adds the tag and top-K tables, a rollup then fills
them from the runs; down drops only them (with rows in them); up again works."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from alembic import command

from runtally.config import Settings
from runtally.cube import cube
from runtally.devstack.servers import PostgresServer
from runtally.grid import HOUR
from runtally.rollup.jobs import roll_pending
from runtally.rollup.rows import COLUMNS, record
from runtally.store.aggregate import aggregate_raw
from runtally.store.dirty import mark_hours
from runtally.store.migrate import alembic_config, upgrade
from runtally.store.selection import Selection
from tests.integration.migrating import database_at
from tests.integration.rollup import kit

pytestmark = pytest.mark.integration

START = datetime(2026, 5, 4, 10, tzinfo=UTC)
BEFORE = "0005_local_time"  # the head before 0006_tags
NEW = ("rollup_tag_hourly", "rollup_tag_daily", "rollup_top_hourly", "rollup_top_daily")
OLD = ("agent_runs", "rollup_hourly", "rollup_daily", "rollup_dirty")


async def _run(dsn: str, sql: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def _insert(dsn: str, runs: list[kit.Run], envs: list[str]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "agent_runs", records=[r.record() for r in runs], columns=list(kit.COLUMNS)
            )
            await conn.execute(
                "UPDATE agent_runs a SET tags = v.t::jsonb "
                "FROM unnest($1::uuid[], $2::text[]) AS v(id, t) WHERE a.event_id = v.id",
                [r.event_id for r in runs],
                [json.dumps({"environment": e}) for e in envs],
            )
            await mark_hours(conn, {(r.project, kit.hour_of(r.started_at)) for r in runs})
    finally:
        await conn.close()


async def roll_old(dsn: str) -> None:
    """What a rollup did before 0006_tags: hourly rows (every grouping set), markers cleared."""
    conn = await asyncpg.connect(dsn)
    try:
        for row in await conn.fetch("SELECT project, hour FROM rollup_dirty"):
            hour = row["hour"]
            raw = Selection(row["project"], hour, hour + HOUR)
            tallies = cube(await aggregate_raw(conn, raw))
            records = [record(row["project"], key, tally) for key, tally in tallies.items()]
            async with conn.transaction():
                # The columns of that schema (no ``lat_pcts``, which 0007 adds).
                await conn.copy_records_to_table("rollup_hourly", records=records,
                                                 columns=list(COLUMNS))  # fmt: skip
                await conn.execute("DELETE FROM rollup_dirty WHERE hour = $1", hour)
    finally:
        await conn.close()


async def roll_new(settings: Settings) -> None:
    pool = await asyncpg.create_pool(settings.asyncpg_dsn, min_size=1, max_size=2)
    try:
        await roll_pending(pool, settings)
    finally:
        await pool.close()


def _counts(dsn: str) -> dict[str, int]:
    return {t: asyncio.run(_run(dsn, f"SELECT count(*) AS n FROM {t}"))[0]["n"] for t in OLD}


def _tables(dsn: str) -> set[str]:
    rows = asyncio.run(_run(dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
    return {r["tablename"] for r in rows}


def test_tags_migration_up_down_up_with_data(pg_server: PostgresServer) -> None:
    dsn, settings = database_at(pg_server, "migrate05", BEFORE)
    runs = kit.make_runs(2_000, START, 3, seed=41)
    rng = random.Random(2)
    envs = [rng.choice(["prod", "dev"]) for _ in runs]
    asyncio.run(_insert(dsn, runs[:1000], envs[:1000]))
    asyncio.run(roll_old(dsn))  # a rollup at today's schema (no tag rows)
    asyncio.run(_insert(dsn, runs[1000:], envs[1000:]))  # and rows not yet rolled up
    before = _counts(dsn)

    upgrade(settings)
    assert _counts(dsn) == before
    assert set(NEW) <= _tables(dsn)
    asyncio.run(roll_new(settings))
    rows = asyncio.run(_run(dsn, "SELECT tag_value, sum(runs) AS n FROM rollup_tag_daily "
                                 "WHERE dims = 0 GROUP BY 1"))  # fmt: skip
    assert {r["tag_value"]: r["n"] for r in rows} == dict(Counter(envs))

    command.downgrade(alembic_config(settings), BEFORE)
    assert not set(NEW) & _tables(dsn)
    assert _counts(dsn)["agent_runs"] == len(runs)
    upgrade(settings)  # and up again
    assert set(NEW) <= _tables(dsn)
