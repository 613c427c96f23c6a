"""Migration 0007_percentiles on a database holding raw runs and rollup rows written
before it: old rows keep ``lat_pcts`` NULL and answers read their bins (the same answer
as before the migration); the next rollup stores percentiles equal to those of each row's
bins; downgrade drops the column and keeps every row; up again works the same."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from alembic import command

from runtally.api.gather import gather
from runtally.config import Settings
from runtally.cube import cube
from runtally.devstack.servers import PostgresServer
from runtally.rollup.jobs import roll_pending
from runtally.rollup.rows import COLUMNS, TABLES, record
from runtally.sketch import LatencySketch
from runtally.store.aggregate import aggregate_raw
from runtally.store.dirty import mark_hours
from runtally.store.migrate import alembic_config, upgrade
from runtally.store.selection import Selection
from runtally.stored_quantiles import NAMES, StoredQuantiles
from runtally.tally import Tally
from tests.integration.migrating import database_at
from tests.integration.rollup import kit

pytestmark = pytest.mark.integration

BEFORE = "0006_tags"  # the head before 0007_percentiles
START = datetime(2026, 5, 4, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def _connect(dsn: str) -> Any:
    return await asyncpg.connect(dsn)


async def seed(dsn: str, runs: list[kit.Run]) -> None:
    """Raw runs, and the hourly rows a rollup wrote before 0007 (no ``lat_pcts``)."""
    conn = await _connect(dsn)
    try:
        await kit.insert_runs(conn, runs)
        for hour in (START, START + HOUR):
            tallies = cube(await aggregate_raw(conn, Selection(kit.PROJECT, hour, hour + HOUR)))
            records = [record(kit.PROJECT, key, tally) for key, tally in tallies.items()]
            await conn.copy_records_to_table("rollup_hourly", records=records,
                                             columns=list(COLUMNS))  # fmt: skip
            await conn.execute("DELETE FROM rollup_dirty WHERE hour = $1", hour)
    finally:
        await conn.close()


async def series(dsn: str) -> list[tuple[Any, Tally]]:
    """The hourly parts of the two rolled hours, read as a series does."""
    conn = await _connect(dsn)
    try:
        selection = Selection(kit.PROJECT, START, START + 2 * HOUR)
        _, parts, _ = await gather(conn, selection, "hour", distinct=False, lone=True)
        return parts
    finally:
        await conn.close()


async def roll_again(settings: Settings) -> None:
    conn = await _connect(settings.asyncpg_dsn)
    try:
        await mark_hours(conn, {(kit.PROJECT, START), (kit.PROJECT, START + HOUR)})
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(settings.asyncpg_dsn, min_size=1, max_size=2)
    try:
        await roll_pending(pool, settings)
    finally:
        await pool.close()


async def stored(dsn: str) -> list[Any]:
    conn = await _connect(dsn)
    try:
        return list(await conn.fetch(
            "SELECT lat_zero, lat_keys, lat_counts, duration_min, duration_max, lat_pcts"
            " FROM rollup_hourly"
        ))  # fmt: skip
    finally:
        await conn.close()


def counts(dsn: str) -> dict[str, int]:
    async def count() -> dict[str, int]:
        conn = await _connect(dsn)
        try:
            return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}
        finally:
            await conn.close()

    return asyncio.run(count())


def test_percentiles_migration_up_down_up_with_data(pg_server: PostgresServer) -> None:
    dsn, settings = database_at(pg_server, "migrate07", BEFORE)
    asyncio.run(seed(dsn, kit.make_runs(3_000, START, 2, seed=43)))
    before = counts(dsn)

    upgrade(settings)
    assert counts(dsn) == before
    rows = asyncio.run(stored(dsn))
    assert rows
    assert all(r["lat_pcts"] is None for r in rows)
    old = asyncio.run(series(dsn))  # old rows: read from their bins
    assert len(old) == 2
    assert not any(isinstance(t.latency, StoredQuantiles) for _, t in old)

    asyncio.run(roll_again(settings))
    for row in asyncio.run(stored(dsn)):
        sketch = LatencySketch.from_arrays(row["lat_zero"], row["lat_keys"], row["lat_counts"])
        reference = sketch.quantiles(row["duration_min"], row["duration_max"])
        assert row["lat_pcts"] == [reference[name] for name in NAMES]
    new = asyncio.run(series(dsn))
    assert all(isinstance(t.latency, StoredQuantiles) for _, t in new)
    for (_, a), (_, b) in zip(sorted(old, key=lambda p: p[0].bucket),
                              sorted(new, key=lambda p: p[0].bucket), strict=True):  # fmt: skip
        assert a.runs == b.runs
        assert a.latency.quantiles(a.duration_min, a.duration_max) == b.latency.quantiles()

    rolled = counts(dsn)
    command.downgrade(alembic_config(settings), BEFORE)
    assert counts(dsn) == rolled
    assert asyncio.run(_columns(dsn)) == []
    upgrade(settings)  # and up again
    assert asyncio.run(_columns(dsn)) == sorted(TABLES) * 2
    assert all(r["lat_pcts"] is None for r in asyncio.run(stored(dsn)))


async def _columns(dsn: str) -> list[str]:
    """The tables of ``TABLES`` that have a ``lat_pcts`` column and their read index."""
    conn = await _connect(dsn)
    try:
        columns = await conn.fetch(
            "SELECT table_name AS t FROM information_schema.columns"
            " WHERE table_name = ANY($1::text[]) AND column_name = 'lat_pcts'", list(TABLES)
        )  # fmt: skip
        indexes = await conn.fetch(
            "SELECT tablename AS t FROM pg_indexes WHERE indexname = tablename || '_dims'"
            " AND tablename = ANY($1::text[])", list(TABLES)
        )  # fmt: skip
        return sorted(r["t"] for r in columns) + sorted(r["t"] for r in indexes)
    finally:
        await conn.close()
