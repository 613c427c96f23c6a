"""The scheduler's units of work, free of arq: each takes an injected pool and clock.

``drain_*`` roll batches until a pass finds nothing more to clear. ``run_pending``
does all pending rollup work once (``runtally rollup``); the ``job_*`` functions are
what the arq cron jobs call with arq's ``ctx`` (``settings``, ``pool``, ``redis``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

from redis.asyncio import Redis

from runtally.alerts.deliver import Poster
from runtally.alerts.engine import run_pass
from runtally.config import Settings
from runtally.rollup import maintenance
from runtally.rollup.daily import roll_days
from runtally.rollup.dimensions import Dimensions
from runtally.rollup.hourly import roll_hours
from runtally.rollup.stats import RollStats
from runtally.rollup.zones import roll_zone_days
from runtally.store.engine import create_pool
from runtally.store.protocols import Pool

log = logging.getLogger("runtally.rollup")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


async def _drain(one_pass: Callable[[], Awaitable[RollStats]], limit: int) -> RollStats:
    """Repeat ``one_pass`` while it fills its batch and clears markers (more may wait)."""
    total = RollStats()
    while True:
        stats = await one_pass()
        total.add(stats)
        if stats.found < limit or not stats.progressed:
            return total


async def drain_hours(pool: Pool, settings: Settings) -> RollStats:
    limit = settings.rollup_batch_hours
    dims = Dimensions.from_settings(settings)
    return await _drain(lambda: roll_hours(pool, limit, dims=dims), limit)


async def drain_days(pool: Pool, settings: Settings) -> RollStats:
    limit = settings.rollup_batch_hours
    dims = Dimensions.from_settings(settings)
    days = await _drain(lambda: roll_days(pool, limit, dims), limit)
    days.add(await _drain(lambda: roll_zone_days(pool, limit, settings.zones), limit))
    return days


@dataclass
class Pending:
    """What ``run_pending`` did, and the markers still dirty when it stopped."""

    hours: RollStats = field(default_factory=RollStats)
    days: RollStats = field(default_factory=RollStats)
    dirty_hours: int = 0
    dirty_days: int = 0

    def summary(self) -> str:
        return (
            f"rolled {self.hours.cleared + self.hours.redirtied} hours, "
            f"{self.days.cleared + self.days.redirtied} days "
            f"({self.hours.rows + self.days.rows} rows); "
            f"still dirty: {self.dirty_hours} hours, {self.dirty_days} days"
        )


async def roll_pending(pool: Pool, settings: Settings) -> Pending:
    """Roll dirty hours, then ready days, until a round clears nothing more."""
    out = Pending()
    while True:
        hours = await drain_hours(pool, settings)
        days = await drain_days(pool, settings)
        out.hours.add(hours)
        out.days.add(days)
        if not (hours.progressed or days.progressed):
            break
    async with pool.acquire() as conn:
        out.dirty_hours = await conn.fetchval("SELECT count(*) FROM rollup_dirty")
        out.dirty_days = await conn.fetchval(
            "SELECT (SELECT count(*) FROM rollup_dirty_day)"
            " + (SELECT count(*) FROM rollup_dirty_zone_day)"
        )
    return out


async def run_pending(settings: Settings) -> Pending:
    """All pending rollup work once, with a pool of its own (for ``runtally rollup``)."""
    pool = await create_pool(settings, min_size=1, max_size=2)
    try:
        return await roll_pending(pool, settings)
    finally:
        await pool.close()


# --- arq job bodies


class JobContext(TypedDict):
    """What arq's ``ctx`` carries for the jobs: ``settings`` (``scheduler.worker_settings``),
    ``pool`` and ``poster`` (``scheduler.startup``), arq's own ``redis`` and, in tests, a
    ``clock``."""

    settings: Settings
    pool: Pool
    redis: Redis
    poster: Poster  # the alerts' webhook client (``scheduler.startup``)
    clock: NotRequired[Clock]


def _clock(ctx: JobContext) -> Clock:
    return ctx.get("clock", utc_now)


async def job_roll_hours(ctx: JobContext) -> dict[str, int]:
    stats = await drain_hours(ctx["pool"], ctx["settings"])
    if stats.found:
        log.info("hourly rollup: %s", stats.as_dict())
    return stats.as_dict()


async def job_roll_days(ctx: JobContext) -> dict[str, int]:
    stats = await drain_days(ctx["pool"], ctx["settings"])
    if stats.found:
        log.info("daily rollup: %s", stats.as_dict())
    return stats.as_dict()


async def job_partitions(ctx: JobContext) -> list[str]:
    created = await maintenance.create_partitions_ahead(ctx["pool"], ctx["settings"], _clock(ctx)())
    if created:
        log.info("created raw partitions for %s", ", ".join(map(str, created)))
    return [str(day) for day in created]


async def job_retention(ctx: JobContext) -> dict[str, Any]:
    settings = ctx["settings"]
    now = _clock(ctx)()
    retention = await maintenance.apply_retention(ctx["pool"], settings, now)
    trimmed = await maintenance.trim_dead_letters(ctx["redis"], settings, now)
    if retention.dropped or retention.postponed or trimmed:
        log.info(
            "retention: dropped %s, postponed for %d dirty hours, %d dead letters trimmed",
            [str(d) for d in retention.dropped],
            retention.postponed,
            trimmed,
        )
    return {
        "dropped": [str(d) for d in retention.dropped],
        "postponed": retention.postponed,
        "trimmed": trimmed,
    }


async def job_alerts(ctx: JobContext) -> dict[str, int]:
    """Evaluate the alert rules due this interval, then deliver (ctx["poster"] POSTs)."""
    settings = ctx["settings"]
    budget = min(settings.alerts_delivery_budget_s, settings.alerts_interval_s / 2)
    stats = await run_pass(ctx["pool"], settings, ctx["poster"], _clock(ctx), budget)
    if stats.rules or stats.sent.delivered or stats.sent.failed:
        log.info("alerts: %s", stats.summary())
    return {"rules": stats.rules, "notices": stats.notices, "delivered": stats.sent.delivered}
