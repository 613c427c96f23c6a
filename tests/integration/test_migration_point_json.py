"""Migration 0010_point_json on a database holding raw runs and rollup rows of all four
rollup tables: every row keeps its values; hourly, daily and zone-day rows gain
``point``, the JSON of the fields ``views.figures`` makes of the row (``NULL`` where it
has no stored percentiles); a change to a row (as a repricing makes) renders its point
again; downgrade drops the column and keeps every row; up again, the same points."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest
from alembic import command

from runtally.api.views import figures
from runtally.config import Settings
from runtally.devstack.servers import PostgresServer
from runtally.rollup.jobs import run_pending
from runtally.store.migrate import alembic_config, upgrade
from runtally.store.selection import ROLLUP_TABLES, ZONE_TABLE
from runtally.stored_quantiles import NAMES
from tests.integration.migrating import database_at
from tests.integration.rollup import kit
from tests.integration.test_migration_percentiles import START

pytestmark = pytest.mark.integration

BEFORE = "0009_zone_days"  # the head before 0010_point_json
TABLES = (*ROLLUP_TABLES, ZONE_TABLE)
POINTED = ("rollup_daily", "rollup_hourly", ZONE_TABLE)  # with ``point``; not ``rollup_q15``


async def seed(dsn: str, settings: Settings) -> None:
    """Raw runs rolled into every table at ``BEFORE``; one hourly row then loses its
    stored percentiles, as rows rolled before 0007 have none."""
    conn = await asyncpg.connect(dsn)
    try:
        await kit.insert_runs(conn, kit.make_runs(3_000, START, 2, seed=48))
    finally:
        await conn.close()
    await run_pending(settings)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "UPDATE rollup_hourly SET lat_pcts = NULL WHERE (bucket, dims, agent, model,"
            " error_type) = (SELECT bucket, dims, agent, model, error_type FROM rollup_hourly"
            " ORDER BY bucket, dims, agent, model, error_type LIMIT 1)"
        )
    finally:
        await conn.close()


async def _rows(dsn: str, sql: str) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


def counts(dsn: str) -> dict[str, int]:
    return {t: asyncio.run(_rows(dsn, f"SELECT count(*) FROM {t}"))[0][0] for t in TABLES}


def points(dsn: str) -> dict[str, tuple[int, int]]:
    """Per table, the rows whose ``point`` is their fields and those without percentiles
    (``point`` NULL); fails on any other row."""
    out = {}
    for table in POINTED:
        shown = binned = 0
        for row in asyncio.run(_rows(dsn, f"SELECT * FROM {table}")):
            if row["lat_pcts"] is None:
                assert row["point"] is None
                binned += 1
                continue
            expected = figures(row, dict(zip(NAMES, row["lat_pcts"], strict=True)))
            assert json.loads(row["point"]) == expected, (table, dict(row))
            shown += 1
        out[table] = (shown, binned)
    return out


def with_point(dsn: str) -> list[str]:
    found = asyncio.run(_rows(dsn, "SELECT table_name FROM information_schema.columns"
                                   " WHERE column_name = 'point' ORDER BY 1"))  # fmt: skip
    return [r[0] for r in found]


def test_point_json_migration_up_down_up_with_data(pg_server: PostgresServer) -> None:
    dsn, settings = database_at(pg_server, "migrate10", BEFORE)
    asyncio.run(seed(dsn, settings.model_copy(update={"rollup_zones": "Asia/Kolkata"})))
    before = counts(dsn)
    assert all(before.values())
    assert with_point(dsn) == []

    upgrade(settings)
    assert counts(dsn) == before
    found = points(dsn)
    assert all(shown for shown, _ in found.values())
    assert found["rollup_hourly"][1] == 1  # the row without percentiles: no point

    # A repricing rewrites costs: each changed row's point follows (``points`` again).
    cost = "SELECT sum((point::json->>'cost_usd')::float8) FROM rollup_daily"
    old = asyncio.run(_rows(dsn, cost))[0][0]
    asyncio.run(_rows(dsn, "UPDATE rollup_daily SET cost_usd = cost_usd * 2 + 0.000000000001"))
    assert asyncio.run(_rows(dsn, cost))[0][0] > old * 2
    assert points(dsn) == found

    after = counts(dsn)
    command.downgrade(alembic_config(settings), BEFORE)
    assert counts(dsn) == after
    assert with_point(dsn) == []
    upgrade(settings)  # and up again
    assert with_point(dsn) == sorted(POINTED)
    assert points(dsn) == found
