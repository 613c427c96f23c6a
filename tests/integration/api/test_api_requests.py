"""Bad requests get a 422 with a message; defaults, group_by series, error-type and
top-user breakdowns, health endpoints and the dashboard route."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from runtally.api.app import create_app
from runtally.config import Settings
from runtally.grid import HOUR, floor_to

from .data import check, generate, group, iso, store, truth

pytestmark = pytest.mark.integration

START = datetime(2026, 4, 2, 10, 30, tzinfo=UTC)
WINDOW = {"from": iso(START), "to": iso(START + timedelta(hours=5))}

BAD = [
    ("/v1/summary", {"from": iso(START), "to": iso(START)}, "before"),
    ("/v1/summary", {"from": iso(START), "to": iso(START - HOUR)}, "before"),
    ("/v1/summary", {"from": "2026-04-02T10:00:00", "to": iso(START)}, "timezone"),
    ("/v1/summary", {"from": "yesterday"}, "from"),
    ("/v1/summary", {"from": "0001-01-01T00:00:00+01:00"}, "range"),
    ("/v1/summary", {"to": "9999-12-31T23:59:59-01:00"}, "range"),
    ("/v1/summary", {"to": "9500-01-01T00:00:00Z"}, "9000"),
    ("/v1/summary", {"from": "2000-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "400 days"),
    ("/v1/summary", {"agent": "a\x00b"}, "agent"),
    ("/v1/summary", {"agent": ""}, "agent"),
    ("/v1/timeseries", {"granularity": "minute"}, "granularity"),
    ("/v1/timeseries", {"group_by": "user"}, "group_by"),
    ("/v1/breakdown", {"by": "colour"}, "by"),
    ("/v1/breakdown", {"by": "user", "limit": 201}, "limit"),
    ("/v1/runs", {"limit": 501}, "limit"),
    ("/v1/runs", {"limit": 0}, "limit"),
    ("/v1/runs", {"cursor": "garbage"}, "cursor"),
    ("/v1/runs", {"cursor": "eyJ0IjoxfQ"}, "cursor"),  # valid base64 of {"t":1}
    ("/v1/runs", {"status": "maybe"}, "status"),
]


@pytest.mark.parametrize(("path", "params", "words"), BAD)
async def test_bad_requests_get_422_with_a_message(
    path: str, params: dict[str, Any], words: str, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.get(path, params=params, headers=auth)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    assert words in body["message"]


async def test_too_many_points(settings: Settings, key: str) -> None:
    app = create_app(settings.model_copy(update={"api_max_points": 48}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            headers = {"Authorization": f"Bearer {key}"}
            two_days = {"from": iso(START), "to": iso(START + timedelta(hours=47))}
            ok = await client.get("/v1/timeseries", params=two_days, headers=headers)
            assert len(ok.json()["points"]) == 48  # 10:00 … 09:00 two days on
            two_days["to"] = iso(START + timedelta(hours=48))
            bad = await client.get("/v1/timeseries", params=two_days, headers=headers)
            assert bad.status_code == 422
            assert "more than 48 hour buckets" in bad.json()["message"]


async def test_default_range_is_the_last_24_hours(
    client: httpx.AsyncClient, pool: Any, auth: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    recent = generate(10, now - timedelta(hours=23), timedelta(hours=22), seed=1)
    old = generate(10, now - timedelta(hours=30), timedelta(hours=5), seed=2)
    await store(pool, recent + old)
    body = (await client.get("/v1/summary", headers=auth)).json()
    assert body["runs"] == 10
    assert datetime.fromisoformat(body["to"]) - datetime.fromisoformat(body["from"]) == timedelta(
        hours=24
    )


async def test_group_by_series_and_breakdowns(
    client: httpx.AsyncClient, pool: Any, auth: dict[str, str]
) -> None:
    events = generate(600, START, timedelta(hours=5), seed=3)
    await store(pool, events)

    body = (
        await client.get("/v1/timeseries", params={**WINDOW, "group_by": "model"}, headers=auth)
    ).json()
    per_model = group(events, lambda e: e.model)
    assert [s["key"] for s in body["series"]] == sorted(
        per_model, key=lambda m: (-len(per_model[m]), m)
    )
    for series in body["series"]:
        assert len(series["points"]) == len(body["points"]) == 6
        cells = group(per_model[series["key"]], lambda e: floor_to(e.started_at, HOUR))
        for point in series["points"]:
            bucket = datetime.fromisoformat(point["bucket"])
            check(point, truth(cells.get(bucket, [])), f"{series['key']} {bucket}")

    body = (
        await client.get("/v1/breakdown", params={**WINDOW, "by": "error_type"}, headers=auth)
    ).json()
    failed = Counter(e.error_type for e in events if e.error_type)
    assert {r["key"]: r["runs"] for r in body["rows"]} == dict(failed)
    assert all(r["failures"] == r["runs"] for r in body["rows"])

    body = (
        await client.get(
            "/v1/breakdown", params={**WINDOW, "by": "model", "agent": "coder"}, headers=auth
        )
    ).json()
    coder = group([e for e in events if e.agent == "coder"], lambda e: e.model)
    for row in body["rows"]:
        check(row, truth(coder[row["key"]]), f"coder {row['key']}")

    body = (
        await client.get("/v1/breakdown", params={**WINDOW, "by": "user", "limit": 5}, headers=auth)
    ).json()
    users = group([e for e in events if e.user_id], lambda e: e.user_id)
    cost = {u: sum((e.cost_usd or Decimal(0) for e in evs), Decimal(0)) for u, evs in users.items()}
    top = sorted(cost, key=lambda u: (-cost[u], -len(users[u]), u))[:5]
    assert [r["key"] for r in body["rows"]] == top
    for row in body["rows"]:
        assert row["runs"] == len(users[row["key"]])
        assert Decimal(repr(row["cost_usd"])) == cost[row["key"]]


async def test_health_endpoints(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "postgres": "ok", "redis": "ok"}


async def test_readyz_is_503_when_backends_are_down() -> None:
    settings = Settings(
        database_url="postgresql://nobody@127.0.0.1:1/none", redis_url="redis://127.0.0.1:1/0"
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            body = ready.json()
            assert body["status"] == "unavailable"
            assert body["postgres"].startswith("down")
            assert body["redis"].startswith("down")
            key = "rt_" + "a" * 43
            summary = await client.get("/v1/summary", headers={"Authorization": f"Bearer {key}"})
            assert summary.status_code == 503
            assert summary.json()["error"] == "unavailable"
            metrics = await client.get("/metrics")
            assert 'runtally_backend_up{backend="postgres"} 0.0' in metrics.text


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert {"/v1/summary", "/v1/timeseries", "/v1/breakdown", "/v1/runs"} <= set(schema["paths"])
    assert (await client.get("/docs")).status_code == 200


@pytest.mark.parametrize("installed", [True, False])
async def test_dashboard_route(
    installed: bool, settings: Settings, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runtally.api import app as app_module

    if installed:
        (tmp_path / "index.html").write_text("<html>dash</html>")
        (tmp_path / "app.js").write_text("// js")
    monkeypatch.setattr(app_module, "STATIC", tmp_path)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            index = await client.get("/")
            script = await client.get("/static/app.js")
    if installed:
        assert index.status_code == 200
        assert index.text == "<html>dash</html>"
        assert script.text == "// js"
    else:
        assert index.status_code == 404
        assert index.json()["error"] == "not_found"
        assert script.status_code == 404
