"""/v1/summary, /v1/timeseries, /v1/breakdown: exact and fresh aggregates.

Each answer merges the parts ``gather.gather`` returns (daily, hourly and quarter-hour
rollup rows for clean buckets, raw rows for dirty hours and the partial quarter hours at
range edges) read from one snapshot. ``tz`` (an IANA zone, default UTC) sets where days
and hours start, the offset bucket labels carry, and what a plain-date range means.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from runtally.api.buckets import TooManyBuckets, bucket_of, series_buckets
from runtally.api.errors import invalid
from runtally.api.gather import gather
from runtally.api.params import ReaderDep, SelectionDep, SettingsDep, ZoneDep
from runtally.api.parts import Part, fold
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
from runtally.localtime import label, zone_name
from runtally.store.selection import Selection
from runtally.tally import Tally

router = APIRouter(tags=["aggregates"])


def _ranged(selection: Selection, tz: ZoneInfo) -> dict[str, Any]:
    """The fields every aggregate answer starts with; times in local time of ``tz``."""
    return {
        "project": selection.project,
        "from_": label(selection.start, tz),
        "to": label(selection.end, tz),
        "tz": zone_name(tz),
    }


@router.get("/summary", response_model=Summary)
async def summary(r: ReaderDep, selection: SelectionDep, tz: ZoneDep) -> Summary:
    """Totals over ``[from, to)``: counts, latency, tokens, cost, distinct users/sessions."""
    _, parts = await gather(r.conn, selection, None, distinct=True)
    total = Tally.merged(t for _, t in parts)
    return Summary(
        **_ranged(selection, tz),
        **tally_fields(total),
        unpriced_runs=total.unpriced_runs,
        unique_users=total.unique_users,
        unique_sessions=total.unique_sessions,
        price_versions=sorted(total.price_versions),
    )


def _points(buckets: list[datetime], tallies: dict[datetime, Tally], tz: ZoneInfo) -> list[Point]:
    return [Point(bucket=label(b, tz), **tally_fields(tallies.get(b) or Tally())) for b in buckets]


def _series(
    parts: list[Part], group_by: str, buckets: list[datetime], tz: ZoneInfo
) -> list[Series]:
    find = bucket_of(buckets)
    cells = fold(parts, lambda g: (str(getattr(g, group_by)), find(g)))
    runs: dict[str, int] = {}
    for (key, _), tally in cells.items():
        runs[key] = runs.get(key, 0) + tally.runs
    out = []
    for key in sorted(runs, key=lambda k: (-runs[k], k)):
        mine = {bucket: tally for (k, bucket), tally in cells.items() if k == key}
        out.append(Series(key=key, points=_points(buckets, mine, tz)))
    return out


@router.get("/timeseries", response_model=Timeseries)
async def timeseries(
    r: ReaderDep,
    settings: SettingsDep,
    selection: SelectionDep,
    tz: ZoneDep,
    granularity: Annotated[Granularity, Query(description="local hours or days of `tz`")] = "hour",
    group_by: Annotated[GroupBy | None, Query(description="one series per key")] = None,
) -> Timeseries:
    """Zero-filled buckets over ``[from, to)``; edge buckets hold only the part in range.

    Day buckets start at local midnight of ``tz`` (a DST day is 23 or 25 hours long);
    hour buckets at each local whole hour, labelled with the local offset.
    """
    try:
        buckets = series_buckets(
            selection.start, selection.end, granularity, tz, settings.api_max_points
        )
    except TooManyBuckets as exc:
        raise invalid(f"{exc}; shorten the range or use granularity=day") from None
    _, parts = await gather(
        r.conn, selection, granularity, distinct=False, group_by=group_by, tz=tz
    )
    totals = fold(parts, bucket_of(buckets))
    return Timeseries(
        **_ranged(selection, tz),
        granularity=granularity,
        group_by=group_by,
        points=_points(buckets, totals, tz),
        series=_series(parts, group_by, buckets, tz) if group_by else [],
    )


@router.get("/breakdown", response_model=Breakdown)
async def breakdown(
    r: ReaderDep,
    selection: SelectionDep,
    tz: ZoneDep,
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
    return Breakdown(**_ranged(selection, tz), by=by, rows=rows)
