"""Maintenance: raw partitions ahead, raw retention, dead-letter trimming.

Rollups outlive raw rows: retention drops raw day partitions only; quarter-hour,
hourly and daily rollup rows are all kept (so local days in any zone stay answerable
from rollups after their raw rows are gone). Before dropping,
the dirty hours inside the retention cutoff are rolled up, and if any is still dirty
(held by another scheduler) the drop is postponed to the next run, so no stored run
is dropped before it was counted in the rollups. Ingest refuses events older than
retention, so no new marker appears behind the cutoff afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from redis.asyncio import Redis

from runtally import constants
from runtally.config import Settings
from runtally.rollup.dimensions import Dimensions
from runtally.rollup.hourly import roll_hours
from runtally.rollup.rows import day_start
from runtally.store import partitions
from runtally.store.protocols import Pool

RETENTION_LOCK = constants.RETENTION_LOCK


@dataclass
class Retention:
    """What a retention run did: days dropped, or the number of dirty hours in the way."""

    dropped: list[date] = field(default_factory=list)
    postponed: int = 0


def retention_cutoff(now: datetime, raw_retention_days: int) -> datetime:
    """Raw rows before this UTC midnight are past retention (whole days only)."""
    return day_start(now) - timedelta(days=raw_retention_days)


async def create_partitions_ahead(pool: Pool, settings: Settings, now: datetime) -> list[date]:
    """Create missing raw partitions from the retention cutoff to ``partitions_ahead_days``."""
    first = retention_cutoff(now, settings.raw_retention_days).date()
    last = day_start(now).date() + timedelta(days=settings.partitions_ahead_days)
    async with pool.acquire() as conn:
        created: list[date] = await partitions.ensure_partitions(conn, first, last)
    return created


async def apply_retention(pool: Pool, settings: Settings, now: datetime) -> Retention:
    """Drop raw partitions of days before the cutoff, once their hours are rolled up."""
    cutoff = retention_cutoff(now, settings.raw_retention_days)
    dims = Dimensions.from_settings(settings)
    while (await roll_hours(pool, settings.rollup_batch_hours, cutoff, dims)).progressed:
        pass
    async with pool.acquire() as conn:
        # One dropper at a time; a scheduler that finds the lock taken leaves it to the other.
        # `runtally reprice` marks hours dirty only while holding this lock shared, so the
        # dirty hours counted under it stay all there are until the drop.
        if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", RETENTION_LOCK):
            return Retention()
        try:
            left = await conn.fetchval("SELECT count(*) FROM rollup_dirty WHERE hour < $1", cutoff)
            if left:
                return Retention(postponed=left)
            dropped = await partitions.drop_partitions_before(conn, cutoff.date())
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", RETENTION_LOCK)
    return Retention(dropped=dropped)


def dead_letter_min_id(now: datetime, dead_retention_days: int) -> str:
    """The smallest stream id to keep: entries added before ``now - retention`` go."""
    keep_from = now - timedelta(days=dead_retention_days)
    return f"{int(keep_from.timestamp() * 1000)}-0"


async def trim_dead_letters(redis: Redis, settings: Settings, now: datetime) -> int:
    """Remove dead letters older than ``dead_retention_days``; returns how many went."""
    minid = dead_letter_min_id(now, settings.dead_retention_days)
    removed: int = await redis.xtrim(settings.dead_stream, minid=minid, approximate=False)
    return removed
