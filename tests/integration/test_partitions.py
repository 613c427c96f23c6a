from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from runtally.store import partitions

pytestmark = pytest.mark.integration


async def _insert(conn: Any, started: datetime) -> None:
    await conn.execute(
        "INSERT INTO agent_runs (event_id, project, agent, model, started_at, ended_at,"
        " duration_ms, status) VALUES ($1, 'p', 'a', 'm', $2, $2, 0, 'success')",
        uuid.uuid4(),
        started,
    )


async def test_creating_a_partition_moves_rows_out_of_default(pool: Any) -> None:
    day = date(2026, 3, 4)
    start, _ = partitions.day_bounds(day)
    async with pool.acquire() as conn:
        await _insert(conn, start + timedelta(hours=3))
        await _insert(conn, start - timedelta(seconds=1))
        created = await partitions.ensure_partitions(conn, day, day + timedelta(days=1))
        assert created == [day, day + timedelta(days=1)]
        assert await partitions.ensure_partitions(conn, day, day) == []
        in_default = await conn.fetchval("SELECT count(*) FROM agent_runs_default")
        in_day = await conn.fetchval(f"SELECT count(*) FROM {partitions.partition_name(day)}")
        assert (in_default, in_day) == (1, 1)
        assert await conn.fetchval("SELECT count(*) FROM agent_runs") == 2


async def test_a_row_stored_while_a_partition_is_created_lands_in_it(pool: Any) -> None:
    """Ingest inserting into the default partition during the move must not make the
    ATTACH fail (its check would find the new row in the default partition)."""
    day = date(2026, 3, 6)
    start, _ = partitions.day_bounds(day)
    async with pool.acquire() as writer, pool.acquire() as creator:
        tx = writer.transaction()
        await tx.start()
        await _insert(writer, start + timedelta(hours=1))  # uncommitted, in the default
        creating = asyncio.create_task(partitions.ensure_partitions(creator, day, day))
        await asyncio.sleep(0.5)  # the creator is now waiting on the writer's lock
        await tx.commit()
        assert await asyncio.wait_for(creating, 10) == [day]
        name = partitions.partition_name(day)
        assert await creator.fetchval(f"SELECT count(*) FROM {name}") == 1
        assert await creator.fetchval("SELECT count(*) FROM agent_runs_default") == 0


async def test_drop_before_cutoff_keeps_newer_days(pool: Any) -> None:
    first = date(2026, 3, 1)
    async with pool.acquire() as conn:
        await partitions.ensure_partitions(conn, first, first + timedelta(days=3))
        for offset in range(4):
            await _insert(conn, datetime(2026, 3, 1 + offset, 12, tzinfo=UTC))
        await _insert(conn, datetime(2026, 2, 1, tzinfo=UTC))  # lands in default
        dropped = await partitions.drop_partitions_before(conn, first + timedelta(days=2))
        assert dropped == [first, first + timedelta(days=1)]
        assert await conn.fetchval("SELECT count(*) FROM agent_runs") == 2
        assert set(await partitions.existing_partitions(conn)) == {
            first + timedelta(days=2),
            first + timedelta(days=3),
        }
