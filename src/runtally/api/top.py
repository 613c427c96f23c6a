"""``by=user`` / ``by=session``: the top ids by cost, from rollups over any range.

Clean days and hours come from their top-K rows (``rollup_top_daily``/``_hourly``:
each bucket's K ids by cost and an exact remainder), dirty hours and range edges from raw
rows (every id listed, exact), all in the request's snapshot; ``store.top_rank`` merges
and ranks them in Postgres as ``topk.rank`` would (only the top rows come back) and says
whether the merged ranking may differ from the exact one, with the bound.
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
from runtally.api.rollups import dirty_markers
from runtally.grid import DAY, HOUR
from runtally.store.protocols import Connection
from runtally.store.selection import Selection
from runtally.store.top_rank import ranked_top
from runtally.topk import Ranking

EXACT_SPAN = timedelta(hours=24)
PRESENT_SQL = """
SELECT true AS daily, bucket FROM rollup_top_daily
WHERE project = $1 AND kind = $2 AND is_rest AND bucket = ANY($3::timestamptz[])
UNION ALL
SELECT false, bucket FROM rollup_top_hourly
WHERE project = $1 AND kind = $2 AND is_rest AND bucket = ANY($4::timestamptz[])
"""


@dataclass
class TopAnswer:
    ranking: Ranking
    note: str | None = None


def exact_path(selection: Selection, cutoff: datetime) -> bool:
    """Whether raw rows answer (filters the top-K rows lack, or a short recent range)."""
    short = selection.end - selection.start <= EXACT_SPAN and selection.start >= cutoff
    return bool(selection.filters or selection.tags) or short


async def _present(conn: Connection, project: str, kind: str, days: list[datetime],
                   hours: list[datetime]) -> tuple[set[datetime], set[datetime]]:  # fmt: skip
    """Which of ``days`` and ``hours`` have top-K rows of ``kind`` (every rolled bucket
    has one remainder row per kind)."""
    if not days and not hours:
        return set(), set()
    rows = await conn.fetch(PRESENT_SQL, project, kind, days, hours)
    return {r["bucket"] for r in rows if r["daily"]}, {r["bucket"] for r in rows if not r["daily"]}


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
    """The merged top ``limit`` of ``kind`` over ``selection`` (no filters).

    Three statements whatever the range: which buckets have top-K rows, then one ranking
    of those rows and every raw interval (``store.top_rank``), plus a count of the
    buckets left out when some lack rows before raw retention.
    """
    project = selection.project
    dirty_hours, dirty_days, _ = await dirty_markers(conn, selection)
    segments = plan(selection.start, selection.end, dirty_hours, dirty_days)
    days, hours = await _present(conn, project, kind, segments.daily, segments.hourly)
    missing = [(d, d + DAY) for d in segments.daily if d not in days]
    missing += [(h, h + HOUR) for h in segments.hourly if h not in hours]
    raw = [*segments.raw, *segments.trimmed, *(span for span in missing if span[0] >= cutoff)]
    lost = await _with_runs(conn, project, [s for s, _ in missing if s < cutoff])
    rolled = (sorted(days), sorted(hours))
    ranking = await ranked_top(conn, project, kind, rolled, sorted(raw), limit)
    note = f"{lost} bucket(s) before raw retention have no top-K rows and are left out"
    return TopAnswer(ranking, note if lost else None)
