"""One ``runtally reprice``: rollup rows past raw retention, then raw runs.

Buckets before the retention cutoff (``rollup.maintenance.retention_cutoff``) have lost,
or are about to lose, their raw runs: their rollup rows are repriced from their own
sums. Raw runs still stored are repriced in batches; the hours from the cutoff on whose
costs changed are marked dirty, so the next rollup makes every answer agree. One reprice
runs at a time (a session advisory lock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from runtally.constants import REPRICE_LOCK
from runtally.errors import UserError
from runtally.pricing import PriceTable
from runtally.reprice.plan import ModelFilter, Window
from runtally.reprice.raw import AfterBatch, RawJob, reprice_raw
from runtally.reprice.report import Report
from runtally.reprice.rollups import RollupJob, reprice_rollups
from runtally.rollup.maintenance import retention_cutoff
from runtally.store.protocols import Connection

PROJECTS_SQL = """
SELECT project FROM rollup_hourly WHERE dims = 0
UNION SELECT project FROM rollup_dirty ORDER BY 1
"""
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Options:
    """What to reprice and how: ``apply=False`` is a dry run."""

    window: Window
    apply: bool
    batch_rows: int
    raw_retention_days: int


async def reprice(
    conn: Connection,
    table: PriceTable,
    options: Options,
    now: datetime,
    after_batch: AfterBatch | None = None,
) -> Report:
    """Reprice what ``options`` selects with ``table``; the report of what it found."""
    if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", REPRICE_LOCK):
        raise UserError("another runtally reprice is running; try again when it is done")
    try:
        return await _reprice(conn, table, options, now, after_batch)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", REPRICE_LOCK)


async def _reprice(
    conn: Connection,
    table: PriceTable,
    options: Options,
    now: datetime,
    after_batch: AfterBatch | None,
) -> Report:
    report = Report(table.version, options.apply)
    window, models = options.window, ModelFilter(options.window.model, table)
    cutoff = retention_cutoff(now, options.raw_retention_days)
    old_start, old_end = window.clip(_EARLIEST, cutoff)
    if old_start < old_end:
        job = RollupJob(old_start, old_end, table, models, options.apply)
        await reprice_rollups(conn, job, report)
    for row in await conn.fetch(PROJECTS_SQL):
        raw = RawJob(
            row["project"], window.start, window.end, table, models,
            options.batch_rows, options.apply, cutoff,
        )  # fmt: skip
        await reprice_raw(conn, raw, report, after_batch)
    return report
