"""The COPY + INSERT ... ON CONFLICT DO NOTHING write path against real Postgres."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from runtally.events import parse_event
from runtally.ingest.prepare import priced_record
from runtally.ingest.store import BatchStore, StoreUnavailable
from runtally.store.engine import create_pool
from runtally.store.writes import COLUMNS, CREATE_TEMP_SQL, INSERT_SQL, TEMP_TABLE, insert_runs
from tests.ingest_support import POISON_AGENT, FixedPrices, event_dict, install_poison_checks

pytestmark = pytest.mark.integration


def records(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [priced_record(parse_event(json.dumps(e)), FixedPrices()) for e in events]


async def test_insert_counts_only_new_rows(pool: Any) -> None:
    now = datetime.now(UTC)
    first = records([event_dict(i, now) for i in range(100)])
    second = records([event_dict(i, now) for i in range(100, 150)])
    async with pool.acquire() as conn:
        assert await insert_runs(conn, first) == 100
        assert await insert_runs(conn, first[:40] + second + second[:5]) == 50
        assert await insert_runs(conn, []) == 0
    assert await pool.fetchval("SELECT count(*) FROM agent_runs") == 150
    # The temp table is emptied at commit: nothing leaks into the next batch.
    async with pool.acquire() as conn:
        assert await insert_runs(conn, first[:1]) == 0


async def test_do_nothing_tolerates_duplicates_inside_one_statement(pool: Any) -> None:
    """Why dedupe() is an optimisation, not a correctness need: DO NOTHING skips the repeat."""
    batch = records([event_dict(i) for i in range(5)])
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(CREATE_TEMP_SQL)
        await conn.copy_records_to_table(TEMP_TABLE, records=batch + batch, columns=COLUMNS)
        assert await conn.execute(INSERT_SQL) == "INSERT 0 5"


async def test_a_poison_value_rolls_back_the_whole_batch(pool: Any) -> None:
    await install_poison_checks(pool)
    batch = records([event_dict(i) for i in range(10)] + [event_dict(10, agent=POISON_AGENT)])
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await insert_runs(conn, batch)
    assert await pool.fetchval("SELECT count(*) FROM agent_runs") == 0
    assert await pool.fetchval("SELECT count(*) FROM rollup_dirty") == 0


async def test_isolation_stores_every_good_row_and_names_the_bad(settings: Any, pool: Any) -> None:
    await install_poison_checks(pool)
    events = [event_dict(i) for i in range(37)]
    events[5]["agent"] = POISON_AGENT
    events[30]["metadata"] = {"poison": True}
    store = BatchStore(await create_pool(settings, min_size=0, max_size=1))
    try:
        outcome = await store.commit_isolating(records(events))
    finally:
        await store.close()
    assert outcome.new == 35
    assert set(outcome.rejected) == {5, 30}
    assert "test_poison_agent" in outcome.rejected[5]
    assert "test_poison_metadata" in outcome.rejected[30]
    assert await pool.fetchval("SELECT count(*) FROM agent_runs") == 35


async def test_unreachable_postgres_is_unavailable_not_a_row_error(settings: Any) -> None:
    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    down = settings.model_copy(
        update={"database_url": f"postgresql://runtally@127.0.0.1:{port}/runtally"}
    )
    store = BatchStore(await create_pool(down, min_size=0, max_size=1))
    try:
        with pytest.raises(StoreUnavailable, match="ConnectionRefusedError"):
            await store.commit(records([event_dict(1)]))
    finally:
        await store.close()


async def test_a_failed_connection_is_dropped_and_replaced(settings: Any, pool: Any) -> None:
    """A failure not about the rows terminates the connection; the next commit gets a new one."""
    store = BatchStore(await create_pool(settings, min_size=1, max_size=1))
    try:
        async with store.pool.acquire() as conn:
            first = await conn.fetchval("SELECT pg_backend_pid()")
        await pool.execute("ALTER TABLE rollup_dirty RENAME TO rollup_dirty_gone")
        with pytest.raises(StoreUnavailable, match="UndefinedTableError"):
            await store.commit(records([event_dict(1)]))
        await pool.execute("ALTER TABLE rollup_dirty_gone RENAME TO rollup_dirty")
        assert await store.commit(records([event_dict(2)])) == 1
        async with store.pool.acquire() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") != first
    finally:
        await store.close()
