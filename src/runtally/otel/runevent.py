"""A run → a run event in wire format v1 (pure).

``event_id`` is a UUIDv5 of (project, trace id, span id): the same span, exported any
number of times, always makes the same event, which ingest stores once.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from runtally.otel.model import Usage
from runtally.otel.tree import Run

# A fixed namespace for runtally's OTLP event ids (uuid5 of a name under it).
EVENT_NAMESPACE = uuid.UUID("6f1d6b0e-3c52-5b7a-9a57-0a9e4f3c2d11")
SOURCE = "otlp"


def event_id(project: str, trace_id: str, span_id: str) -> str:
    """The deterministic event id of the run of span ``span_id`` in ``trace_id``."""
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{project}/{trace_id}/{span_id}"))


def timestamp(unix_ns: int) -> str:
    """RFC 3339 UTC text with microseconds (what the wire format keeps)."""
    seconds, nanos = divmod(unix_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=nanos // 1000)
    return moment.isoformat()


def _tokens(usage: Usage) -> dict[str, int]:
    names = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
    return {name: n for name, n in zip(names, usage.as_tuple(), strict=True) if n is not None}


def _optional(run: Run) -> dict[str, Any]:
    span = run.span
    fields: dict[str, Any] = {"user_id": span.user_id, "session_id": span.session_id}
    if span.error_type:
        fields.update(status="error", error_type=span.error_type)
        fields["error_message"] = span.error_message
    tags = {"environment": span.environment, "release": span.release}
    fields["tags"] = {key: text for key, text in tags.items() if text}
    return {key: item for key, item in fields.items() if item}


def event(run: Run, project: str, trace_id: str) -> dict[str, Any]:
    """The wire-format event of ``run`` (validation is ingest's, as for any publisher)."""
    span = run.span
    return {
        "event_id": event_id(project, trace_id, span.span_id),
        "project": project,
        "agent": run.agent,
        "model": run.model,
        "started_at": timestamp(span.start_ns),
        "ended_at": timestamp(span.end_ns),
        "trace_id": trace_id,
        **_tokens(run.usage),
        **_optional(run),
        "metadata": {"source": SOURCE, "span_id": span.span_id, "llm_calls": run.llm_calls},
    }


def wire(run: Run, project: str, trace_id: str) -> str:
    """``event`` as the compact JSON text a stream entry's ``data`` field holds."""
    return json.dumps(event(run, project, trace_id), separators=(",", ":"), ensure_ascii=False)
