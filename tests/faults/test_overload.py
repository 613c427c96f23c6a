"""Overload: publishers 3x faster than ingest for 60 s. The stream absorbs the burst, the
backlog is visible in /metrics while it lasts, and ingest catches up with nothing lost.

Ingest is throttled on purpose (tiny batches, one store at a time) and its drain rate R
is measured first, so "3x faster" holds on any machine. Catching up is done the way an
operator would: by starting a second, normally configured ingest process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from runtally.api.app import create_app
from runtally.config import Settings
from runtally.devstack.children import Child, stop_all
from runtally.sdk.publisher import Publisher
from tests.ingest_support import assert_exactly, event_dict, ingest_env, row_count, wait_until

pytestmark = pytest.mark.faults

OVERLOAD_S = 60.0
TICK_S = 0.1


@pytest.fixture
async def metrics(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


async def scrape(client: httpx.AsyncClient) -> dict[str, float]:
    """The pipeline gauges and counters, by sample name (group label dropped)."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[sample.name] = sample.value
    return out


async def backlog(client: httpx.AsyncClient) -> float:
    values = await scrape(client)
    return values["runtally_consumer_group_lag"] + values["runtally_consumer_group_pending"]


async def publish_at(pub: Publisher, events: list[dict[str, Any]], rate: float) -> None:
    """Publish ``events`` at ``rate`` per second, in ticks of ``TICK_S``."""
    per_tick = max(1, round(rate * TICK_S))
    start = time.monotonic()
    for n, i in enumerate(range(0, len(events), per_tick)):
        for event in events[i : i + per_tick]:
            await pub.publish(event)
        delay = start + (n + 1) * TICK_S - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def test_overload_is_absorbed_visible_and_caught_up(
    settings: Settings,
    redis_client: aioredis.Redis,
    pool: Any,
    metrics: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    # One throttled consumer: its measured drain rate is the rate the burst must beat.
    slow = Child("slow-ingest", ["ingest", "--processes", "1"], tmp_path / "slow.log")
    fast = Child("fast-ingest", ["ingest"], tmp_path / "fast.log")
    slow.start(ingest_env(settings, RUNTALLY_BATCH_SIZE="4", RUNTALLY_STORE_CONCURRENCY="1"))
    pub = Publisher.from_settings(settings)
    published: list[dict[str, Any]] = []
    try:
        # 1. the throttled ingest's drain rate R
        probe = [event_dict(i, datetime.now(UTC)) for i in range(1500)]
        await publish_at(pub, probe, 1e9)
        await pub.flush(30)
        published += probe
        began = time.monotonic()
        await wait_until(lambda: _stored(pool, len(published)), 120, "the probe batch")
        rate = len(probe) / (time.monotonic() - began)

        # 2. publish at 3R for OVERLOAD_S, watching the backlog in /metrics
        burst = [event_dict(i, datetime.now(UTC)) for i in range(round(3 * rate * OVERLOAD_S))]
        sender = asyncio.create_task(publish_at(pub, burst, 3 * rate))
        seen: list[float] = []
        while not sender.done():
            seen.append(await backlog(metrics))
            await asyncio.sleep(2)
        await sender
        await pub.flush(60)
        published += burst
        assert pub.stats()["dropped"] == 0
        print(f"ingest {rate:.0f}/s, published {len(burst)} at {3 * rate:.0f}/s, "
              f"peak backlog in /metrics {max(seen):.0f}")  # fmt: skip
        assert max(seen) > rate, f"backlog never showed in /metrics: {seen}"
        assert slow.exit_code() is None, slow.log_tail()

        # 3. scale out: a second ingest catches up; nothing lost, nothing doubled
        fast.start(ingest_env(settings))
        await wait_until(lambda: _stored(pool, len(published)), 180, "ingest to catch up")
        await wait_until(lambda: _backlog_zero(metrics), 30, "the backlog to clear")
        await assert_exactly(pool, published)
        final = await scrape(metrics)
        assert final["runtally_events_ingested_total"] == len(published)
        assert final["runtally_events_dead_total"] == 0
    finally:
        await pub.aclose()
        codes = stop_all([slow, fast], 20)
        assert codes["slow-ingest"] == 0, slow.log_tail()


async def _stored(pool: Any, count: int) -> bool:
    return await row_count(pool) >= count


async def _backlog_zero(client: httpx.AsyncClient) -> bool:
    return await backlog(client) == 0
