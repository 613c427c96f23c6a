"""Prometheus figures of one ingest process (served on ``settings.metrics_port`` when set).

Each ``IngestMetrics`` has its own registry, so several workers in one process (tests,
benchmarks) do not collide. Pipeline-wide figures (stream lag, totals across workers)
are served by the API's ``/metrics``; these are the per-process ones.
"""

from __future__ import annotations

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


class IngestMetrics:
    """Counters, gauges and the batch latency histogram of this process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.stored = Counter(
            "runtally_ingest_events_stored", "Rows newly stored by this process", registry=r
        )
        self.duplicates = Counter(
            "runtally_ingest_duplicates",
            "Entries whose event was already stored (redeliveries, re-publishes)",
            registry=r,
        )
        self.dead = Counter(
            "runtally_ingest_dead_lettered",
            "Entries moved to the dead-letter stream, by reason kind",
            ["kind"],
            registry=r,
        )
        self.batches = Counter("runtally_ingest_batches", "Batches committed", registry=r)
        self.batch_seconds = Histogram(
            "runtally_ingest_batch_seconds",
            "Time from a batch closing to its acknowledgement",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.retries = Counter(
            "runtally_ingest_retries",
            "Retries after a failure, by edge (postgres, redis) or row isolation",
            ["edge"],
            registry=r,
        )
        self.claimed = Counter(
            "runtally_ingest_claimed", "Idle entries taken over from other consumers", registry=r
        )
        self.trimmed = Counter(
            "runtally_ingest_trimmed", "Entries trimmed from the stream", registry=r
        )
        self.lag = Gauge(
            "runtally_ingest_stream_lag", "Entries not yet delivered to the group", registry=r
        )
        self.pending = Gauge(
            "runtally_ingest_group_pending", "Entries delivered but not acknowledged", registry=r
        )

    def serve(self, port: int) -> None:
        """Serve ``/metrics`` on ``port`` from a background thread."""
        start_http_server(port, registry=self.registry)
