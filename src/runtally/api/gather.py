"""The exact read path: every part of a selection's range from one snapshot.

Call inside the request's REPEATABLE READ READ ONLY transaction, so markers, rollups and
raw rows describe the same moment. ``gather`` reads the dirty markers, plans the range
(``planner.plan``) and returns ``(GroupKey, Tally)`` parts from ``rollup_daily``,
``rollup_hourly``, trimmed hours (``edges``) and raw rows; callers fold them
(``parts.fold``). Parts are grouped by only the key columns a caller needs (a grouping
set of ``runtally.cube``): a 30-day summary merges about one row per day, not one per
(agent, model, error type, day).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from runtally.api.edges import trimmed_parts
from runtally.api.parts import Part
from runtally.api.planner import HOUR, Plan, floor_to, plan
from runtally.api.rollups import dirty_markers, rollup_parts
from runtally.cube import FULL
from runtally.store.aggregate import aggregate_raw
from runtally.store.protocols import Connection
from runtally.store.selection import Selection


async def raw_parts(
    conn: Connection,
    selection: Selection,
    intervals: Iterable[tuple[datetime, datetime]],
    bucket: str | None,
    distinct: bool = True,
    dims: int = FULL,
) -> list[Part]:
    """Raw rows of each interval, aggregated in SQL (one scan per interval)."""
    parts: list[Part] = []
    for start, end in intervals:
        found = await aggregate_raw(
            conn, selection.during(start, end), bucket=bucket, distinct=distinct, dims=dims
        )
        parts.extend(found.items())
    return parts


async def gather(
    conn: Connection,
    selection: Selection,
    granularity: str | None = None,
    distinct: bool = True,
    group_by: str | tuple[str, ...] | None = None,
) -> tuple[Plan, list[Part]]:
    """All parts of ``selection``: clean days and hours from rollups, the rest from raw rows.

    ``granularity`` ``"hour"`` keeps every part within one hour (no daily rows);
    ``"day"`` or ``None`` allow daily rows. Raw parts are bucketed by ``granularity``
    (``None``: one part per group and interval). Part buckets are UTC hour or day starts
    except for ``granularity=None`` raw parts, whose bucket is their interval start;
    trimmed parts (``api.edges``) are bucketed at their hour.
    Parts are grouped by ``group_by`` (key columns, or ``None``) and the columns
    ``selection`` filters on; their other key columns are ''.
    """
    dims = selection.dims(group_by)
    dirty_hours, dirty_days = await dirty_markers(conn, selection)
    segments = plan(selection.start, selection.end, dirty_hours, dirty_days, granularity != "hour")
    trim_hours = {floor_to(start, HOUR) for start, _ in segments.trimmed}
    parts = await rollup_parts(conn, "rollup_daily", selection, segments.daily, distinct, dims)
    hourly = await rollup_parts(
        conn, "rollup_hourly", selection, segments.hourly + sorted(trim_hours), distinct, dims
    )
    parts += [part for part in hourly if part[0].bucket not in trim_hours]
    trim_rows = [part for part in hourly if part[0].bucket in trim_hours]
    parts += await trimmed_parts(conn, selection, segments.trimmed, trim_rows, distinct, dims)
    parts += await raw_parts(conn, selection, segments.raw, granularity, distinct, dims)
    return segments, parts
