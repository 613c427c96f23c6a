"""``by=user`` / ``by=session``: the top ids by cost, from rollups over any range.

Clean days and hours come from their top-K rows (``rollup_top_daily``/``_hourly``:
each bucket's K ids by cost and an exact remainder), dirty hours and range edges from raw
rows (every id listed, exact), all in the request's snapshot; ``topk.rank`` merges them
and says whether the merged ranking may differ from the exact one, with the bound.
Buckets rolled before top-K rows existed are read raw within retention, else left out
(the note says how many).

The exact path (``api.users``: raw rows, exact percentiles) answers when it is cheap or
the only way: a range of at most ``EXACT_SPAN`` within raw retention, or a selection
with filters (agent, model, tags), clipped to raw retention.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from runtally.api.hourplan import plan
from runtally.api.planner import DAY, HOUR
from runtally.api.rollups import dirty_markers
from runtally.rollup.top_rows import read_top_rows
from runtally.store.protocols import Connection
from runtally.store.selection import Selection
from runtally.store.top import top_ids
from runtally.topk import BucketTop, Ranking, rank

EXACT_SPAN = timedelta(hours=24)


@dataclass
class TopAnswer:
    ranking: Ranking
    note: str | None = None


def exact_path(selection: Selection, cutoff: datetime) -> bool:
    """Whether raw rows answer (filters the top-K rows lack, or a short recent range)."""
    short = selection.end - selection.start <= EXACT_SPAN and selection.start >= cutoff
    return bool(selection.filters or selection.tags) or short


async def _rolled(conn: Connection, table: str, project: str, buckets: list[datetime],
                  kind: str) -> dict[datetime, BucketTop]:  # fmt: skip
    return await read_top_rows(conn, table, project, buckets, kind) if buckets else {}


async def _with_runs(conn: Connection, project: str, buckets: list[datetime]) -> int:
    """How many of ``buckets`` (hours or days) have rollup rows, i.e. runs."""
    if not buckets:
        return 0
    found: int = await conn.fetchval(
        "SELECT (SELECT count(*) FROM rollup_hourly WHERE project = $1 AND dims = 0"
        " AND bucket = ANY($2::timestamptz[]))"
        " + (SELECT count(*) FROM rollup_daily WHERE project = $1 AND dims = 0"
        " AND bucket = ANY($2::timestamptz[]))",
        project,
        buckets,
    )
    return found


async def top_from_rollups(
    conn: Connection, selection: Selection, kind: str, limit: int, cutoff: datetime
) -> TopAnswer:
    """The merged top ``limit`` of ``kind`` over ``selection`` (no filters)."""
    dirty_hours, dirty_days = await dirty_markers(conn, selection)
    segments = plan(selection.start, selection.end, dirty_hours, dirty_days)
    raw = list(segments.raw) + list(segments.trimmed)
    days = await _rolled(conn, "rollup_top_daily", selection.project, segments.daily, kind)
    hours = await _rolled(conn, "rollup_top_hourly", selection.project, segments.hourly, kind)
    buckets = [days[d] for d in segments.daily if d in days]
    buckets += [hours[h] for h in segments.hourly if h in hours]
    missing = [(d, d + DAY) for d in segments.daily if d not in days]
    missing += [(h, h + HOUR) for h in segments.hourly if h not in hours]
    raw += [span for span in missing if span[0] >= cutoff]
    lost = await _with_runs(conn, selection.project, [s for s, _ in missing if s < cutoff])
    for start, end in sorted(raw):
        buckets.append((await top_ids(conn, selection.during(start, end), None, (kind,)))[kind])
    note = f"{lost} bucket(s) before raw retention have no top-K rows and are left out"
    return TopAnswer(rank(buckets, limit), note if lost else None)
