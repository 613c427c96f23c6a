"""Reprice raw runs in bounded batches, each in its own transaction with its dirty marks.

A batch reads up to ``batch_rows`` runs of one project in ``(started_at, event_id)``
order after a cursor, prices them with the current table, and in ONE transaction
updates the runs whose cost or version differs and marks the hours whose costs changed
dirty (so the next rollup recomputes them, and their days). Repricing is a function of
the run and the table, so a reprice killed between batches and run again ends in the
same state: the batches already done are found unchanged the second time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from runtally.constants import RETENTION_LOCK
from runtally.pricing import PriceTable
from runtally.reprice.plan import ModelFilter, changed
from runtally.reprice.report import Report
from runtally.store.dirty import mark_hours
from runtally.store.protocols import Connection
from runtally.store.writes import hour_of

_SELECT = """
SELECT event_id, started_at, model, input_tokens, output_tokens, cache_read_tokens,
       cache_write_tokens, cost_usd, price_version
FROM agent_runs
WHERE project = $1 AND started_at >= $2 AND started_at < $3
  AND cost_source IS DISTINCT FROM 'event' {after}
ORDER BY started_at, event_id LIMIT $4
"""
FIRST_SQL = _SELECT.format(after="")
NEXT_SQL = _SELECT.format(after="AND (started_at, event_id) > ($5, $6)")
# Rows are immutable once stored, but never overwrite a carried cost, whatever happens.
# RETURNING: the hours to mark dirty are those of rows really updated (a partition may
# have been dropped since they were read).
UPDATE_SQL = """
UPDATE agent_runs r
SET cost_usd = u.cost, cost_source = u.source, price_version = $6
FROM unnest($1::uuid[], $2::timestamptz[], $3::numeric[], $4::text[], $5::bool[])
     AS u(event_id, started_at, cost, source, dirty)
WHERE r.event_id = u.event_id AND r.started_at = u.started_at
  AND r.cost_source IS DISTINCT FROM 'event'
RETURNING u.started_at, u.dirty
"""
# Held shared while marking hours: retention counts dirty hours and drops partitions
# under it exclusively, so it never drops the rows of an hour marked meanwhile.
RETENTION_SHARED_SQL = "SELECT pg_advisory_xact_lock_shared(hashtext($1))"

AfterBatch = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class RawJob:
    """One project's raw runs in ``[start, end)``, repriced with ``table``."""

    project: str
    start: datetime
    end: datetime
    table: PriceTable
    models: ModelFilter
    batch_rows: int
    apply: bool
    # Hours before this are past raw retention: their rollups are repriced from sums
    # (``rollups``), and a dirty mark there could outlive the rows it points at.
    dirty_from: datetime


@dataclass
class Batch:
    """The updates of one batch; ``dirty``: the cost changed in an hour to re-roll."""

    ids: list[Any]
    started: list[datetime]
    costs: list[Decimal | None]
    dirty: list[bool]


def price_batch(job: RawJob, rows: list[Any], report: Report) -> Batch:
    """The runs of ``rows`` to update, counted into ``report`` (pure)."""
    batch = Batch([], [], [], [])
    for row in rows:
        if not job.models.matches(row["model"]):
            continue
        tokens = (
            row["input_tokens"],
            row["output_tokens"],
            row["cache_read_tokens"],
            row["cache_write_tokens"],
        )
        after = job.table.cost_at(row["model"], row["started_at"], tokens)
        is_changed = changed(row["cost_usd"], after)
        # Runs before the cutoff are counted with their rollup rows (``rollups``).
        current = row["started_at"] >= job.dirty_from
        if current:
            report.line(row["model"]).add(1, row["cost_usd"], after, is_changed)
        if is_changed or row["price_version"] != job.table.version:
            batch.ids.append(row["event_id"])
            batch.started.append(row["started_at"])
            batch.costs.append(after)
            batch.dirty.append(is_changed and current)
    return batch


async def _store(conn: Connection, job: RawJob, batch: Batch) -> None:
    if not batch.ids:
        return
    sources = [None if cost is None else "price_table" for cost in batch.costs]
    async with conn.transaction():
        await conn.execute(RETENTION_SHARED_SQL, RETENTION_LOCK)
        updated = await conn.fetch(
            UPDATE_SQL, batch.ids, batch.started, batch.costs, sources, batch.dirty,
            job.table.version,
        )  # fmt: skip
        hours = {(job.project, hour_of(row["started_at"])) for row in updated if row["dirty"]}
        await mark_hours(conn, hours)


async def _next_rows(conn: Connection, job: RawJob, cursor: tuple[Any, Any] | None) -> list[Any]:
    if cursor is None:
        return await conn.fetch(FIRST_SQL, job.project, job.start, job.end, job.batch_rows)
    return await conn.fetch(NEXT_SQL, job.project, job.start, job.end, job.batch_rows, *cursor)


async def reprice_raw(
    conn: Connection, job: RawJob, report: Report, after_batch: AfterBatch | None = None
) -> int:
    """Reprice ``job``'s runs batch by batch; returns the number of batches."""
    cursor: tuple[Any, Any] | None = None
    batches = 0
    while rows := await _next_rows(conn, job, cursor):
        batch = price_batch(job, rows, report)
        if job.apply:
            await _store(conn, job, batch)
        batches += 1
        if after_batch is not None:
            await after_batch(batches)
        cursor = (rows[-1]["started_at"], rows[-1]["event_id"])
    return batches
