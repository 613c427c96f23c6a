"""The real OpenTelemetry SDK and OTLP/HTTP exporter against real ``runtally api`` and
``runtally ingest`` processes: what is stored equals what was traced, exactly."""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from tests.otel_stack import key, stack, stored  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration

RESOURCE = {
    "service.name": "sdk-svc",
    "service.version": "9.9.1",
    "deployment.environment.name": "test",
}


def trace_fleet(provider: TracerProvider, rng: random.Random) -> dict[str, Counter[str]]:
    """Traces with nested agents, errors and orphan calls; the expected totals per agent."""
    tracer = provider.get_tracer("fleet")
    truth: dict[str, Counter[str]] = defaultdict(Counter)

    def chat(agent: str, model: str) -> None:
        tokens = {"in": rng.randint(1, 5000), "out": rng.randint(0, 800), "cached": 0}
        tokens["cached"] = rng.randint(0, tokens["in"])
        with tracer.start_as_current_span(f"chat {model}") as span:
            span.set_attributes({
                "gen_ai.operation.name": "chat", "gen_ai.request.model": model,
                "gen_ai.usage.input_tokens": tokens["in"],
                "gen_ai.usage.output_tokens": tokens["out"],
                "gen_ai.usage.cache_read.input_tokens": tokens["cached"],
            })  # fmt: skip
        truth[agent].update(tokens | {"calls": 1})

    for n in range(25):
        with tracer.start_as_current_span("POST /ask"):
            failed = n % 5 == 0
            with tracer.start_as_current_span("invoke_agent planner") as planner:
                planner.set_attributes(
                    {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"}
                )
                for _ in range(rng.randint(1, 3)):
                    chat("planner", "gpt-4o")
                with (
                    tracer.start_as_current_span("execute_tool research"),
                    tracer.start_as_current_span("invoke_agent researcher") as researcher,
                ):
                    researcher.set_attributes(
                        {
                            "gen_ai.operation.name": "invoke_agent",
                            "gen_ai.agent.name": "researcher",
                        }
                    )
                    for _ in range(rng.randint(0, 3)):
                        chat("researcher", "claude-sonnet-4")
                truth["planner"]["runs"] += 1
                truth["researcher"]["runs"] += 1
                if failed:
                    planner.record_exception(TimeoutError("tool timed out"))
                    planner.set_status(Status(StatusCode.ERROR))
                    truth["planner"]["errors"] += 1
    for _ in range(4):  # LLM calls outside any agent: runs of the service
        chat("sdk-svc", "gpt-4o-mini")
        truth["sdk-svc"]["runs"] += 1
    return truth


def export(exporter: OTLPSpanExporter, spans: Sequence[ReadableSpan], size: int) -> None:
    for start in range(0, len(spans), size):
        assert exporter.export(spans[start : start + size]) == SpanExportResult.SUCCESS


def totals(rows: Sequence[Any]) -> dict[str, Counter[str]]:
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        found[row["agent"]].update({
            "in": row["input_tokens"] or 0, "out": row["output_tokens"] or 0,
            "cached": row["cache_read_tokens"] or 0, "runs": 1,
            "errors": row["status"] == "error", "calls": row["llm_calls"],
        })  # fmt: skip
    return found


async def test_sdk_exporter_children_first_every_span_twice_totals_exact(
    stack: str,  # noqa: F811
    key: str,  # noqa: F811
    pool: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider = TracerProvider(resource=Resource.create(RESOURCE))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    truth = trace_fleet(provider, random.Random(13))
    finished = list(memory.get_finished_spans())  # in end order: children before parents
    # The exporter configured as the README says, from the standard environment variables.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", stack)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer {key}")
    await asyncio.to_thread(export, OTLPSpanExporter(), finished, 7)
    await asyncio.to_thread(export, OTLPSpanExporter(compression=Compression.Gzip), finished, 11)
    expected_runs = sum(c["runs"] for c in truth.values())
    rows = await stored(pool, expected_runs)
    assert len(rows) == expected_runs
    found = totals(rows)
    assert found == truth
    errors = [r for r in rows if r["status"] == "error"]
    assert {r["error_type"] for r in errors} == {"TimeoutError"}
    assert {json.dumps(r["tags"], sort_keys=True) for r in rows} == {
        json.dumps({"environment": "test", "release": "9.9.1"}, sort_keys=True)
    }


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


async def test_otlp_json_with_gzip_over_plain_http(
    stack: str,  # noqa: F811
    key: str,  # noqa: F811
    pool: Any,
) -> None:
    start_ns = time.time_ns() - 60 * 10**9
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
        "name": "invoke_agent json-agent", "kind": 1,
        "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(start_ns + 3 * 10**9),
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}},
            {"key": "gen_ai.agent.name", "value": {"stringValue": "json-agent"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "1234"}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 56}},
        ],
        "status": {"code": 2, "message": "upstream refused"},
    }  # fmt: skip
    body = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": [span]}]}]}
    headers = {
        "Authorization": f"Bearer {key}", "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }  # fmt: skip
    status, answer = await asyncio.to_thread(
        post, f"{stack}/v1/traces", gzip.compress(json.dumps(body).encode()), headers
    )
    assert (status, answer) == (200, {})
    (row,) = await stored(pool, 1)
    assert tuple(row)[:6] == ("json-agent", "gpt-4o", "error", "error", 1234, 56)
