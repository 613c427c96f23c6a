"""/v1/summary, /v1/timeseries, /v1/breakdown: exact and fresh aggregates.

Each answer merges the parts ``gather.gather`` returns (daily and hourly rollups for
clean buckets, raw rows for dirty hours and range edges) read from one snapshot.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from runtally.api.buckets import STEPS, bucket_count, bucket_starts
from runtally.api.errors import invalid
from runtally.api.gather import gather
from runtally.api.params import ReaderDep, SelectionDep, SettingsDep
from runtally.api.parts import Part, fold
from runtally.api.planner import floor_to
from runtally.api.schemas import (
    Breakdown,
    BreakdownBy,
    BreakdownRow,
    Granularity,
    GroupBy,
    Point,
    Series,
    Summary,
    Timeseries,
)
from runtally.api.users import top_users
from runtally.api.views import tally_fields
from runtally.tally import Tally

router = APIRouter(tags=["aggregates"])


@router.get("/summary", response_model=Summary)
async def summary(r: ReaderDep, selection: SelectionDep) -> Summary:
    """Totals over ``[from, to)``: counts, latency, tokens, cost, distinct users/sessions."""
    _, parts = await gather(r.conn, selection, None, distinct=True)
    total = Tally.merged(t for _, t in parts)
    return Summary(
        project=selection.project,
        from_=selection.start,
        to=selection.end,
        **tally_fields(total),
        unpriced_runs=total.unpriced_runs,
        unique_users=total.unique_users,
        unique_sessions=total.unique_sessions,
    )


def _points(buckets: list[datetime], tallies: dict[datetime, Tally]) -> list[Point]:
    return [Point(bucket=b, **tally_fields(tallies.get(b) or Tally())) for b in buckets]


def _series(
    parts: list[Part], group_by: str, granularity: str, buckets: list[datetime]
) -> list[Series]:
    step = STEPS[granularity]
    cells = fold(parts, lambda g: (str(getattr(g, group_by)), floor_to(g.bucket, step)))
    runs: dict[str, int] = {}
    for (key, _), tally in cells.items():
        runs[key] = runs.get(key, 0) + tally.runs
    out = []
    for key in sorted(runs, key=lambda k: (-runs[k], k)):
        mine = {bucket: tally for (k, bucket), tally in cells.items() if k == key}
        out.append(Series(key=key, points=_points(buckets, mine)))
    return out


@router.get("/timeseries", response_model=Timeseries)
async def timeseries(
    r: ReaderDep,
    settings: SettingsDep,
    selection: SelectionDep,
    granularity: Annotated[Granularity, Query(description="UTC hours or days")] = "hour",
    group_by: Annotated[GroupBy | None, Query(description="one series per key")] = None,
) -> Timeseries:
    """Zero-filled buckets over ``[from, to)``; edge buckets hold only the part in range."""
    if bucket_count(selection.start, selection.end, granularity) > settings.api_max_points:
        raise invalid(
            f"more than {settings.api_max_points} {granularity} buckets; "
            "shorten the range or use granularity=day"
        )
    buckets = bucket_starts(selection.start, selection.end, granularity)
    _, parts = await gather(r.conn, selection, granularity, distinct=False, group_by=group_by)
    step = STEPS[granularity]
    totals = fold(parts, lambda g: floor_to(g.bucket, step))
    return Timeseries(
        project=selection.project,
        from_=selection.start,
        to=selection.end,
        granularity=granularity,
        group_by=group_by,
        points=_points(buckets, totals),
        series=_series(parts, group_by, granularity, buckets) if group_by else [],
    )


@router.get("/breakdown", response_model=Breakdown)
async def breakdown(
    r: ReaderDep,
    selection: SelectionDep,
    by: Annotated[BreakdownBy, Query(description="row key")] = "agent",
    limit: Annotated[int, Query(ge=1, le=200, description="rows for by=user")] = 20,
) -> Breakdown:
    """Rows per agent, model or error type (failed runs only), most runs first.

    ``by=user`` lists the top ``limit`` users by cost. It scans the range's raw rows
    (there is no per-user rollup), so it costs more on long ranges and only covers raw
    retention; its percentiles are exact.
    """
    if by == "user":
        users = await top_users(r.conn, selection, limit)
        rows = [BreakdownRow.model_validate(u) for u in users]
    else:
        _, parts = await gather(r.conn, selection, None, distinct=False, group_by=by)
        groups = fold(parts, lambda g: getattr(g, by) or None)
        order = sorted(groups, key=lambda k: (-groups[k].runs, k))
        rows = [BreakdownRow(key=k, **tally_fields(groups[k])) for k in order]
    return Breakdown(
        project=selection.project, from_=selection.start, to=selection.end, by=by, rows=rows
    )
