"""Helpers of the OTLP intake tests: OTLP protobuf spans and requests built by hand."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, Status

T0 = 1_764_547_200_000_000_000  # 2025-12-01T00:00:00Z in unix ns


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


def key_values(attrs: Mapping[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in attrs.items()]


def trace_bytes(trace: int) -> bytes:
    return trace.to_bytes(16, "big")


def span_bytes(span: int) -> bytes:
    return span.to_bytes(8, "big")


def make_span(
    trace: int,
    span: int,
    parent: int | None = None,
    attrs: Mapping[str, Any] | None = None,
    *,
    name: str = "span",
    start_ns: int = T0,
    end_ns: int | None = None,
    error: str | None = None,
    exception: Mapping[str, Any] | None = None,
) -> Span:
    """A span; ``error`` (a status message) makes its status ERROR."""
    made = Span(
        trace_id=trace_bytes(trace),
        span_id=span_bytes(span),
        parent_span_id=span_bytes(parent) if parent else b"",
        name=name,
        start_time_unix_nano=start_ns,
        end_time_unix_nano=end_ns if end_ns is not None else start_ns + 1_500_000_000,
        attributes=key_values(attrs or {}),
    )
    if error is not None:
        made.status.code = Status.STATUS_CODE_ERROR
        made.status.message = error
    if exception is not None:
        made.events.add(name="exception", attributes=key_values(exception))
    return made


def make_request(
    spans: Sequence[Span], resource: Mapping[str, Any] | None = None
) -> ExportTraceServiceRequest:
    """One resource (``service.name`` ``svc`` unless given) holding ``spans``."""
    resource_spans = ResourceSpans()
    resource_spans.resource.attributes.extend(key_values(resource or {"service.name": "svc"}))
    resource_spans.scope_spans.add().spans.extend(spans)
    return ExportTraceServiceRequest(resource_spans=[resource_spans])
