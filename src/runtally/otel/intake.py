"""One OTLP export request: parse, stage, decide what can be decided now, answer.

When the call returns, what the request carried is in Redis (as staged spans or as
published events, fsynced to the AOF where Redis can confirm it): the caller may then
answer 200. Redis errors propagate (the route answers 503 and the exporter retries;
staging and publishing are idempotent, so a retry of a half-done request is harmless).
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from runtally.otel import spans
from runtally.otel.staging import Staging


@dataclass(frozen=True)
class Outcome:
    """What became of a request's spans."""

    accepted: int
    rejected: int
    message: str
    published: int

    def response(self) -> ExportTraceServiceResponse:
        """The OTLP answer: ``partial_success`` only when some spans were rejected."""
        answer = ExportTraceServiceResponse()
        if self.rejected:
            answer.partial_success.rejected_spans = self.rejected
            answer.partial_success.error_message = self.message
        return answer


async def accept(
    staging: Staging, project: str, request: ExportTraceServiceRequest, now: float
) -> Outcome:
    """Stage ``request``'s spans for ``project``; decide traces whose root came, if no
    settle time is configured (else the sweeper decides them when it has passed)."""
    parsed = spans.parse(request)
    published = 0
    if parsed.traces:
        rooted = await staging.stage(project, parsed.traces, now)
        if staging.settings.otel_settle_s == 0:
            published = await staging.decide(rooted)
    message = ""
    if parsed.rejected:
        message = f"{parsed.rejected} span(s) rejected; the first: {parsed.reason}"
    return Outcome(parsed.accepted, parsed.rejected, message, published)
