"""A real OpenInference-instrumented OpenAI client, pointed at a local fake OpenAI server
(no network), with OpenInference agent spans, exported by the real OTLP/HTTP exporter:
runtally stores per agent the usage the client library itself returned."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from openai import OpenAI
from openinference.instrumentation import OITracer, TraceConfig, using_session, using_user
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests.otel_stack import key, stack, stored  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration


class FakeOpenAI(BaseHTTPRequestHandler):
    """Chat completions with a different, known usage for every request."""

    counter = itertools.count()

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["content-length"])))
        i = next(self.counter)
        usage = {"prompt_tokens": 100 + 13 * i, "completion_tokens": 3 + i,
                 "prompt_tokens_details": {"cached_tokens": (i % 3) * 20}}  # fmt: skip
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        body = json.dumps({
            "id": f"c{i}", "object": "chat.completion", "created": 1,
            "model": request["model"] + "-2025-01-01", "usage": usage,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "ok"}}],
        }).encode()  # fmt: skip
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_openai() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()


def run_agents(provider: TracerProvider, base_url: str) -> dict[str, Counter[str]]:
    """Planner (one call, then the researcher with two) three times, and a bare call."""
    client = OpenAI(base_url=base_url, api_key="test", max_retries=0)
    tracer = OITracer(provider.get_tracer("agents"), config=TraceConfig())
    reported: dict[str, Counter[str]] = defaultdict(Counter)

    def ask(agent: str, model: str) -> None:
        response = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "q"}]
        )
        usage = response.usage
        assert usage is not None
        assert usage.prompt_tokens_details is not None
        cached = usage.prompt_tokens_details.cached_tokens or 0
        reported[agent].update(
            {
                "in": usage.prompt_tokens,
                "out": usage.completion_tokens,
                "cached": cached,
                "calls": 1,
            }
        )

    @tracer.agent(name="oi-researcher")
    def researcher() -> None:
        ask("oi-researcher", "gpt-4o")
        ask("oi-researcher", "gpt-4o-mini")

    @tracer.agent(name="oi-planner")
    def planner() -> None:
        ask("oi-planner", "o3")
        researcher()

    with using_session("s-1"), using_user("u-1"):
        for _ in range(3):
            planner()
            reported["oi-planner"]["runs"] += 1
            reported["oi-researcher"]["runs"] += 1
    ask("oi-svc", "gpt-4o")  # outside any agent: a run of the service
    reported["oi-svc"]["runs"] += 1
    return reported


async def test_openinference_client_usage_equals_stored_usage(
    stack: str,  # noqa: F811
    key: str,  # noqa: F811
    pool: Any,
    fake_openai: str,
) -> None:
    exporter = OTLPSpanExporter(
        endpoint=f"{stack}/v1/traces", headers={"Authorization": f"Bearer {key}"}
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "oi-svc"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        reported = await asyncio.to_thread(run_agents, provider, fake_openai)
    finally:
        instrumentor.uninstrument()
    assert await asyncio.to_thread(provider.force_flush)
    provider.shutdown()
    rows = await stored(pool, 7)
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        found[row["agent"]].update(
            {"in": row["input_tokens"], "out": row["output_tokens"], "runs": 1,
             "cached": row["cache_read_tokens"], "calls": row["llm_calls"]}
        )  # fmt: skip
    assert found == reported
    planner = [r for r in rows if r["agent"] == "oi-planner"]
    assert {(r["model"], r["session_id"]) for r in planner} == {("o3-2025-01-01", "s-1")}
