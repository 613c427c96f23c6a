"""A running ``runtally api`` + ``runtally ingest`` pair for the OTLP intake tests.

Test modules import the fixtures (``from tests.otel_stack import key, stack``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtally.api.keys import create_key
from runtally.config import Settings
from runtally.devstack.children import Child, child_env, stop_all
from runtally.devstack.servers import free_port
from tests.e2e.helpers import get_json, wait_for
from tests.ingest_support import wait_until

COLUMNS = (
    "agent, model, status, error_type, input_tokens, output_tokens, cache_read_tokens, tags,"
    " session_id, (metadata->>'llm_calls')::int AS llm_calls"
)


@pytest.fixture
def stack(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """``runtally api`` and ``runtally ingest`` on this test's servers; the API URL."""
    port = free_port()
    env = child_env({
        "RUNTALLY_REDIS_URL": settings.redis_url,
        "RUNTALLY_DATABASE_URL": settings.database_url,
        "RUNTALLY_BATCH_TIMEOUT_MS": "20",
        "RUNTALLY_OTEL_SETTLE_S": "0.5",
        "RUNTALLY_OTEL_SWEEP_INTERVAL_S": "0.2",
    })  # fmt: skip
    children = [
        Child("ingest", ["ingest"], tmp_path / "ingest.log"),
        Child("api", ["api", "--host", "127.0.0.1", "--port", str(port)], tmp_path / "api.log"),
    ]
    for child in children:
        child.start(env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: get_json(f"{url}/readyz"), 60, "the API to be ready")
        yield url
    finally:
        codes = stop_all(children, 20)
        for child in children:
            print(f"--- {child.name} (exit {codes[child.name]}):\n{child.log_tail(15)}")


@pytest.fixture
async def key(pool: Any) -> str:
    async with pool.acquire() as conn:
        _, made = await create_key(conn, "sdk", "otel")
    return made


async def stored(pool: Any, count: int) -> list[Any]:
    """The project's stored runs, once there are ``count`` of them (then a little more)."""

    async def rows() -> list[Any]:
        async with pool.acquire() as conn:
            return list(await conn.fetch(f"SELECT {COLUMNS} FROM agent_runs WHERE project = 'sdk'"))

    await wait_until(lambda: _at_least(rows, count), 30, f"{count} stored runs")
    await asyncio.sleep(1.0)  # anything extra (a double count) would have landed by now
    return await rows()


async def _at_least(rows: Any, count: int) -> bool:
    return len(await rows()) >= count
