"""Fixtures of the end-to-end tests: whole processes started as a user would start them."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtally.config import Settings
from runtally.devstack.children import Child, child_env, stop_all
from runtally.devstack.servers import free_port


def get_json(url: str, key: str | None = None, timeout: float = 5.0) -> Any:
    request = urllib.request.Request(url)
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (OSError, ValueError, urllib.error.URLError) as exc:
            last_error, value = exc, None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what} (last error: {last_error})"
    )


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
