"""Fixtures of the end-to-end tests: whole processes started as a user would start them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtally.config import Settings
from runtally.devstack.children import Child, child_env, stop_all
from runtally.devstack.servers import free_port
from tests.e2e.helpers import get_json, wait_for


def stack_env(settings: Settings) -> dict[str, str]:
    return child_env(
        {
            "RUNTALLY_REDIS_URL": settings.redis_url,
            "RUNTALLY_DATABASE_URL": settings.database_url,
            "RUNTALLY_BATCH_TIMEOUT_MS": "20",
        }
    )


@pytest.fixture
def api_and_ingest(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """``runtally ingest`` and ``runtally api`` processes on this test's servers; the API URL."""
    port = free_port()
    children = [
        Child("ingest", ["ingest"], tmp_path / "ingest.log"),
        Child("api", ["api", "--host", "127.0.0.1", "--port", str(port)], tmp_path / "api.log"),
    ]
    env = stack_env(settings)
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
