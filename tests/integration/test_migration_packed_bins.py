"""Migration 0008_packed_bins on a database holding raw runs and rollup rows written
before it: every existing row gets ``lat_bins`` equal to its arrays packed (checked with
``struct``) and answers stay the same; the next rollup writes them too; downgrade drops
the column and keeps every row; up again packs them again."""

from __future__ import annotations

import asyncio
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from alembic import command

from runtally.api.gather import gather
from runtally.cube import MODEL
from runtally.devstack.servers import PostgresServer
from runtally.rollup.rows import TABLES
from runtally.store.aggregate import aggregate_raw
from runtally.store.migrate import alembic_config, upgrade
from runtally.store.selection import Selection
from tests.integration.migrating import database_at
from tests.integration.rollup import kit
from tests.integration.test_migration_percentiles import counts, roll_again, seed

pytestmark = pytest.mark.integration

BEFORE = "0007_percentiles"  # the head before 0008_packed_bins
START = datetime(2026, 5, 4, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def packed_rows(dsn: str) -> list[Any]:
    """Every rollup row's arrays and packed bins (``None`` without the column)."""
    conn = await asyncpg.connect(dsn)
    try:
        has = await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns WHERE column_name = 'lat_bins'"
            " AND table_name = ANY($1::text[])", list(TABLES)
        )  # fmt: skip
        bins = "lat_bins" if has else "NULL::bytea AS lat_bins"
        out = []
        for table in TABLES:
            out += await conn.fetch(f"SELECT lat_keys, lat_counts, {bins} FROM {table}")
        return out
    finally:
        await conn.close()


def assert_packed(rows: list[Any]) -> None:
    assert rows
    for row in rows:
        pairs = zip(row["lat_keys"], row["lat_counts"], strict=True)
        assert row["lat_bins"] == b"".join(struct.pack(">iq", k, c) for k, c in pairs)


def figures(parts: Any) -> list[tuple[Any, Any]]:
    return sorted(((k.bucket, k.model), (t.runs, t.latency.zero, sorted(t.latency.bins.items())))
                  for k, t in parts)  # fmt: skip


async def answer(dsn: str, raw: bool = False) -> list[tuple[Any, Any]]:
    """Per hour and model: runs and latency bins, as the read path merges them from the
    rollup rows (``raw``: from the raw runs, the truth at any schema)."""
    conn = await asyncpg.connect(dsn)
    try:
        selection = Selection(kit.PROJECT, START, START + 2 * HOUR)
        if raw:
            return figures((await aggregate_raw(conn, selection, "hour", False, MODEL)).items())
        _, parts, _ = await gather(conn, selection, "hour", distinct=False, group_by="model")
        return figures(parts)
    finally:
        await conn.close()


def test_packed_bins_migration_up_down_up_with_data(pg_server: PostgresServer) -> None:
    dsn, settings = database_at(pg_server, "migrate08", BEFORE)
    asyncio.run(seed(dsn, kit.make_runs(3_000, START, 2, seed=44)))
    before, answered = counts(dsn), asyncio.run(answer(dsn, raw=True))
    assert all(r["lat_bins"] is None for r in asyncio.run(packed_rows(dsn)))

    upgrade(settings)
    assert counts(dsn) == before
    assert_packed(asyncio.run(packed_rows(dsn)))  # backfilled in SQL
    assert asyncio.run(answer(dsn)) == answered
    asyncio.run(roll_again(settings))
    assert_packed(asyncio.run(packed_rows(dsn)))  # written by the rollup
    assert asyncio.run(answer(dsn)) == answered

    rolled = counts(dsn)
    command.downgrade(alembic_config(settings), BEFORE)
    assert counts(dsn) == rolled
    assert all(r["lat_bins"] is None for r in asyncio.run(packed_rows(dsn)))
    upgrade(settings)  # and up again
    assert_packed(asyncio.run(packed_rows(dsn)))
    assert asyncio.run(answer(dsn)) == answered
