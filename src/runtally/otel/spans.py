"""An OTLP ``ExportTraceServiceRequest`` → the nodes of each trace it carries (pure).

A span is rejected (counted for ``partial_success``, with the first reason) when its
trace id is not 16 bytes or not all zero, its span id not 8 bytes, its parent id
neither empty nor 8 bytes, or its end is before its start. Everything else becomes a
``Node``; spans that are neither agent nor LLM spans keep only their ancestry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from runtally.otel import attributes, vocab
from runtally.otel.model import Node

SERVICE_NAME = "service.name"
ENVIRONMENT_KEYS = ("deployment.environment.name", "deployment.environment")
RELEASE = "service.version"
UNKNOWN_SERVICE = "unknown_service"  # what OTel SDKs report when service.name is unset


@dataclass
class Parsed:
    """Nodes per trace id (hex), and what was rejected."""

    traces: dict[str, list[Node]] = field(default_factory=dict)
    accepted: int = 0
    rejected: int = 0
    reason: str = ""

    def reject(self, reason: str) -> None:
        self.rejected += 1
        self.reason = self.reason or reason


@dataclass(frozen=True)
class Resource:
    """What runs take from the resource that emitted the spans."""

    service: str
    environment: str
    release: str


def value(any_value: AnyValue) -> Any:
    """An attribute value as Python (strings, numbers, booleans, lists; else ``None``)."""
    which = any_value.WhichOneof("value")
    if which == "array_value":
        return [value(v) for v in any_value.array_value.values]
    if which in ("string_value", "bool_value", "int_value", "double_value"):
        return getattr(any_value, which)
    return None


def attribute_map(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: value(kv.value) for kv in pairs}


def resource_of(attrs: Mapping[str, Any]) -> Resource:
    return Resource(
        service=attributes.first_text(attrs, (SERVICE_NAME,)) or UNKNOWN_SERVICE,
        environment=attributes.first_text(attrs, ENVIRONMENT_KEYS),
        release=attributes.first_text(attrs, (RELEASE,)),
    )


def problem(span: Span) -> str:
    """Why ``span`` cannot be used (``""`` when it can)."""
    if len(span.trace_id) != 16 or not any(span.trace_id):
        return "span with a trace id that is not 16 bytes (or is all zero)"
    if len(span.span_id) != 8 or not any(span.span_id):
        return "span with a span id that is not 8 bytes (or is all zero)"
    if len(span.parent_span_id) not in (0, 8):
        return "span with a parent span id that is not 8 bytes"
    if span.end_time_unix_nano < span.start_time_unix_nano:
        return "span that ends before it starts"
    return ""


def node(span: Span, resource: Resource) -> Node:
    """The node of a valid ``span`` emitted by ``resource``."""
    attrs = attribute_map(span.attributes)
    kind = vocab.span_kind(attrs)
    base = Node(
        span_id=span.span_id.hex(),
        parent_id=span.parent_span_id.hex() if any(span.parent_span_id) else "",
        kind=kind,
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano,
    )
    if not kind:
        return base
    return _genai_node(base, span, attrs, resource)


def _genai_node(base: Node, span: Span, attrs: Mapping[str, Any], resource: Resource) -> Node:
    exceptions = [attribute_map(e.attributes) for e in span.events if e.name == "exception"]
    failed = span.status.code == Status.STATUS_CODE_ERROR
    error_type, error_message = attributes.error(failed, attrs, span.status.message, exceptions)
    name = vocab.agent_name(attrs, span.name) if base.kind == "agent" else ""
    return Node(
        span_id=base.span_id,
        parent_id=base.parent_id,
        kind=base.kind,
        start_ns=base.start_ns,
        end_ns=base.end_ns,
        name=name or attributes.first_text(attrs, (vocab.GENAI_AGENT_NAME,)),
        model=attributes.model(attrs),
        usage=attributes.usage(attrs),
        error_type=error_type,
        error_message=error_message,
        user_id=attributes.user_id(attrs),
        session_id=attributes.session_id(attrs),
        service=resource.service,
        environment=resource.environment,
        release=resource.release,
    )


def parse(request: ExportTraceServiceRequest) -> Parsed:
    """Group the request's spans by trace, as nodes; count and explain the rejected."""
    parsed = Parsed()
    for resource_spans in request.resource_spans:
        resource = resource_of(attribute_map(resource_spans.resource.attributes))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                reason = problem(span)
                if reason:
                    parsed.reject(reason)
                    continue
                parsed.traces.setdefault(span.trace_id.hex(), []).append(node(span, resource))
                parsed.accepted += 1
    return parsed
