"""Reprice rollup rows past raw retention from their own sums, a bucket per transaction.

For a bucket whose raw runs are gone, the full-key rows (dims = FULL) are repriced by
``plan.reprice_tally`` and every grouping-set row is derived again from them
(``cube``), replacing the bucket's rows in one transaction under the rollup's own
advisory lock for that bucket, so a rollup of the same bucket never interleaves. The
result is a function of the stored sums and the table, so running it twice changes
nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from runtally.cube import FULL, GroupKey, cube
from runtally.grid import DAY, HOUR, QUARTER
from runtally.pricing import PriceTable
from runtally.reprice.plan import ModelFilter, changed, reprice_tally
from runtally.reprice.report import Report
from runtally.rollup.rows import lock_key, read_rows, replace_rows
from runtally.rollup.zones import mark_zone_days
from runtally.store.protocols import Connection
from runtally.tally import Tally

# (table, advisory-lock kind of its rollup, bucket width). Quarter-hour rows are written
# by the hourly rollup, under its lock on their hour.
LEVELS = (
    ("rollup_hourly", "hour", HOUR),
    ("rollup_daily", "day", DAY),
    ("rollup_q15", "hour", QUARTER),
)


@dataclass(frozen=True)
class RollupJob:
    """Rollup buckets in ``[start, end)`` of every level, repriced with ``table``."""

    start: datetime
    end: datetime
    table: PriceTable
    models: ModelFilter
    apply: bool


def reprice_bucket(
    job: RollupJob, full: dict[GroupKey, Tally], report: Report
) -> dict[GroupKey, Tally] | None:
    """The bucket's full-key tallies repriced (``None`` when no cost changes) (pure)."""
    out: dict[GroupKey, Tally] = {}
    any_change = False
    for key, tally in full.items():
        out[key] = tally
        if not job.models.matches(key.model):
            continue
        priced = reprice_tally(job.table, key, tally)
        if priced.left_because is not None:
            report.leave(priced.left_because, priced.repriceable_runs)
            continue
        new = priced.tally
        is_changed = changed(tally.cost_usd, new.cost_usd) or (
            tally.unpriced_runs != new.unpriced_runs
        )
        old_cost, new_cost = (
            tally.cost_usd - tally.event_cost_usd,
            new.cost_usd - new.event_cost_usd,
        )
        report.line(key.model).add(priced.repriceable_runs, old_cost, new_cost, is_changed)
        any_change = any_change or is_changed or tally.price_versions != new.price_versions
        out[key] = new
    return out if any_change else None


async def _buckets(
    conn: Connection, table: str, start: datetime, end: datetime
) -> list[tuple[str, datetime]]:
    rows = await conn.fetch(
        f"SELECT DISTINCT project, bucket FROM {table} "
        f"WHERE dims = {FULL} AND bucket >= $1 AND bucket < $2 ORDER BY bucket, project",
        start,
        end,
    )
    return [(row["project"], row["bucket"]) for row in rows]


async def _one_bucket(
    conn: Connection,
    job: RollupJob,
    level: tuple[str, str, timedelta],
    bucket: tuple[str, datetime],
    report: Report,
) -> None:
    table, kind, width = level
    project, start = bucket
    async with conn.transaction():
        # A quarter's lock is its hour's (UTC buckets: the hour is the quarter's minute 0).
        locked = start.replace(minute=0) if kind == "hour" else start
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(kind, project, locked))
        full = await read_rows(conn, table, project, start, start + width)
        repriced = reprice_bucket(job, full, report)
        if repriced is not None and job.apply:
            await replace_rows(conn, table, project, start, start + width, cube(repriced))
            if kind == "hour":  # local days are merged from hourly and quarter-hour rows
                await mark_zone_days(conn, project, [locked])


async def reprice_rollups(conn: Connection, job: RollupJob, report: Report) -> int:
    """Reprice every bucket of both levels in ``[job.start, job.end)``; returns buckets.

    ``report`` counts the hourly rows (each run once); the daily and quarter-hour rows
    hold the same runs.
    """
    done = 0
    for level in LEVELS:
        counted = report if level is LEVELS[0] else Report(report.version, report.applied)
        for bucket in await _buckets(conn, level[0], job.start, job.end):
            await _one_bucket(conn, job, level, bucket, counted)
            done += 1
    return done
