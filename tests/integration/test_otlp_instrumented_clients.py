"""Real instrumented OpenAI clients (OpenInference's and OpenLLMetry's instrumentors),
pointed at a local fake OpenAI server (no network), under agent spans of the same
vocabulary, exported by the real OTLP/HTTP exporter: runtally stores per agent the usage
the client library itself returned."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from openai import OpenAI
from openinference.instrumentation import OITracer, TraceConfig, using_session, using_user
from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInferenceOpenAI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.openai import OpenAIInstrumentor as OpenLLMetryOpenAI
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


AgentSpan = Callable[[str], AbstractContextManager[object]]


def openinference_agents(provider: TracerProvider) -> AgentSpan:
    tracer = OITracer(provider.get_tracer("agents"), config=TraceConfig())

    def agent(name: str) -> AbstractContextManager[object]:
        return tracer.start_as_current_span(name, openinference_span_kind="agent")

    return agent


def openllmetry_agents(provider: TracerProvider) -> AgentSpan:
    """Agent spans as Traceloop's SDK makes them (its ``@agent`` decorator)."""
    tracer = provider.get_tracer("agents")

    @contextmanager
    def agent(name: str) -> Iterator[object]:
        attrs = {"traceloop.span.kind": "agent", "traceloop.entity.name": name}
        with tracer.start_as_current_span(f"{name}.agent", attributes=attrs) as span:
            yield span

    return agent


def run_agents(agent: AgentSpan, base_url: str, session: bool) -> dict[str, Counter[str]]:
    """Planner (one call, then the researcher with two) three times, and a bare call."""
    client = OpenAI(base_url=base_url, api_key="test", max_retries=0)
    reported: dict[str, Counter[str]] = defaultdict(Counter)

    def ask(name: str, model: str) -> None:
        response = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "q"}]
        )
        usage = response.usage
        assert usage is not None
        assert usage.prompt_tokens_details is not None
        cached = usage.prompt_tokens_details.cached_tokens or 0
        reported[name].update(
            {
                "in": usage.prompt_tokens,
                "out": usage.completion_tokens,
                "cached": cached,
                "calls": 1,
            }
        )

    identity = using_session("s-1") if session else nullcontext()
    with identity, using_user("u-1"):
        for _ in range(3):
            with agent("planner"):
                ask("planner", "o3")
                with agent("researcher"):
                    ask("researcher", "gpt-4o")
                    ask("researcher", "gpt-4o-mini")
            reported["planner"]["runs"] += 1
            reported["researcher"]["runs"] += 1
    ask("llm-svc", "gpt-4o")  # outside any agent: a run of the service
    reported["llm-svc"]["runs"] += 1
    return reported


VOCABULARIES = {
    "openinference": (OpenInferenceOpenAI, openinference_agents),
    "openllmetry": (OpenLLMetryOpenAI, openllmetry_agents),
}


@pytest.mark.parametrize("vocabulary", list(VOCABULARIES))
async def test_instrumented_client_usage_equals_stored_usage(
    stack: str,  # noqa: F811
    key: str,  # noqa: F811
    pool: Any,
    fake_openai: str,
    vocabulary: str,
) -> None:
    exporter = OTLPSpanExporter(
        endpoint=f"{stack}/v1/traces", headers={"Authorization": f"Bearer {key}"}
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "llm-svc"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    instrumentor_class, agent_spans = VOCABULARIES[vocabulary]
    instrumentor = instrumentor_class()
    instrumentor.instrument(tracer_provider=provider)
    session = vocabulary == "openinference"  # OpenInference's context attributes
    try:
        reported = await asyncio.to_thread(run_agents, agent_spans(provider), fake_openai, session)
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
    planner = [r for r in rows if r["agent"] == "planner"]
    expected_session = "s-1" if session else None
    assert {(r["model"], r["session_id"]) for r in planner} == {("o3-2025-01-01", expected_session)}
