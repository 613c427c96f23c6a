"""Staged spans survive a restart of Redis (AOF) and of the API (a new staging)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from runtally.config import Settings
from runtally.devstack.servers import RedisServer
from runtally.events import parse_event
from runtally.otel import intake
from runtally.otel.staging import Staging
from tests.integration.test_otlp_staging import CHILDREN, NOW, ROOT
from tests.otel_support import make_request

pytestmark = pytest.mark.integration


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    yield server
    server.stop()


async def accept(settings: Settings, url: str, spans: list[object]) -> intake.Outcome:
    """One request through a fresh client and staging, as a restarted API would make."""
    client = aioredis.Redis.from_url(url)
    try:
        staging = Staging(client, settings)
        return await intake.accept(staging, "demo", make_request(spans), NOW)  # type: ignore[arg-type]
    finally:
        await client.aclose()


async def test_children_staged_before_a_redis_restart_count_in_the_run(
    aof_redis: RedisServer, settings: Settings
) -> None:
    settings = settings.model_copy(update={"redis_url": aof_redis.url, "otel_settle_s": 0.0})
    assert (await accept(settings, aof_redis.url, CHILDREN)).accepted == 3
    aof_redis.stop()
    with pytest.raises(RedisConnectionError):  # the route answers 503 + Retry-After here
        await accept(settings, aof_redis.url, ROOT)
    aof_redis.start()
    assert (await accept(settings, aof_redis.url, ROOT)).published == 1
    client = aioredis.Redis.from_url(aof_redis.url)
    (entry,) = await client.xrange(settings.stream)
    await client.aclose()
    event = parse_event(entry[1][b"data"])
    assert (event.input_tokens, event.output_tokens) == (300, 30)
