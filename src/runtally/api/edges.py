"""Trimmed hours: most of a clean hour, answered as its rollup minus the rest of it.

A range edge that cuts a clean hour needs the runs of the part inside the range. When
that part is over half the hour, reading the rest of the hour is cheaper: counts, sums,
tokens, cost and latency bins are the hour's rollup row minus an ``aggregate_raw`` of the
rest; min/max and the distinct sketches cannot be subtracted, so one light scan of the
part (``extremes``: no bins, no sums) supplies them. Exact in one snapshot: a clean
hour's rollup rows describe exactly its raw rows (``planner``).

A dashboard asking for "the last 30 days" cuts the hour 30 days ago a few minutes in:
the trimmed form reads those few minutes instead of the rest of that hour.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from runtally.api.parts import Part
from runtally.api.planner import HOUR, floor_to
from runtally.cube import GroupKey
from runtally.store.aggregate import aggregate_raw, extremes
from runtally.store.protocols import Connection
from runtally.store.selection import Selection
from runtally.tally import Tally

Cells = tuple[str, str, str]


class Inconsistent(RuntimeError):
    """A clean hour's rollup rows do not contain its raw rows (never in one snapshot)."""


def _cells(key: GroupKey) -> Cells:
    return key.agent, key.model, key.error_type


async def trimmed_parts(
    conn: Connection,
    selection: Selection,
    intervals: Iterable[tuple[datetime, datetime]],
    hourly: Iterable[Part],
    distinct: bool,
    dims: int,
) -> list[Part]:
    """Parts of each interval (inside one clean hour) bucketed at the hour's start.

    ``hourly`` holds the rollup parts of those hours at grouping set ``dims`` (with the
    filters of ``selection``); they are consumed (their tallies are modified).
    """
    by_hour: dict[datetime, dict[Cells, Tally]] = {}
    for key, tally in hourly:
        by_hour.setdefault(key.bucket, {})[_cells(key)] = tally
    parts: list[Part] = []
    for start, end in intervals:
        hour = floor_to(start, HOUR)
        rows = by_hour.get(hour, {})
        remaining = await _subtract_rest(conn, selection, hour, (start, end), rows, dims)
        found = await extremes(conn, selection.during(start, end), distinct, dims)
        if set(found) != set(remaining):
            raise Inconsistent(f"hour {hour.isoformat()}: rollup and raw rows differ")
        for cells, tally in remaining.items():
            edge = found[cells]
            tally.duration_min, tally.duration_max = edge.duration_min, edge.duration_max
            tally.users = [edge.users] if edge.users else []
            tally.sessions = [edge.sessions] if edge.sessions else []
            parts.append((GroupKey(hour, *cells, dims), tally))
    return parts


async def _subtract_rest(
    conn: Connection,
    selection: Selection,
    hour: datetime,
    part: tuple[datetime, datetime],
    rows: dict[Cells, Tally],
    dims: int,
) -> dict[Cells, Tally]:
    """``hour``'s tallies minus those of its raw rows outside ``part``; groups left
    without runs are dropped."""
    start, end = part
    for a, b in ((hour, start), (end, hour + HOUR)):
        if a >= b:
            continue
        rest = await aggregate_raw(
            conn, selection.during(a, b), bucket=None, distinct=False, dims=dims
        )
        for key, tally in rest.items():
            if _cells(key) not in rows:
                raise Inconsistent(f"hour {hour.isoformat()}: raw rows missing from its rollup")
            rows[_cells(key)].subtract(tally)
    if any(tally.runs < 0 for tally in rows.values()):
        raise Inconsistent(f"hour {hour.isoformat()}: more raw rows than its rollup counts")
    return {cells: tally for cells, tally in rows.items() if tally.runs > 0}
