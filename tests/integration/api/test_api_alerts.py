"""/v1/alerts: create (201 with id and secret), list, read, patch, delete, deliveries;
422 with the reason for invalid rules; another project's rules are invisible."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.integration.api.conftest import new_key

pytestmark = pytest.mark.integration

RULE: dict[str, Any] = {
    "name": "error spike",
    "measure": "error_rate",
    "op": ">",
    "threshold": 0.2,
    "warn_threshold": 0.1,
    "window": "15m",
    "min_runs": 20,
    "group_by": "agent",
    "filters": {"agent": None, "model": "gpt-4o"},
    "webhook_url": "https://example.com/hook",
}


async def test_create_read_patch_delete(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    created = await client.post("/v1/alerts", json=RULE, headers=auth)
    assert created.status_code == 201, created.text
    body = created.json()
    rule_id = body["id"]
    assert len(body["secret"]) >= 40
    assert body["project"] == "demo"
    assert {k: body[k] for k in RULE} == RULE
    assert body["states"] == []
    assert body["evaluated_at"] is None

    listed = (await client.get("/v1/alerts", headers=auth)).json()
    assert [r["id"] for r in listed["rules"]] == [rule_id]
    assert "secret" not in listed["rules"][0]

    patched = await client.patch(
        f"/v1/alerts/{rule_id}", json={"threshold": 0.3, "window": "120m"}, headers=auth
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["threshold"], patched.json()["window"]) == (0.3, "2h")
    assert patched.json()["warn_threshold"] == 0.1  # untouched fields stay
    got = (await client.get(f"/v1/alerts/{rule_id}", headers=auth)).json()
    assert got["threshold"] == 0.3

    log = await client.get(f"/v1/alerts/{rule_id}/deliveries", headers=auth)
    assert log.status_code == 200
    assert log.json() == {"rule_id": rule_id, "deliveries": []}

    assert (await client.delete(f"/v1/alerts/{rule_id}", headers=auth)).status_code == 204
    assert (await client.get(f"/v1/alerts/{rule_id}", headers=auth)).status_code == 404
    assert (await client.delete(f"/v1/alerts/{rule_id}", headers=auth)).status_code == 404


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"window": "1m"}, "window must be between 5m and 30d"),
        ({"measure": "vibes"}, "measure"),
        ({"threshold": 2}, "error_rate is a fraction"),
        ({"warn_threshold": 0.5}, "warn_threshold must be reached before threshold"),
        ({"group_by": "tag:team"}, "tags"),
        ({"webhook_url": "mailto:x@example.com"}, "webhook_url"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_invalid_rules_are_422_with_the_reason(
    client: httpx.AsyncClient, auth: dict[str, str], change: dict[str, Any], reason: str
) -> None:
    response = await client.post("/v1/alerts", json={**RULE, **change}, headers=auth)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert reason in response.json()["message"]


async def test_invalid_patch_is_422_and_changes_nothing(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    rule_id = (await client.post("/v1/alerts", json=RULE, headers=auth)).json()["id"]
    bad = await client.patch(f"/v1/alerts/{rule_id}", json={"window": "40d"}, headers=auth)
    assert bad.status_code == 422
    assert "window must be between" in bad.json()["message"]
    bad = await client.patch(f"/v1/alerts/{rule_id}", json={"id": 5}, headers=auth)
    assert bad.status_code == 422
    assert "id" in bad.json()["message"]
    bad = await client.patch(f"/v1/alerts/{rule_id}", json=[1], headers=auth)
    assert bad.status_code == 422
    assert (await client.get(f"/v1/alerts/{rule_id}", headers=auth)).json()["window"] == "15m"


async def test_projects_are_isolated(
    client: httpx.AsyncClient, auth: dict[str, str], pool: Any
) -> None:
    rule_id = (await client.post("/v1/alerts", json=RULE, headers=auth)).json()["id"]
    other = {"Authorization": f"Bearer {await new_key(pool, 'other')}"}
    assert (await client.get("/v1/alerts", headers=other)).json()["rules"] == []
    for method, path in (
        ("GET", f"/v1/alerts/{rule_id}"),
        ("PATCH", f"/v1/alerts/{rule_id}"),
        ("DELETE", f"/v1/alerts/{rule_id}"),
        ("GET", f"/v1/alerts/{rule_id}/deliveries"),
    ):
        response = await client.request(method, path, headers=other, json={"threshold": 0.5})
        assert response.status_code == 404, (method, path)
    assert (await client.get(f"/v1/alerts/{rule_id}", headers=auth)).status_code == 200


async def test_needs_a_key_and_a_sane_id(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    assert (await client.get("/v1/alerts")).status_code == 401
    assert (await client.post("/v1/alerts", json=RULE)).status_code == 401
    assert (await client.get("/v1/alerts/0", headers=auth)).status_code == 422
    assert (await client.get("/v1/alerts/abc", headers=auth)).status_code == 422
    assert (await client.get(f"/v1/alerts/{2**63}", headers=auth)).status_code == 422


async def test_undeclared_query_parameters_are_refused(
    client: httpx.AsyncClient, auth: dict[str, str], app: FastAPI
) -> None:
    paths = {p: ops for p, ops in app.openapi()["paths"].items() if p.startswith("/v1/alerts")}
    for path, operations in paths.items():
        for method, operation in operations.items():
            query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            assert query == ({"limit"} if path.endswith("deliveries") else set()), (path, method)
    rule_id = (await client.post("/v1/alerts", json=RULE, headers=auth)).json()["id"]
    for method, path in (
        ("GET", "/v1/alerts"),
        ("POST", "/v1/alerts"),
        ("GET", f"/v1/alerts/{rule_id}"),
        ("PATCH", f"/v1/alerts/{rule_id}"),
        ("DELETE", f"/v1/alerts/{rule_id}"),
        ("GET", f"/v1/alerts/{rule_id}/deliveries"),
    ):
        response = await client.request(
            method, path, params={"projct": "x"}, headers=auth, json={"threshold": 0.5}
        )
        assert response.status_code == 422, (method, path, response.text)
        assert "`projct`" in response.json()["message"]
    log = await client.get(f"/v1/alerts/{rule_id}/deliveries", params={"limit": 5}, headers=auth)
    assert log.status_code == 200
    assert (await client.get(f"/v1/alerts/{rule_id}", headers=auth)).status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"\xa9\xd8L&e\x1c\x11",
            "body: JSON decode error (the request body is not UTF-8 JSON text)",
        ),
        (b"{not json", "body.1: JSON decode error"),
        (b'{"name": "x",', "body.13: JSON decode error"),
    ],
)
async def test_a_body_that_is_not_json_is_422_saying_so(
    client: httpx.AsyncClient, auth: dict[str, str], body: bytes, message: str
) -> None:
    created = await client.post("/v1/alerts", json=RULE, headers=auth)
    rule_id = created.json()["id"]
    headers = {**auth, "content-type": "application/json"}
    for method, path in (("POST", "/v1/alerts"), ("PATCH", f"/v1/alerts/{rule_id}")):
        response = await client.request(method, path, content=body, headers=headers)
        assert response.status_code == 422, (method, response.text)
        assert response.json() == {"error": "invalid_request", "message": message}
    listed = await client.get("/v1/alerts", headers=auth)
    assert [rule["id"] for rule in listed.json()["rules"]] == [rule_id]
