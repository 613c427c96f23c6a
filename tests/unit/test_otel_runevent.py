"""Runs → wire-format events: valid for ingest, deterministic ids, errors, tags, identity."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from runtally.events import parse_event
from runtally.otel import runevent, spans, tree
from runtally.otel.model import Node, Usage, decode_node, encode_node
from tests.otel_support import T0, make_request, make_span

RESOURCE = {
    "service.name": "billing",
    "service.version": "2.3.1",
    "deployment.environment.name": "prod",
}


def runs_of(*made: object, resource: dict[str, str] | None = None) -> list[tree.Run]:
    parsed = spans.parse(make_request(list(made), resource or RESOURCE))  # type: ignore[arg-type]
    (nodes,) = parsed.traces.values()
    return tree.runs({n.span_id: n for n in nodes})


def test_an_agent_run_becomes_a_valid_event_with_identity_and_tags() -> None:
    agent = make_span(
        7, 1, None,
        {
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "billing-bot",
            "user.id": "u-1", "gen_ai.conversation.id": "conv-9",
        },
        start_ns=T0, end_ns=T0 + 2_345_678_901,
    )  # fmt: skip
    call = make_span(7, 2, 1, {"gen_ai.operation.name": "chat", "gen_ai.response.model": "gpt-4o",
                               "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 12,
                               "gen_ai.usage.cache_read.input_tokens": 100})  # fmt: skip
    (run,) = runs_of(agent, call)
    wire = runevent.wire(run, "demo", f"{7:032x}")
    event = parse_event(wire.encode())
    assert event.event_id == uuid.UUID(runevent.event_id("demo", f"{7:032x}", f"{1:016x}"))
    assert (event.project, event.agent, event.model, event.status) == (
        "demo",
        "billing-bot",
        "gpt-4o",
        "success",
    )
    assert (event.input_tokens, event.output_tokens, event.cache_read_tokens) == (120, 12, 100)
    assert event.cache_write_tokens is None
    assert event.started_at == datetime(2025, 12, 1, tzinfo=UTC)
    assert event.ended_at == event.started_at + timedelta(microseconds=2_345_678)
    assert (event.user_id, event.session_id, event.trace_id) == ("u-1", "conv-9", f"{7:032x}")
    assert event.tags == {"environment": "prod", "release": "2.3.1"}
    assert event.metadata == {"source": "otlp", "span_id": f"{1:016x}", "llm_calls": 1}


def test_a_failed_agent_run_carries_its_error() -> None:
    agent = make_span(
        7, 1, None, {"openinference.span.kind": "AGENT", "agent.name": "a"},
        error="", exception={"exception.type": "ToolError", "exception.message": "tool exploded"},
    )  # fmt: skip
    (run,) = runs_of(agent, resource={"service.name": "s"})
    event = parse_event(runevent.wire(run, "p", f"{7:032x}").encode())
    assert (event.status, event.error_type, event.error_message) == (
        "error",
        "ToolError",
        "tool exploded",
    )
    assert event.tags is None
    assert event.input_tokens is None
    assert event.model == "unknown"


def test_event_ids_are_deterministic_and_distinct() -> None:
    first = runevent.event_id("p", "a" * 32, "b" * 16)
    assert first == runevent.event_id("p", "a" * 32, "b" * 16)
    others = {
        runevent.event_id("q", "a" * 32, "b" * 16),
        runevent.event_id("p", "c" * 32, "b" * 16),
        runevent.event_id("p", "a" * 32, "c" * 16),
    }
    assert first not in others
    assert len(others) == 3


@pytest.mark.parametrize(
    ("unix_ns", "text"),
    [
        (0, "1970-01-01T00:00:00+00:00"),
        (T0 + 999, "2025-12-01T00:00:00+00:00"),
        (T0 + 1_000, "2025-12-01T00:00:00.000001+00:00"),
        (T0 + 59_999_999_999, "2025-12-01T00:00:59.999999+00:00"),
    ],
)
def test_timestamps(unix_ns: int, text: str) -> None:
    assert runevent.timestamp(unix_ns) == text


NODES = [
    Node(span_id="00000000000000aa"),
    Node(
        span_id="00000000000000ab", parent_id="00000000000000aa", kind="llm", start_ns=T0,
        end_ns=T0 + 5, name="n", model="m", usage=Usage(5, None, 0, None), error_type="E",
        error_message="msg ✓", user_id="u", session_id="s", service="svc",
        environment="env", release="1",
    ),
]  # fmt: skip


@pytest.mark.parametrize("node", NODES)
def test_node_json_round_trip(node: Node) -> None:
    text = encode_node(node)
    assert decode_node(text) == node
    assert json.loads(text)  # valid JSON


def test_nodes_of_plain_spans_keep_only_ancestry() -> None:
    parsed = spans.parse(make_request([make_span(1, 2, 1, {"http.request.method": "GET"})]))
    (node,) = parsed.traces[f"{1:032x}"]
    assert node == Node(
        span_id=f"{2:016x}", parent_id=f"{1:016x}", start_ns=T0, end_ns=T0 + 1_500_000_000
    )


@pytest.mark.parametrize(
    ("span", "reason"),
    [
        (make_span(0, 1), "trace id"),
        (make_span(1, 0), "span id"),
        (make_span(1, 1, start_ns=T0, end_ns=T0 - 1), "ends before it starts"),
    ],
)
def test_unusable_spans_are_rejected_with_a_reason(span: object, reason: str) -> None:
    good = make_span(5, 5)
    parsed = spans.parse(make_request([span, good]))  # type: ignore[list-item]
    assert (parsed.accepted, parsed.rejected) == (1, 1)
    assert reason in parsed.reason
