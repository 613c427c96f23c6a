"""Talking to the dev stack's API: JSON over HTTP, the dev key, readiness, the summary."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.request
from pathlib import Path
from typing import Any

from runtally import constants
from runtally.config import Settings

PROJECT = constants.PROJECT


def http_json(url: str, key: str | None = None, timeout: float = 3.0) -> Any:
    """GET ``url`` and decode its JSON (raises ``OSError`` / ``ValueError`` on failure)."""
    request = urllib.request.Request(url)
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def is_ready(api_url: str) -> bool:
    """True when ``/readyz`` answers (Postgres and Redis reachable from the API)."""
    try:
        http_json(f"{api_url}/readyz", timeout=1.0)
    except (OSError, ValueError):
        return False
    return True


def fetch_summary(api_url: str, key: str) -> dict[str, Any] | None:
    """The API's ``/v1/summary`` (last 24 h), or None when it does not answer."""
    try:
        summary: dict[str, Any] = http_json(f"{api_url}/v1/summary", key)
    except (OSError, ValueError):
        return None
    return summary


def ensure_key(settings: Settings, path: Path) -> str:
    """The dev API key kept in ``path`` when still valid, else a new one (saved there).

    Keeping it means the dashboard's stored key keeps working across restarts. Runs its
    own event loop: it is called from synchronous start-up code.
    """
    old = ""
    with contextlib.suppress(OSError):
        old = path.read_text().strip()
    key = asyncio.run(_valid_or_new_key(settings, old))
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


async def _valid_or_new_key(settings: Settings, old: str) -> str:
    from runtally.api.keys import create_key, verify_key
    from runtally.store.engine import connect

    conn = await connect(settings)
    try:
        if old and await verify_key(conn, old) == PROJECT:
            return old
        _, key = await create_key(conn, PROJECT, "runtally dev")
        return key
    finally:
        await conn.close()
