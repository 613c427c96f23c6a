"""The Postgres-backed part of ``/metrics``: business totals and alert states, cached.

One snapshot (REPEATABLE READ READ ONLY) reads the cumulative figures
(``api.business``) and the alert states (``alerts.exposition``). The result is reused
for ``metrics_cache_s`` seconds and concurrent scrapes share one read, so scraping
stays cheap whatever the volume. If a read fails or times out, the last good figures
are served (and nothing when there are none yet); ``runtally_backend_up`` already says
whether Postgres answered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from runtally.alerts.exposition import AlertCollector, AlertFigures, read_alert_figures
from runtally.api.business import PairTotals, read_totals
from runtally.config import Settings
from runtally.store.protocols import Pool

log = logging.getLogger("runtally.api")
READ_TIMEOUT_S = 5.0


class BusinessCollector(Collector):
    """``runtally_runs_total``, ``runtally_tokens_total``, ``runtally_cost_usd_total``."""

    def __init__(self, totals: list[PairTotals]) -> None:
        self.totals = totals

    def collect(self) -> Iterator[Metric]:
        pair = ["project", "agent", "model"]
        runs = CounterMetricFamily(
            "runtally_runs", "runs stored, all time", labels=[*pair, "status"]
        )
        tokens = CounterMetricFamily(
            "runtally_tokens", "tokens of stored runs, all time", labels=[*pair, "kind"]
        )
        cost = CounterMetricFamily(
            "runtally_cost_usd", "cost of stored runs, all time", labels=pair
        )
        for t in self.totals:
            key = [t.project, t.agent, t.model]
            runs.add_metric([*key, "success"], t.successes)
            runs.add_metric([*key, "error"], t.failures)
            for kind, count in t.tokens.items():
                tokens.add_metric([*key, kind], count)
            cost.add_metric(key, float(t.cost_usd))
        yield from (runs, tokens, cost)


@dataclass(frozen=True)
class Figures:
    totals: list[PairTotals]
    alerts: AlertFigures


async def read_figures(pool: Pool, settings: Settings, now: datetime) -> Figures:
    async with (
        pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        totals = await read_totals(conn, now, settings.metrics_max_pairs)
        alerts = await read_alert_figures(conn)
    return Figures(totals, alerts)


class FiguresCache:
    """The last figures read and when; one read at a time."""

    def __init__(self) -> None:
        self.figures: Figures | None = None
        self.read_at = float("-inf")
        self.lock = asyncio.Lock()

    async def get(self, pool: Pool, settings: Settings) -> Figures | None:
        async with self.lock:
            if time.monotonic() - self.read_at < settings.metrics_cache_s:
                return self.figures
            try:
                now = datetime.now(UTC)
                read = read_figures(pool, settings, now)
                self.figures = await asyncio.wait_for(read, READ_TIMEOUT_S)
                self.read_at = time.monotonic()
            except Exception as exc:  # stale figures (or none) beat a failed scrape
                log.warning("metrics: business figures not read: %s: %s", type(exc).__name__, exc)
            return self.figures


async def collectors(app_state: Any, pool: Pool, settings: Settings) -> list[Collector]:
    """The business and alert collectors for this scrape (from ``app_state``'s cache)."""
    cache: FiguresCache | None = getattr(app_state, "figures_cache", None)
    if cache is None:
        cache = app_state.figures_cache = FiguresCache()
    figures = await cache.get(pool, settings)
    if figures is None:
        return []
    return [BusinessCollector(figures.totals), AlertCollector(figures.alerts)]
