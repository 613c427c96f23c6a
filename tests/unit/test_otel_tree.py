"""Spans → runs, for each vocabulary: one run per agent span, every LLM call counted once.

Each case is a trace built as OTLP protobuf spans, parsed and decided like the intake
does; the expected runs are written out by hand from the case's numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from runtally.otel import spans, tree
from runtally.otel.model import Usage
from runtally.otel.vocab import span_kind
from tests.otel_support import make_request, make_span

TRACE = 0xABC


def genai_agent(name: str, **extra: Any) -> dict[str, Any]:
    return {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name, **extra}


def genai_chat(model: str, tokens_in: int, tokens_out: int, **extra: Any) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": tokens_in,
        "gen_ai.usage.output_tokens": tokens_out,
        **extra,
    }


def oi_llm(model: str, prompt: int, completion: int, cache_read: int = 0) -> dict[str, Any]:
    return {
        "openinference.span.kind": "LLM",
        "llm.model_name": model,
        "llm.token_count.prompt": prompt,
        "llm.token_count.completion": completion,
        "llm.token_count.total": prompt + completion,
        "llm.token_count.prompt_details.cache_read": cache_read,
    }


def tl_llm(model: str, prompt: int, completion: int) -> dict[str, Any]:
    return {
        "llm.request.type": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": model,
        "gen_ai.response.model": model + "-2025",
        "gen_ai.usage.prompt_tokens": prompt,
        "gen_ai.usage.completion_tokens": completion,
        "llm.usage.total_tokens": prompt + completion,
    }


def own(tokens_in: int, tokens_out: int) -> dict[str, int]:
    """An agent span's own usage attributes."""
    return {"gen_ai.usage.input_tokens": tokens_in, "gen_ai.usage.output_tokens": tokens_out}


TOOL = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}
HTTP = {"http.request.method": "POST"}

# (span, parent, attrs) per case, and the runs: (span, agent, model, usage, llm calls)
Case = tuple[list[tuple[int, int | None, dict[str, Any]]], list[tuple[int, str, str, Usage, int]]]
CASES: dict[str, Case] = {
    "genai: calls direct and under a tool; model with most tokens": (
        [
            (1, None, genai_agent("support")),
            (2, 1, TOOL),
            (3, 2, genai_chat("gpt-4o", 100, 10)),
            (4, 1, genai_chat("gpt-4o-mini", 200, 20)),
        ],
        [(1, "support", "gpt-4o-mini", Usage(300, 30), 2)],
    ),
    "genai: nested agent counts its own calls, the orchestrator only its": (
        [
            (1, None, genai_agent("planner")),
            (2, 1, genai_chat("m1", 50, 5)),
            (3, 1, TOOL),
            (4, 3, genai_agent("researcher")),
            (5, 4, genai_chat("m2", 400, 40)),
            (6, 4, genai_chat("m2", 100, 10)),
        ],
        [(1, "planner", "m1", Usage(50, 5), 1), (4, "researcher", "m2", Usage(500, 50), 2)],
    ),
    "genai: an agent span's own usage wins over its calls": (
        [
            (1, None, genai_agent("a", **own(999, 99))),
            (2, 1, genai_chat("m", 10, 1)),
        ],
        [(1, "a", "m", Usage(999, 99), 1)],
    ),
    "genai: an orchestrator's aggregated own usage is not counted over a sub-agent": (
        [
            (1, None, genai_agent("boss", **own(550, 55))),
            (2, 1, genai_chat("m", 50, 5)),
            (3, 1, genai_agent("worker")),
            (4, 3, genai_chat("m", 500, 50)),
        ],
        [(1, "boss", "m", Usage(50, 5), 1), (3, "worker", "m", Usage(500, 50), 1)],
    ),
    "genai: a nested agent with its own usage and no call spans": (
        [
            (1, None, genai_agent("outer")),
            (2, 1, genai_chat("m", 10, 1)),
            (3, 1, genai_agent("inner", **{"gen_ai.request.model": "inner-model", **own(70, 7)})),
        ],
        [(1, "outer", "m", Usage(10, 1), 1), (3, "inner", "inner-model", Usage(70, 7), 0)],
    ),
    "genai: cache tokens add up per field": (
        [
            (1, None, genai_agent("c")),
            (2, 1, genai_chat("m", 1000, 10, **{"gen_ai.usage.cache_read.input_tokens": 800})),
            (3, 1, genai_chat("m", 500, 10, **{"gen_ai.usage.cache_creation.input_tokens": 400})),
        ],
        [(1, "c", "m", Usage(1500, 20, 800, 400), 2)],
    ),
    "genai: an agent with no calls and no model": (
        [(1, None, {"gen_ai.operation.name": "invoke_agent"})],
        [(1, "span-1", "unknown", Usage(), 0)],
    ),
    "orphan LLM calls are runs of their service (or of gen_ai.agent.name)": (
        [
            (1, None, HTTP),
            (2, 1, genai_chat("m", 10, 1)),
            (3, 1, genai_chat("m", 20, 2, **{"gen_ai.agent.name": "named"})),
            (4, 99, genai_chat("m", 30, 3)),  # its parent never arrived
        ],
        [
            (2, "svc", "m", Usage(10, 1), 1),
            (3, "named", "m", Usage(20, 2), 1),
            (4, "svc", "m", Usage(30, 3), 1),
        ],
    ),
    "openinference: agents, nested agent, LLM calls under chains": (
        [
            (1, None, {"openinference.span.kind": "AGENT", "agent.name": "oi-planner"}),
            (2, 1, {"openinference.span.kind": "CHAIN"}),
            (3, 2, oi_llm("claude-sonnet-4", 1200, 80, cache_read=1000)),
            (4, 1, {"openinference.span.kind": "AGENT", "agent.name": "oi-coder"}),
            (5, 4, {"openinference.span.kind": "TOOL"}),
            (6, 4, oi_llm("gpt-4o", 300, 30)),
            (7, 4, oi_llm("claude-sonnet-4", 100, 10)),
        ],
        [
            (1, "oi-planner", "claude-sonnet-4", Usage(1200, 80, 1000), 1),
            (4, "oi-coder", "gpt-4o", Usage(400, 40, 0), 2),
        ],
    ),
    "openllmetry: agent under a workflow, calls under tasks": (
        [
            (1, None, {"traceloop.span.kind": "workflow", "traceloop.entity.name": "flow"}),
            (2, 1, {"traceloop.span.kind": "agent", "traceloop.entity.name": "tl-agent"}),
            (3, 2, {"traceloop.span.kind": "task", "traceloop.entity.name": "step"}),
            (4, 3, tl_llm("gpt-4o", 70, 7)),
            (5, 2, tl_llm("gpt-4o", 30, 3)),
            (6, 1, tl_llm("gpt-4o-mini", 5, 1)),  # under the workflow, not the agent
        ],
        [
            (2, "tl-agent", "gpt-4o-2025", Usage(100, 10), 2),
            (6, "svc", "gpt-4o-mini-2025", Usage(5, 1), 1),
        ],
    ),
    "mixed: an OpenLLMetry agent over GenAI chat spans": (
        [
            (1, None, {"traceloop.span.kind": "agent", "traceloop.entity.name": "mix"}),
            (2, 1, genai_chat("m", 11, 1)),
            (3, 1, oi_llm("m", 22, 2)),
        ],
        [(1, "mix", "m", Usage(33, 3, 0), 2)],
    ),
    "openinference: a framework's LLM span over the client's LLM span is one call": (
        [
            (1, None, {"openinference.span.kind": "AGENT", "agent.name": "lc"}),
            (2, 1, oi_llm("gpt-4o", 100, 10)),  # e.g. LangChain's ChatOpenAI span
            (3, 2, oi_llm("gpt-4o-2024-08-06", 100, 10)),  # the openai client's span
        ],
        [(1, "lc", "gpt-4o", Usage(100, 10, 0), 1)],
    ),
    "genai: an outer LLM span without usage takes that of the spans inside it": (
        [
            (1, None, genai_agent("wrap")),
            (2, 1, {"gen_ai.operation.name": "chat"}),
            (3, 2, genai_chat("m", 40, 4)),
            (4, 2, genai_chat("m", 60, 6)),
        ],
        [(1, "wrap", "m", Usage(100, 10), 1)],
    ),
    "nested LLM spans outside any agent are one run": (
        [
            (1, None, {"llm.request.type": "chat"}),
            (2, 1, genai_chat("m", 5, 5)),
        ],
        [(1, "svc", "m", Usage(5, 5), 1)],
    ),
}  # fmt: skip


def decide(case_spans: Sequence[tuple[int, int | None, dict[str, Any]]]) -> list[tree.Run]:
    made: list[Span] = [
        make_span(TRACE, sid, parent, attrs, name=f"span-{sid}")
        for sid, parent, attrs in case_spans
    ]
    parsed = spans.parse(make_request(made))
    (nodes,) = parsed.traces.values()
    return tree.runs({node.span_id: node for node in nodes})


@pytest.mark.parametrize("name", list(CASES))
def test_runs(name: str) -> None:
    case_spans, expected = CASES[name]
    got = sorted(
        (int(run.span.span_id, 16), run.agent, run.model, run.usage, run.llm_calls)
        for run in decide(case_spans)
    )
    assert got == sorted(expected)


def reports_own_usage(name: str) -> bool:
    return any(
        a.get("gen_ai.operation.name") == "invoke_agent" and "gen_ai.usage.input_tokens" in a
        for _, _, a in CASES[name][0]
    )


def nests_llm_spans(name: str) -> bool:
    kinds = {sid: a for sid, _, a in CASES[name][0]}
    llm = {sid for sid, a in kinds.items() if span_kind(a) == "llm"}
    return any(parent in llm for sid, parent, _ in CASES[name][0] if sid in llm)


# Where agent spans report their own usage, or LLM spans nest, test_runs covers the totals.
@pytest.mark.parametrize(
    "name", [n for n in CASES if not reports_own_usage(n) and not nests_llm_spans(n)]
)
def test_every_llm_call_is_counted_exactly_once(name: str) -> None:
    """Where no agent span reports its own usage, the runs' totals are the calls' sum."""
    case_spans, _ = CASES[name]
    calls = [a for _, _, a in case_spans if a.get("gen_ai.operation.name") == "chat"]
    calls += [a for _, _, a in case_spans if a.get("openinference.span.kind") == "LLM"]
    calls += [a for _, _, a in case_spans if a.get("llm.request.type") == "chat"]
    expected_in = sum(
        a.get(
            "gen_ai.usage.input_tokens",
            a.get("llm.token_count.prompt", a.get("gen_ai.usage.prompt_tokens", 0)),
        )
        for a in calls
    )
    runs = decide(case_spans)
    assert sum(run.usage.input or 0 for run in runs) == expected_in
    assert sum(run.llm_calls for run in runs) == len(calls)
