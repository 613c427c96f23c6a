"""/v1/runs: filters, newest-first keyset pages that cover every run exactly once;
/v1/runs/{event_id}: details, 404, 422."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from runtally.store import partitions
from runtally.store.writes import COLUMNS, insert_runs

from .data import Ev, generate, iso, record, store

pytestmark = pytest.mark.integration

START = datetime(2026, 4, 2, 10, 30, tzinfo=UTC)
WINDOW = {"from": iso(START), "to": iso(START + timedelta(hours=5))}


def newest_first(events: list[Ev]) -> list[str]:
    return [str(e.event_id) for e in sorted(events, key=lambda e: (e.started_at, e.event_id))][::-1]


async def pages(
    client: httpx.AsyncClient, auth: dict[str, str], limit: int, **params: Any
) -> list[list[dict[str, Any]]]:
    out, cursor = [], None
    while True:
        query = {**WINDOW, **params, "limit": limit}
        if cursor:
            query["cursor"] = cursor
        response = await client.get("/v1/runs", params=query, headers=auth)
        assert response.status_code == 200, response.text
        body = response.json()
        out.append(body["runs"])
        cursor = body["next_cursor"]
        if cursor is None:
            return out


async def test_pages_cover_every_run_once_newest_first(
    client: httpx.AsyncClient, pool: Any, auth: dict[str, str]
) -> None:
    events = generate(230, START, timedelta(hours=5), seed=3)
    # Same started_at for several runs: the event_id breaks the tie.
    same = START + timedelta(hours=1)
    events += [
        Ev(**{**e.__dict__, "started_at": same, "event_id": e.event_id.__class__(int=i + 1)})
        for i, e in enumerate(generate(7, START, timedelta(hours=1), seed=4))
    ]
    await store(pool, events)
    got = await pages(client, auth, limit=50)
    assert [len(p) for p in got] == [50, 50, 50, 50, 37]
    assert [r["event_id"] for p in got for r in p] == newest_first(events)
    exact = await pages(client, auth, limit=237)
    assert [len(p) for p in exact] == [237]  # no empty trailing page


@pytest.mark.parametrize(
    "name", ["status", "agent", "model", "error_type", "user_id", "session_id", "trace_id"]
)
async def test_filters_select_exactly_the_matching_runs(
    name: str, client: httpx.AsyncClient, pool: Any, auth: dict[str, str]
) -> None:
    events = generate(300, START, timedelta(hours=5), seed=5)
    await store(pool, events)
    value = next(getattr(e, name) for e in events if getattr(e, name) is not None)
    expected = [e for e in events if getattr(e, name) == value]
    got = await pages(client, auth, limit=500, **{name: value})
    assert [r["event_id"] for p in got for r in p] == newest_first(expected)


async def test_range_bounds_are_inclusive_then_exclusive(
    client: httpx.AsyncClient, pool: Any, auth: dict[str, str]
) -> None:
    events = generate(20, START, timedelta(hours=1), seed=6)
    await store(pool, events)
    first = min(events, key=lambda e: e.started_at)
    params = {"from": iso(first.started_at), "to": iso(first.started_at + timedelta(hours=2))}
    body = (await client.get("/v1/runs", params=params, headers=auth)).json()
    assert len(body["runs"]) == 20
    params = {"from": iso(START - timedelta(hours=1)), "to": iso(first.started_at)}
    body = (await client.get("/v1/runs", params=params, headers=auth)).json()
    assert body["runs"] == []


async def test_run_lookup(client: httpx.AsyncClient, pool: Any, auth: dict[str, str]) -> None:
    (event,) = generate(1, START, timedelta(hours=1), seed=7)
    await store(pool, [event])
    body = (await client.get(f"/v1/runs/{event.event_id}", headers=auth)).json()
    assert body["event_id"] == str(event.event_id)
    assert body["project"] == "demo"
    assert datetime.fromisoformat(body["started_at"]) == event.started_at
    assert body["duration_ms"] == event.duration_ms
    assert body["agent"] == event.agent
    assert body["user_id"] == event.user_id
    expected_cost = float(event.cost_usd) if event.cost_usd is not None else None
    assert body["cost_usd"] == expected_cost
    missing = await client.get("/v1/runs/00000000-0000-4000-8000-000000000000", headers=auth)
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    bad = await client.get("/v1/runs/not-a-uuid", headers=auth)
    assert bad.status_code == 422
    assert "event_id" in bad.json()["message"]


async def test_error_type_filter_combines_with_the_others(
    client: httpx.AsyncClient, pool: Any, auth: dict[str, str]
) -> None:
    events = generate(400, START, timedelta(hours=5), seed=8)
    await store(pool, events)
    pick = next(e for e in events if e.error_type is not None)
    expected = [e for e in events if (e.error_type, e.agent) == (pick.error_type, pick.agent)]
    got = await pages(client, auth, limit=7, error_type=pick.error_type, agent=pick.agent)
    assert [r["event_id"] for p in got for r in p] == newest_first(expected)
    assert {r["status"] for p in got for r in p} == {"error"}
    none = await pages(client, auth, limit=7, error_type=pick.error_type, status="success")
    assert none == [[]]


async def test_run_detail_carries_every_stored_column(
    client: httpx.AsyncClient, pool: Any, auth: dict[str, str]
) -> None:
    (event,) = generate(1, START, timedelta(hours=1), seed=9)
    row = dict(zip(COLUMNS, record(event), strict=True))
    row |= {
        "status": "error", "error_type": "tool_error", "error_message": 'bad "quote", line\n2',
        "input_tokens": 1200, "output_tokens": 340, "cache_read_tokens": 600,
        "cache_write_tokens": 25, "ttft_ms": 12.5, "cost_usd": Decimal("0.012345678901"),
        "cost_source": "price_table", "price_version": "2026-03-01",
        "tags": json.dumps({"env": "prod", "team": "a,b"}),
        "metadata": json.dumps({"attempt": 2, "nested": {"ok": [1, None]}}),
    }  # fmt: skip
    async with pool.acquire() as conn:
        await partitions.ensure_partitions(conn, START.date(), START.date())
        assert await insert_runs(conn, [tuple(row[c] for c in COLUMNS)]) == 1
    body = (await client.get(f"/v1/runs/{event.event_id}", headers=auth)).json()
    listed = (await client.get("/v1/runs", params=WINDOW, headers=auth)).json()["runs"]
    for column in COLUMNS:
        expected = row[column]
        if column in ("tags", "metadata"):
            expected = json.loads(expected)
        elif isinstance(expected, datetime):
            assert datetime.fromisoformat(body[column]) == expected, column
            continue
        elif isinstance(expected, Decimal):
            expected = float(expected)
        elif isinstance(expected, uuid.UUID):
            expected = str(expected)
        assert body[column] == expected, column
        if column not in ("project", "price_version", "metadata"):
            assert listed[0][column] == body[column], column
    assert datetime.fromisoformat(body["ingested_at"]).tzinfo is not None
