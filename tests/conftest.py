"""Shared fixtures: real redis-server and PostgreSQL processes from local binaries.

One Redis and one Postgres are started per test session. Each test gets a fresh
database cloned from a migrated template (milliseconds) and a flushed Redis, so tests
never see each other's data. Fault tests that restart servers start their own.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from runtally.config import Settings
from runtally.devstack.servers import PostgresServer, RedisServer
from runtally.store.engine import create_pool
from runtally.store.migrate import upgrade

TEMPLATE = "runtally_template"
_counter = itertools.count()


@pytest.fixture(scope="session")
def server_root() -> Iterator[Path]:
    """A folder for server data outside pytest's tmp root.

    pytest keeps ``/tmp/pytest-of-<user>`` at mode 0700 (and resets it when another
    session starts), which the ``postgres`` OS user cannot enter when we run as root.
    """
    root = Path(tempfile.mkdtemp(prefix="runtally-tests-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server(server_root: Path) -> Iterator[RedisServer]:
    server = RedisServer(server_root / "redis", appendonly=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_server(server_root: Path) -> Iterator[PostgresServer]:
    server = PostgresServer(server_root / "pg", durable=False)
    server.start()
    server.psql(f'CREATE DATABASE "{TEMPLATE}"')
    upgrade(Settings(database_url=server.dsn(TEMPLATE)))
    yield server
    server.stop("immediate")


def clone_database(server: PostgresServer) -> str:
    """A new database cloned from the migrated template; returns its name."""
    name = f"t{next(_counter)}"
    server.psql(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    return name


@pytest.fixture
def database_url(pg_server: PostgresServer) -> Iterator[str]:
    name = clone_database(pg_server)
    yield pg_server.dsn(name)
    pg_server.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    import redis as syncredis

    client = syncredis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def settings(redis_url: str, database_url: str) -> Settings:
    """Settings pointing at this test's Redis and database, with fast timings."""
    return Settings(
        redis_url=redis_url,
        database_url=database_url,
        consumer="test-consumer",
        batch_timeout_ms=20,
        claim_idle_ms=500,
        claim_interval_s=0.2,
        retry_backoff_max_s=0.5,
        shutdown_grace_s=5,
        prices_file=None,
    )


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[Any]:
    db = await create_pool(settings, max_size=8)
    yield db
    await db.close()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
