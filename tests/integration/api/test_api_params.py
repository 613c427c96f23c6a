"""Every /v1 endpoint refuses a query parameter it does not declare with a 422 naming it
(a typo must not answer unfiltered numbers), accepts every one it declares, and checks
the key first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from .data import generate, iso, store

pytestmark = pytest.mark.integration

START = datetime(2026, 4, 2, 10, 30, tzinfo=UTC)
WINDOW = {"from": iso(START), "to": iso(START + timedelta(hours=5))}
RUN = "/v1/runs/0190f0c5-4a61-7a5e-9c1e-3a1b2c3d4e5f"
# Each endpoint with the query parameters it declares (the OpenAPI surface).
DECLARED = {
    "/v1/summary": {"from", "to", "tz", "agent", "model", "tag"},
    "/v1/timeseries": {"from", "to", "tz", "agent", "model", "tag", "granularity", "group_by"},
    "/v1/breakdown": {"from", "to", "tz", "agent", "model", "tag", "by", "limit"},
    "/v1/runs": {
        "from", "to", "tz", "agent", "model", "tag", "status", "error_type", "user_id",
        "session_id",
        "trace_id", "cursor", "limit",
    },
    RUN: set(),
}  # fmt: skip
UNKNOWN = [
    {"agnet": "planner"},
    {"timezone": "Europe/Berlin"},
    {"agent": "a", "Agent": "x", "from_": "y"},
]


def test_every_v1_route_is_covered_with_its_declared_parameters(app: FastAPI) -> None:
    paths = {p: ops for p, ops in app.openapi()["paths"].items() if p.startswith("/v1")}
    # POST /v1/traces (OTLP intake) declares none and is checked in the next test.
    assert paths.pop("/v1/traces").keys() == {"post"}
    # /v1/alerts (rules, a JSON body) is checked in test_api_alerts.
    alerts = {p for p in paths if p.startswith("/v1/alerts")}
    assert alerts == {"/v1/alerts", "/v1/alerts/{rule_id}", "/v1/alerts/{rule_id}/deliveries"}
    for path in alerts:
        del paths[path]
    assert set(paths) == {p if p != RUN else "/v1/runs/{event_id}" for p in DECLARED}
    for path, declared in DECLARED.items():
        (operation,) = paths[path if path != RUN else "/v1/runs/{event_id}"].values()
        query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert query == declared, path


@pytest.mark.parametrize("params", UNKNOWN)
async def test_otlp_intake_refuses_every_query_parameter(
    client: httpx.AsyncClient, auth: dict[str, str], params: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/traces", params=params, headers={**auth, "content-type": "application/json"},
        content=b"{}",
    )  # fmt: skip
    assert response.status_code == 422, response.text
    message = response.json()["message"]
    assert all(f"`{name}`" in message for name in params), message
    assert message.endswith("this endpoint accepts none")
    unauthenticated = await client.post("/v1/traces", params=params, content=b"{}")
    assert unauthenticated.status_code == 401


@pytest.mark.parametrize("path", DECLARED)
@pytest.mark.parametrize("params", UNKNOWN)
async def test_unknown_parameters_get_422_naming_them(
    client: httpx.AsyncClient, auth: dict[str, str], path: str, params: dict[str, str]
) -> None:
    sent = {**WINDOW, **params}
    unknown = set(sent) - DECLARED[path]
    response = await client.get(path, params=sent, headers=auth)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    named, accepted = body["message"].split("; this endpoint accepts ")
    assert named.startswith("unknown query parameter")
    for name in sent:
        assert (f"`{name}`" in named) == (name in unknown), body["message"]
    assert ("parameters" in named) == (len(unknown) > 1)
    assert accepted == (", ".join(f"`{n}`" for n in sorted(DECLARED[path])) or "none")


async def test_a_request_without_key_gets_401_first(client: httpx.AsyncClient) -> None:
    for path in DECLARED:
        response = await client.get(path, params={"tz": "UTC"})
        assert response.status_code == 401, (path, response.text)


async def test_declared_parameters_are_accepted_and_filter(
    client: httpx.AsyncClient, pool: Any, auth: dict[str, str]
) -> None:
    events = generate(400, START, timedelta(hours=5), seed=11)
    await store(pool, events)
    planner = sum(1 for e in events if e.agent == "planner")
    assert 0 < planner < len(events)
    good = {**WINDOW, "agent": "planner"}
    summary = await client.get("/v1/summary", params=good, headers=auth)
    assert summary.status_code == 200, summary.text
    assert summary.json()["runs"] == planner
    values: dict[str, dict[str, Any]] = {
        "/v1/timeseries": {"granularity": "hour", "group_by": "model", "tz": "Asia/Kolkata"},
        "/v1/breakdown": {"by": "user", "limit": 5},
        "/v1/runs": {
            "status": "error", "error_type": "timeout", "user_id": "u", "session_id": "s",
            "trace_id": "t", "limit": 5,
        },
    }  # fmt: skip
    for path, extra in values.items():
        response = await client.get(path, params={**good, "model": "gpt-4o", **extra}, headers=auth)
        assert response.status_code == 200, (path, response.text)
    detail = await client.get(RUN, headers=auth)
    assert detail.status_code == 404
