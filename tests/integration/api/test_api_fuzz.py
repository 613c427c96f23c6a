"""schemathesis fuzzes every operation of the OpenAPI schema (in-process, with a valid
key, against stored runs): no input produces a 5xx, and answers match the schema."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from runtally.api.app import create_app
from runtally.api.keys import create_key
from runtally.config import Settings
from runtally.store.engine import create_pool

from .data import generate, store

pytestmark = pytest.mark.integration

schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


async def _seed(settings: Settings) -> str:
    pool = await create_pool(settings)
    try:
        now = datetime.now(UTC)
        await store(pool, generate(300, now - timedelta(hours=30), timedelta(hours=30), seed=1))
        async with pool.acquire() as conn:
            _, key = await create_key(conn, "demo")
    finally:
        await pool.close()
    return key


@pytest.fixture
def live(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    key = asyncio.run(_seed(settings))
    with TestClient(create_app(settings), raise_server_exceptions=True) as client:
        yield client, {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("window", ["generated", "recent"])
@schema.parametrize()
@hypothesis_settings(
    max_examples=30,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_input_produces_a_server_error(
    case: Any, window: str, live: tuple[TestClient, dict[str, str]]
) -> None:
    """``recent``: any generated from/to is replaced by the last 30 hours (the seeded runs),
    so the other parameters reach the queries instead of stopping at the range check."""
    client, headers = live
    if window == "recent" and case.query:
        now = datetime.now(UTC)
        for name, value in (("from", now - timedelta(hours=30)), ("to", now)):
            if name in case.query:
                case.query[name] = value.isoformat()
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    sent = {k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() != "authorization"}
    kwargs["headers"] = {**sent, **headers}
    if not kwargs.get("cookies"):
        kwargs.pop("cookies", None)
    response = client.request(**kwargs)
    assert response.status_code != 401, "the valid key must be sent"
    case.validate_response(response, checks=CHECKS)
