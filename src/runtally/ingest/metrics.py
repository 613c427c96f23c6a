"""Prometheus figures of one ingest process (served on ``settings.metrics_port`` when set).

Each ``IngestMetrics`` has its own registry, so several workers in one process (tests,
benchmarks) do not collide. Pipeline-wide figures (stream lag, totals across workers)
are served by the API's ``/metrics``; these are the per-process ones.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


def reason_kind(reason: str) -> str:
    """A low-cardinality label for a dead-letter reason (its text before the first ':')."""
    head = reason.split(":", 1)[0].strip().lower()
    if head.startswith("entry"):
        return "fields"
    if head.startswith("started_at"):
        return "window"
    if head.startswith("delivered"):
        return "deliveries"
    if head.startswith("storage"):
        return "storage"
    return {"invalid event": "invalid", "data is not utf-8": "encoding"}.get(head, "other")


_BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# attribute → (kind, metric name, help, label names)
_SPECS: dict[str, tuple[Callable[..., object], str, str, tuple[str, ...]]] = {
    "stored": (Counter, "events_stored", "Rows newly stored by this process", ()),
    "duplicates": (Counter, "duplicates",
                   "Entries whose event was already stored (redeliveries, re-publishes)", ()),
    "dead": (Counter, "dead_lettered",
             "Entries moved to the dead-letter stream, by reason kind", ("kind",)),
    "batches": (Counter, "batches", "Batches committed", ()),
    "batch_seconds": (partial(Histogram, buckets=_BATCH_BUCKETS), "batch_seconds",
                      "Time from a batch closing to its acknowledgement", ()),
    "retries": (Counter, "retries",
                "Retries after a failure, by edge (postgres, redis) or row isolation", ("edge",)),
    "claimed": (Counter, "claimed", "Idle entries taken over from other consumers", ()),
    "trimmed": (Counter, "trimmed", "Entries trimmed from the stream", ()),
    "lag": (Gauge, "stream_lag", "Entries not yet delivered to the group", ()),
    "pending": (Gauge, "group_pending", "Entries delivered but not acknowledged", ()),
}  # fmt: skip


class IngestMetrics:
    """Counters, gauges and the batch latency histogram of this process (``_SPECS``)."""

    stored: Counter
    duplicates: Counter
    dead: Counter
    batches: Counter
    batch_seconds: Histogram
    retries: Counter
    claimed: Counter
    trimmed: Counter
    lag: Gauge
    pending: Gauge

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        for attr, (kind, name, doc, labels) in _SPECS.items():
            metric = kind(f"runtally_ingest_{name}", doc, labels, registry=self.registry)
            setattr(self, attr, metric)

    def serve(self, port: int) -> None:
        """Serve ``/metrics`` on ``port`` from a background thread."""
        start_http_server(port, registry=self.registry)
