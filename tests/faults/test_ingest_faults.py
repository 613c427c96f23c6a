"""Ingest under faults: Postgres crash-restarted and Redis restarted under load, a poison entry.

Each scenario drives a real ``runtally ingest`` process against servers this module
starts (so they can be restarted without disturbing other tests) and ends with the
stored rows being exactly the published events.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from runtally.config import Settings
from runtally.devstack.children import Child, stop_all
from runtally.devstack.servers import PostgresServer, RedisServer
from runtally.store.engine import create_pool
from runtally.store.migrate import upgrade
from tests.ingest_support import (
    assert_exactly,
    event_dict,
    group_state,
    ingest_env,
    install_poison_checks,
    payload,
    row_count,
    wait_until,
)

pytestmark = pytest.mark.faults
_names = itertools.count()


@pytest.fixture(scope="module")
def own_pg(server_root: Path) -> Iterator[PostgresServer]:
    server = PostgresServer(server_root / "ingest-faults-pg", durable=False)
    server.start()
    yield server
    server.stop("immediate")


@pytest.fixture
def fault_settings(own_pg: PostgresServer, own_redis: RedisServer) -> Settings:
    name = f"ingest_faults_{next(_names)}"
    own_pg.psql(f'CREATE DATABASE "{name}"')
    settings = Settings(redis_url=own_redis.url, database_url=own_pg.dsn(name))
    upgrade(settings)
    return settings


@pytest.fixture
async def fault_pool(fault_settings: Settings) -> AsyncIterator[Any]:
    pool = await create_pool(fault_settings)
    yield pool
    await pool.close()


@pytest.fixture
async def fault_redis(fault_settings: Settings) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(fault_settings.redis_url)
    yield client
    await client.aclose()


async def publish(settings: Settings, events: list[dict[str, Any]], pause_s: float) -> None:
    """XADD every event in small chunks; a chunk that fails is sent again (at least once)."""
    client = aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=1)
    try:
        for start in range(0, len(events), 250):
            chunk = events[start : start + 250]
            while True:
                try:
                    pipe = client.pipeline(transaction=False)
                    for event in chunk:
                        pipe.xadd(settings.stream, {"data": payload(event)})
                    await pipe.execute()
                    break
                except (RedisConnectionError, OSError):
                    await asyncio.sleep(0.1)
            await asyncio.sleep(pause_s)
    finally:
        await client.aclose()


async def settled(client: aioredis.Redis, settings: Settings, pool: Any, rows: int) -> bool:
    try:
        pending, lag = await group_state(client, settings)
        return pending == 0 and lag == 0 and await row_count(pool) == rows
    except (RedisConnectionError, OSError):
        return False


def start_ingest(tmp_path: Path, settings: Settings, **extra: str) -> Child:
    child = Child("ingest", ["ingest", "--processes", "1"], tmp_path / "ingest.log")
    child.start(ingest_env(settings, **extra))
    return child


def stop_ingest(child: Child) -> int | None:
    code = stop_all([child], 20)["ingest"]
    print(f"--- ingest (exit {code}):\n{child.log_tail(25)}")
    return code


async def test_postgres_crash_restart_under_load(
    own_pg: PostgresServer,
    fault_settings: Settings,
    fault_redis: aioredis.Redis,
    tmp_path: Path,
) -> None:
    """Immediate stop (a crash) mid-stream: ingest retries, acknowledges only what committed."""
    events = [event_dict(i) for i in range(12_000)]
    child = start_ingest(tmp_path, fault_settings)
    try:
        publisher = asyncio.create_task(publish(fault_settings, events, 0.05))
        await wait_until(lambda: _rows_at_least(fault_settings, 2000), 30, "ingest to be storing")
        own_pg.stop("immediate")
        await asyncio.sleep(1.5)  # down for a while: batches must stay pending
        pending, _ = await group_state(fault_redis, fault_settings)
        assert pending > 0, "entries were acknowledged while Postgres was down"
        await asyncio.to_thread(own_pg.start)
        await publisher
        pool = await create_pool(fault_settings)
        try:
            await wait_until(
                lambda: settled(fault_redis, fault_settings, pool, len(events)), 60, "all rows"
            )
            await assert_exactly(pool, events)
        finally:
            await pool.close()
        assert child.exit_code() is None, "ingest died"
        assert "postgres unavailable" in child.log_path.read_text()
    finally:
        assert stop_ingest(child) == 0


async def _rows_at_least(settings: Settings, n: int) -> bool:
    from runtally.store.engine import connect

    try:
        conn = await connect(settings)
    except OSError:
        return False
    try:
        return int(await conn.fetchval("SELECT count(*) FROM agent_runs")) >= n
    finally:
        await conn.close()


async def test_redis_restart_under_load(
    own_redis: RedisServer,
    fault_settings: Settings,
    fault_redis: aioredis.Redis,
    fault_pool: Any,
    tmp_path: Path,
) -> None:
    """Redis (AOF on) restarted mid-stream: ingest reconnects and the group resumes."""
    events = [event_dict(i) for i in range(12_000)]
    child = start_ingest(tmp_path, fault_settings)
    try:
        publisher = asyncio.create_task(publish(fault_settings, events, 0.05))
        await wait_until(lambda: _rows_at_least(fault_settings, 2000), 30, "ingest to store")
        await asyncio.to_thread(own_redis.stop)
        await asyncio.sleep(1.5)
        await asyncio.to_thread(own_redis.start)
        await publisher
        await wait_until(
            lambda: settled(fault_redis, fault_settings, fault_pool, len(events)), 60, "all rows"
        )
        await assert_exactly(fault_pool, events)
        assert child.exit_code() is None, "ingest died"
        assert "redis unavailable" in child.log_path.read_text()
    finally:
        assert stop_ingest(child) == 0


async def test_poison_entry_is_dead_lettered_and_blocks_nothing(
    fault_settings: Settings, fault_redis: aioredis.Redis, fault_pool: Any, tmp_path: Path
) -> None:
    """A value Postgres refuses is retried max_deliveries times, then dead-lettered."""
    await install_poison_checks(fault_pool)
    events = [event_dict(i) for i in range(3000)]
    poison = event_dict(1, metadata={"poison": True})
    child = start_ingest(
        tmp_path, fault_settings, RUNTALLY_MAX_DELIVERIES="3", RUNTALLY_CLAIM_IDLE_MS="300"
    )
    try:
        await publish(fault_settings, [*events[:1500], poison, *events[1500:]], 0)
        await wait_until(
            lambda: settled(fault_redis, fault_settings, fault_pool, len(events)), 60, "all rows"
        )
        await assert_exactly(fault_pool, events)
        [(_, dead)] = await fault_redis.xrange(fault_settings.dead_stream)
        assert dead[b"data"] == payload(poison)
        assert dead[b"deliveries"] == b"3"
        assert dead[b"reason"].startswith(b"storage failed:")
        assert b"test_poison_metadata" in dead[b"reason"]
        assert child.exit_code() is None
    finally:
        assert stop_ingest(child) == 0
