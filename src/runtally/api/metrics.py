"""``/metrics``: Prometheus figures about the pipeline, computed at scrape time.

``read_stats`` gathers a ``PipelineStats`` snapshot from Redis (stream lengths, consumer
group lag and pending entries, the ingest worker's counters in the ``settings.stats_key``
hash) and Postgres (dirty markers). ``PipelineCollector`` turns a snapshot into metric
families (pure, so it is tested without servers). A backend that cannot be reached is
reported as ``runtally_backend_up{backend=...} 0`` and its figures are left out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis

from runtally.config import Settings
from runtally.store.protocols import Pool

TIMEOUT_S = 2.0


@dataclass(frozen=True)
class GroupStats:
    name: str
    consumers: int
    pending: int
    lag: int | None  # entries not yet delivered to the group (None: Redis cannot tell)


@dataclass(frozen=True)
class PipelineStats:
    redis_up: bool = False
    postgres_up: bool = False
    ingested: int | None = None
    dead: int | None = None
    stream_length: int | None = None
    dead_stream_length: int | None = None
    groups: list[GroupStats] = field(default_factory=list)
    dirty_hours: int | None = None
    oldest_dirty_age_s: float | None = None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _int(value: Any) -> int:
    return int(_text(value)) if value is not None else 0


async def _redis_stats(redis: Redis, settings: Settings) -> dict[str, Any]:
    # redis-py types hmget as sync-or-async for every client; this one is async.
    counters = await redis.hmget(settings.stats_key, ["ingested", "dead"])  # type: ignore[misc]
    groups: list[GroupStats] = []
    if await redis.exists(settings.stream):
        for info in await redis.xinfo_groups(settings.stream):
            info = {_text(k): v for k, v in info.items()}
            lag = info.get("lag")
            groups.append(
                GroupStats(
                    name=_text(info["name"]),
                    consumers=_int(info.get("consumers")),
                    pending=_int(info.get("pending")),
                    lag=_int(lag) if lag is not None else None,
                )
            )
    return {
        "redis_up": True,
        "ingested": _int(counters[0]),
        "dead": _int(counters[1]),
        "stream_length": await redis.xlen(settings.stream),
        "dead_stream_length": await redis.xlen(settings.dead_stream),
        "groups": groups,
    }


async def _postgres_stats(pool: Pool) -> dict[str, Any]:
    async with pool.acquire() as conn:
        (row,) = await conn.fetch(
            "SELECT count(*) AS n, extract(epoch FROM now() - min(dirtied_at)) AS age"
            " FROM rollup_dirty"
        )
    age = row["age"]
    return {
        "postgres_up": True,
        "dirty_hours": row["n"],
        "oldest_dirty_age_s": float(age) if age is not None else 0.0,
    }


async def read_stats(redis: Redis, pool: Pool, settings: Settings) -> PipelineStats:
    """One snapshot; each backend is asked with a timeout and may be down."""
    found: dict[str, Any] = {}
    for probe in (_redis_stats(redis, settings), _postgres_stats(pool)):
        try:
            found.update(await asyncio.wait_for(probe, TIMEOUT_S))
        except Exception:  # a down backend is a figure (backend_up 0), not an error
            continue
    return PipelineStats(**found)


class PipelineCollector(Collector):
    """Yields the metric families of one ``PipelineStats`` snapshot."""

    def __init__(self, stats: PipelineStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        up = GaugeMetricFamily(
            "runtally_backend_up", "1 when the backend answered this scrape", labels=["backend"]
        )
        up.add_metric(["redis"], float(s.redis_up))
        up.add_metric(["postgres"], float(s.postgres_up))
        yield up
        if s.ingested is not None:
            yield CounterMetricFamily(
                "runtally_events_ingested", "run events stored by ingest", value=s.ingested
            )
        if s.dead is not None:
            yield CounterMetricFamily(
                "runtally_events_dead", "entries dead-lettered by ingest", value=s.dead
            )
        yield from self._gauges()
        yield from self._groups()

    def _gauges(self) -> Iterator[Metric]:
        s = self.stats
        gauges = (
            ("runtally_stream_length", "entries in the event stream", s.stream_length),
            (
                "runtally_dead_stream_length",
                "entries in the dead-letter stream",
                s.dead_stream_length,
            ),
            ("runtally_dirty_hours", "hours waiting for their rollup", s.dirty_hours),
            (
                "runtally_oldest_dirty_hour_age_seconds",
                "seconds since the longest-waiting dirty hour was marked (0: none)",
                s.oldest_dirty_age_s,
            ),
        )
        for name, doc, value in gauges:
            if value is not None:
                yield GaugeMetricFamily(name, doc, value=value)

    def _groups(self) -> Iterator[Metric]:
        if not self.stats.groups:
            return
        families = {
            "lag": GaugeMetricFamily(
                "runtally_consumer_group_lag", "entries not yet delivered", labels=["group"]
            ),
            "pending": GaugeMetricFamily(
                "runtally_consumer_group_pending", "delivered, not acknowledged", labels=["group"]
            ),
            "consumers": GaugeMetricFamily(
                "runtally_consumer_group_consumers", "consumers in the group", labels=["group"]
            ),
        }
        for group in self.stats.groups:
            if group.lag is not None:
                families["lag"].add_metric([group.name], group.lag)
            families["pending"].add_metric([group.name], group.pending)
            families["consumers"].add_metric([group.name], group.consumers)
        yield from families.values()


def render(stats: PipelineStats, extra: Iterable[Collector] = ()) -> bytes:
    """Prometheus text exposition of ``stats`` and of the ``extra`` collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(stats))
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)
