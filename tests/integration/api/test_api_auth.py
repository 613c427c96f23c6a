"""Every /v1 endpoint refuses missing, malformed, unknown and revoked keys with a JSON
401, and a key sees only its own project."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from runtally.api.keys import generate_key, list_keys, revoke_key

from .conftest import new_key
from .data import generate, iso, store

pytestmark = pytest.mark.integration

START = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)
WINDOW = {"from": iso(START), "to": iso(START + timedelta(hours=6))}
ENDPOINTS = [
    "/v1/summary",
    "/v1/timeseries",
    "/v1/breakdown",
    "/v1/runs",
    "/v1/runs/0190f0c5-4a61-7a5e-9c1e-3a1b2c3d4e5f",
]


async def assert_401(client: httpx.AsyncClient, headers: dict[str, str], why: str) -> None:
    for path in ENDPOINTS:
        response = await client.get(path, params=WINDOW, headers=headers)
        assert response.status_code == 401, (path, why, response.text)
        body = response.json()
        assert body["error"] == "unauthorized"
        assert why in body["message"]
        assert response.headers["www-authenticate"] == "Bearer"


async def test_missing_and_malformed_keys_are_refused(client: httpx.AsyncClient, key: str) -> None:
    await assert_401(client, {}, "missing")
    await assert_401(client, {"Authorization": key}, "missing")  # no scheme
    await assert_401(client, {"Authorization": f"Basic {key}"}, "missing")
    await assert_401(client, {"Authorization": "Bearer "}, "missing")
    await assert_401(client, {"Authorization": "Bearer nope"}, "malformed")
    await assert_401(client, {"Authorization": f"Bearer {key}x"}, "malformed")


async def test_unknown_and_revoked_keys_are_refused(
    client: httpx.AsyncClient, pool: Any, key: str, auth: dict[str, str]
) -> None:
    await assert_401(client, {"Authorization": f"Bearer {generate_key()}"}, "unknown or revoked")
    assert (await client.get("/v1/summary", headers=auth)).status_code == 200
    async with pool.acquire() as conn:
        (info,) = await list_keys(conn, "demo")
        assert info.prefix == key[: len(info.prefix)]
        await revoke_key(conn, info.prefix)
    await assert_401(client, auth, "unknown or revoked")


async def test_a_key_sees_only_its_project(
    client: httpx.AsyncClient, pool: Any, auth: dict[str, str]
) -> None:
    mine = generate(50, START, timedelta(hours=6), seed=1)
    theirs = generate(70, START, timedelta(hours=6), seed=2, project="other")
    await store(pool, mine + theirs)
    other = {"Authorization": f"Bearer {await new_key(pool, 'other')}"}
    stranger = {"Authorization": f"Bearer {await new_key(pool, 'empty')}"}

    for headers, runs in ((auth, 50), (other, 70), (stranger, 0)):
        summary = (await client.get("/v1/summary", params=WINDOW, headers=headers)).json()
        assert summary["runs"] == runs
        listing = (await client.get("/v1/runs", params=WINDOW, headers=headers)).json()
        assert len(listing["runs"]) == runs
        points = (await client.get("/v1/timeseries", params=WINDOW, headers=headers)).json()
        assert sum(p["runs"] for p in points["points"]) == runs
        rows = (await client.get("/v1/breakdown", params=WINDOW, headers=headers)).json()["rows"]
        assert sum(r["runs"] for r in rows) == runs

    response = await client.get(f"/v1/runs/{theirs[0].event_id}", headers=auth)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    response = await client.get(f"/v1/runs/{theirs[0].event_id}", headers=other)
    assert response.json()["event_id"] == str(theirs[0].event_id)
