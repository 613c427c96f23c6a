"""Which spans are agent runs and which are LLM calls, in each vocabulary.

- OTel GenAI semantic conventions: ``gen_ai.operation.name`` is ``invoke_agent`` for an
  agent, ``chat`` / ``text_completion`` / ``generate_content`` / ``embeddings`` for an
  LLM call.
- OpenInference (Arize): ``openinference.span.kind`` is ``AGENT``, or ``LLM`` /
  ``EMBEDDING``; the agent's name is ``agent.name``.
- OpenLLMetry (Traceloop): ``traceloop.span.kind`` is ``agent`` (name in
  ``traceloop.entity.name``); an LLM request span has ``llm.request.type``
  (``chat``, ``completion``, ``embedding``).

The first vocabulary in that order that classifies a span decides its kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtally.otel.model import Kind

GENAI_OPERATION = "gen_ai.operation.name"
OPENINFERENCE_KIND = "openinference.span.kind"
TRACELOOP_KIND = "traceloop.span.kind"
TRACELOOP_REQUEST_TYPE = "llm.request.type"

GENAI_AGENT_NAME = "gen_ai.agent.name"
OPENINFERENCE_AGENT_NAME = "agent.name"
TRACELOOP_ENTITY_NAME = "traceloop.entity.name"

GENAI_KINDS: dict[str, Kind] = {
    "invoke_agent": "agent",
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "embeddings": "llm",
}
OPENINFERENCE_KINDS: dict[str, Kind] = {"AGENT": "agent", "LLM": "llm", "EMBEDDING": "llm"}
TRACELOOP_KINDS: dict[str, Kind] = {"agent": "agent"}
TRACELOOP_REQUEST_TYPES = frozenset({"chat", "completion", "embedding"})

# Where each vocabulary keeps an agent's name, in the order they are tried.
AGENT_NAME_KEYS = (GENAI_AGENT_NAME, OPENINFERENCE_AGENT_NAME, TRACELOOP_ENTITY_NAME)


def _lookup(table: Mapping[str, Kind], value: Any) -> Kind:
    return table.get(value, "") if isinstance(value, str) else ""


def span_kind(attrs: Mapping[str, Any]) -> Kind:
    """``"agent"``, ``"llm"`` or ``""`` (any other span: it serves only for ancestry)."""
    for key, table in (
        (GENAI_OPERATION, GENAI_KINDS),
        (OPENINFERENCE_KIND, OPENINFERENCE_KINDS),
        (TRACELOOP_KIND, TRACELOOP_KINDS),
    ):
        kind = _lookup(table, attrs.get(key))
        if kind:
            return kind
    return "llm" if attrs.get(TRACELOOP_REQUEST_TYPE) in TRACELOOP_REQUEST_TYPES else ""


def agent_name(attrs: Mapping[str, Any], span_name: str) -> str:
    """An agent span's name: ``gen_ai.agent.name``, the vocabulary's own, else the span's."""
    for key in AGENT_NAME_KEYS:
        value = attrs.get(key)
        if isinstance(value, str) and value:
            return value
    return span_name
