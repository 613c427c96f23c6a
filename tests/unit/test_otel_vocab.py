"""Span kinds and agent names in the three vocabularies (tables)."""

from __future__ import annotations

from typing import Any

import pytest

from runtally.otel.vocab import agent_name, span_kind

KINDS: list[tuple[dict[str, Any], str]] = [
    # OTel GenAI
    ({"gen_ai.operation.name": "invoke_agent"}, "agent"),
    ({"gen_ai.operation.name": "chat"}, "llm"),
    ({"gen_ai.operation.name": "text_completion"}, "llm"),
    ({"gen_ai.operation.name": "generate_content"}, "llm"),
    ({"gen_ai.operation.name": "embeddings"}, "llm"),
    ({"gen_ai.operation.name": "execute_tool"}, ""),
    ({"gen_ai.operation.name": "create_agent"}, ""),
    # OpenInference
    ({"openinference.span.kind": "AGENT"}, "agent"),
    ({"openinference.span.kind": "LLM"}, "llm"),
    ({"openinference.span.kind": "EMBEDDING"}, "llm"),
    ({"openinference.span.kind": "CHAIN"}, ""),
    ({"openinference.span.kind": "TOOL"}, ""),
    # OpenLLMetry
    ({"traceloop.span.kind": "agent"}, "agent"),
    ({"traceloop.span.kind": "workflow"}, ""),
    ({"traceloop.span.kind": "tool"}, ""),
    ({"llm.request.type": "chat"}, "llm"),
    ({"llm.request.type": "completion"}, "llm"),
    ({"llm.request.type": "embedding"}, "llm"),
    ({"llm.request.type": "rerank"}, ""),
    # the first vocabulary that classifies a span decides
    ({"gen_ai.operation.name": "chat", "traceloop.span.kind": "agent"}, "llm"),
    ({"gen_ai.operation.name": "execute_tool", "openinference.span.kind": "AGENT"}, "agent"),
    # anything else
    ({}, ""),
    ({"http.method": "POST"}, ""),
    ({"gen_ai.operation.name": 7}, ""),
]


@pytest.mark.parametrize(("attrs", "kind"), KINDS)
def test_span_kind(attrs: dict[str, Any], kind: str) -> None:
    assert span_kind(attrs) == kind


NAMES: list[tuple[dict[str, Any], str]] = [
    ({"gen_ai.agent.name": "planner"}, "planner"),
    ({"agent.name": "oi-agent"}, "oi-agent"),
    ({"traceloop.entity.name": "tl-agent"}, "tl-agent"),
    ({"gen_ai.agent.name": "first", "agent.name": "second"}, "first"),
    ({"gen_ai.agent.name": ""}, "span name"),
    ({}, "span name"),
]


@pytest.mark.parametrize(("attrs", "name"), NAMES)
def test_agent_name(attrs: dict[str, Any], name: str) -> None:
    assert agent_name(attrs, "span name") == name
