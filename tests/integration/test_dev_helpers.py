"""Pieces of `runtally dev` against real servers: the dev key, stream backlog, stale Redis."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from runtally.api.keys import revoke_key, verify_key
from runtally.config import Settings
from runtally.devstack.access import ensure_key
from runtally.devstack.drain import backlog, drain
from runtally.devstack.leftovers import stop_stale_redis
from runtally.devstack.servers import RedisServer
from runtally.stream import EventStream
from tests.e2e.helpers import wait_for

pytestmark = pytest.mark.integration


async def test_the_dev_key_is_kept_while_valid_and_replaced_when_revoked(
    settings: Settings, pool: Any, tmp_path: Path
) -> None:
    path = tmp_path / "dev-key"
    # ensure_key runs its own event loop (it is called from sync start-up code).
    first = await asyncio.to_thread(ensure_key, settings, path)
    assert path.read_text().strip() == first
    assert path.stat().st_mode & 0o777 == 0o600
    assert await asyncio.to_thread(ensure_key, settings, path) == first
    async with pool.acquire() as conn:
        assert await verify_key(conn, first) == "default"
        await revoke_key(conn, first[:11])
    second = await asyncio.to_thread(ensure_key, settings, path)
    assert second != first
    async with pool.acquire() as conn:
        assert await verify_key(conn, second) == "default"


async def test_backlog_counts_unread_and_pending_entries(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    stream = EventStream(redis_client, settings)
    assert await backlog(stream) == 0  # no stream yet
    for n in range(5):
        await redis_client.xadd(settings.stream, {"data": json.dumps({"n": n})})
    # No group yet (ingest not started, or its children still starting): nothing is
    # stored, so every entry is backlog and a drain keeps waiting.
    assert await backlog(stream) == 5
    await redis_client.xgroup_create(settings.stream, settings.group, id="0")
    assert await backlog(stream) == 5  # lag
    read = await redis_client.xreadgroup(settings.group, "c1", {settings.stream: ">"}, count=3)
    assert await backlog(stream) == 5  # 2 unread + 3 pending
    ids = [entry_id for entry_id, _ in read[0][1]]
    await redis_client.xack(settings.stream, settings.group, *ids)
    assert await backlog(stream) == 2
    assert await drain(stream, 0.3) == 2  # bounded: gives up with what is left
    rest = await redis_client.xreadgroup(settings.group, "c1", {settings.stream: ">"})
    await redis_client.xack(settings.stream, settings.group, *[i for i, _ in rest[0][1]])
    assert await drain(stream, 5) == 0


def test_a_stale_redis_of_our_data_dir_is_shut_down_and_others_are_left(tmp_path: Path) -> None:
    ours = RedisServer(tmp_path / "ours", appendonly=False)
    other = RedisServer(tmp_path / "other", appendonly=False)
    ours.start()
    other.start()
    try:
        stop_stale_redis(other.port, tmp_path / "ours")
        stop_stale_redis(ours.port, tmp_path / "ours")
        assert ours.process is not None
        assert wait_for(lambda: ours.process.poll() is not None, 10, "our stale redis to stop")
        assert other.process is not None
        assert other.process.poll() is None
    finally:
        ours.stop()
        other.stop()
