"""A real instrumented agent framework (pydantic-ai, its built-in test models, no network)
exporting through the real OTLP/HTTP exporter: runtally stores the usage the library
itself reports, per agent, with a nested agent called from a tool."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pydantic_ai import Agent, RunContext
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.instrumented import InstrumentationSettings
from pydantic_ai.models.test import TestModel
from pydantic_ai.usage import RunUsage

from tests.otel_stack import key, stack, stored  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration


def instrumented(provider: TracerProvider, own_usage: bool) -> InstrumentationSettings:
    """``own_usage``: agent spans carry ``gen_ai.usage.*`` (else ``gen_ai.aggregated_usage.*``)."""
    return InstrumentationSettings(
        tracer_provider=provider,
        include_content=False,
        use_aggregated_usage_attribute_names=not own_usage,
    )


def fail(messages: list[ModelMessage], info: AgentInfo) -> Any:
    raise ConnectionError("provider down")


async def run_agents(provider: TracerProvider, own_usage: bool) -> dict[str, list[RunUsage]]:
    """Three planner runs that each call the researcher from a tool, and a failing run."""
    reported: dict[str, list[RunUsage]] = {"planner": [], "researcher": []}
    researcher = Agent(TestModel(), name="researcher")
    planner = Agent(TestModel(), name="planner")
    fragile = Agent(FunctionModel(fail), name="fragile")
    for agent in (researcher, planner, fragile):
        agent.instrument = instrumented(provider, own_usage)

    @planner.tool
    async def research(ctx: RunContext[None], question: str) -> str:
        result = await researcher.run(question)
        reported["researcher"].append(result.usage)
        return str(result.output)

    for prompt in ("plan a trip", "plan a party", "plan a launch"):
        reported["planner"].append((await planner.run(prompt)).usage)
    with pytest.raises(ConnectionError):
        await fragile.run("anything")
    return reported


@pytest.mark.parametrize("own_usage", [False, True])
async def test_library_usage_equals_stored_usage(
    stack: str,  # noqa: F811
    key: str,  # noqa: F811
    pool: Any,
    own_usage: bool,
) -> None:
    exporter = OTLPSpanExporter(
        endpoint=f"{stack}/v1/traces", headers={"Authorization": f"Bearer {key}"}
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "pai-svc"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    reported = await run_agents(provider, own_usage)
    assert await asyncio.to_thread(provider.force_flush)
    provider.shutdown()
    rows = await stored(pool, 3 + 3 + 1)
    assert len(rows) == 7
    for agent, usages in reported.items():
        mine = [r for r in rows if r["agent"] == agent]
        assert len(mine) == len(usages) == 3
        assert sum(r["input_tokens"] for r in mine) == sum(u.input_tokens for u in usages)
        assert sum(r["output_tokens"] for r in mine) == sum(u.output_tokens for u in usages)
        assert sum(r["llm_calls"] for r in mine) == sum(u.requests for u in usages)
        assert {(r["model"], r["status"]) for r in mine} == {("test", "success")}
        assert all(r["session_id"] for r in mine)  # gen_ai.conversation.id
    (failed,) = [r for r in rows if r["agent"] == "fragile"]
    assert (failed["status"], failed["error_type"]) == ("error", "ConnectionError")
