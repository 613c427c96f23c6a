"""POST /v1/traces through the app: every answer an OTLP exporter can get."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from runtally.api.app import create_app
from runtally.api.keys import create_key
from runtally.config import Settings
from runtally.devstack.servers import free_port
from runtally.events import parse_event
from tests.otel_support import make_request, make_span

pytestmark = pytest.mark.integration

PROTOBUF = {"Content-Type": "application/x-protobuf"}
GZIP = {**PROTOBUF, "Content-Encoding": "gzip"}
AGENT = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "api-agent"}
CHAT = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 40, "gen_ai.usage.output_tokens": 4}  # fmt: skip
REQUEST = make_request([make_span(3, 2, 1, CHAT), make_span(3, 1, None, AGENT)])


@pytest.fixture
def otel_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"otel_settle_s": 0.0, "otel_max_body_bytes": 4096})


async def client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            yield http


@pytest.fixture
async def client(otel_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in client_for(otel_settings):
        yield http


@pytest.fixture
async def auth(pool: Any) -> dict[str, str]:
    async with pool.acquire() as conn:
        _, key = await create_key(conn, "demo", "otel")
    return {"Authorization": f"Bearer {key}"}


async def stream_events(redis_client: aioredis.Redis, settings: Settings) -> list[Any]:
    return [parse_event(f[b"data"]) for _, f in await redis_client.xrange(settings.stream)]


async def test_protobuf_export_is_answered_in_protobuf_and_published(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    redis_client: aioredis.Redis,
    settings: Settings,
) -> None:
    response = await client.post(
        "/v1/traces", content=REQUEST.SerializeToString(), headers={**auth, **PROTOBUF}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert not answer.HasField("partial_success")
    (event,) = await stream_events(redis_client, settings)
    assert (event.project, event.agent, event.input_tokens, event.output_tokens) == (
        "demo",
        "api-agent",
        40,
        4,
    )


async def test_json_gzip_export_with_a_rejected_span_gets_partial_success(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    redis_client: aioredis.Redis,
    settings: Settings,
) -> None:
    document = json.loads(json_format.MessageToJson(REQUEST))
    for span in document["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for key in ("traceId", "spanId", "parentSpanId"):
            if key in span:  # OTLP/JSON ids are hex, not protobuf's base64
                span[key] = base64.b64decode(span[key]).hex()
    document["resourceSpans"][0]["scopeSpans"][0]["spans"].append(
        {"traceId": "00" * 16, "spanId": "11" * 8, "name": "bad"}
    )
    body = gzip.compress(json.dumps(document).encode())
    headers = {**auth, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    response = await client.post("/v1/traces", content=body, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert "trace id" in partial["errorMessage"]
    (event,) = await stream_events(redis_client, settings)
    assert event.agent == "api-agent"


@pytest.mark.parametrize(
    ("headers", "body", "status", "says"),
    [
        ({}, b"", 401, "missing header"),
        ({"Authorization": "Bearer nope"}, b"", 401, "malformed"),
        ({"Authorization": "Bearer rt_" + "a" * 43}, b"", 401, "unknown or revoked"),
        ({"Content-Type": "text/plain"}, b"hi", 415, "content type"),
        ({**PROTOBUF, "Content-Encoding": "zstd"}, b"x", 415, "content encoding"),
        (PROTOBUF, b"\xff\xff", 400, "protobuf"),
        ({"Content-Type": "application/json"}, b"{", 400, "not JSON"),
        ({**PROTOBUF, "Content-Encoding": "gzip"}, b"nope", 400, "gzip"),
        (PROTOBUF, b"\x00" * 5000, 413, "larger than 4096"),
        (GZIP, gzip.compress(b"\x00" * 5000), 413, "after decompression"),
        (GZIP, gzip.compress(b"\x00" * 10**7), 413, "after decompression"),
    ],
)  # fmt: skip
async def test_refusals(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    headers: dict[str, str],
    body: bytes,
    status: int,
    says: str,
) -> None:
    sent = {**auth, **headers}
    if status == 401 and "Authorization" not in headers:
        sent.pop("Authorization")
    response = await client.post("/v1/traces", content=body, headers=sent)
    assert response.status_code == status
    assert says in response.json()["message"]


async def test_redis_unreachable_is_503_with_retry_after(
    otel_settings: Settings, auth: dict[str, str]
) -> None:
    down = otel_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    async for http in client_for(down):
        response = await http.post(
            "/v1/traces", content=REQUEST.SerializeToString(), headers={**auth, **PROTOBUF}
        )
        assert response.status_code == 503
        assert response.headers["retry-after"] == str(down.otel_retry_after_s)
        assert "Redis" in response.json()["message"]


async def test_postgres_unreachable_is_503_with_retry_after(otel_settings: Settings) -> None:
    down = otel_settings.model_copy(
        update={"database_url": f"postgresql://runtally@127.0.0.1:{free_port()}/x"}
    )
    async for http in client_for(down):
        headers = {"Authorization": "Bearer rt_" + "a" * 43, **PROTOBUF}
        response = await http.post("/v1/traces", content=b"", headers=headers)
        assert response.status_code == 503
        assert response.headers["retry-after"] == str(down.otel_retry_after_s)
