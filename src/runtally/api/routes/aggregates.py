"""/v1/summary, /v1/timeseries, /v1/breakdown: exact and fresh aggregates.

Each answer merges the parts ``gather.gather`` returns (daily and hourly rollups for
clean buckets, raw rows for dirty hours and range edges) read from one snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from runtally.api.answers import tag_answer, top_answer
from runtally.api.buckets import STEPS, bucket_count, bucket_starts
from runtally.api.deps import Reader
from runtally.api.dimension import BREAKDOWN_COLUMNS, GROUP_COLUMNS, Dimension, parse_dimension
from runtally.api.errors import invalid
from runtally.api.gather import gather
from runtally.api.params import ReaderDep, SelectionDep, SettingsDep
from runtally.api.parts import fold
from runtally.api.planner import floor_to
from runtally.api.schemas import (
    Basis,
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
from runtally.api.views import tally_fields
from runtally.config import Settings
from runtally.store.selection import Selection
from runtally.tags import OTHER
from runtally.tally import Tally

router = APIRouter(tags=["aggregates"])


def _dimension(text: str | None, columns: tuple[str, ...], settings: Settings,
               name: str) -> Dimension | None:  # fmt: skip
    try:
        return None if text is None else parse_dimension(text, columns, settings.tag_keys, name)
    except ValueError as exc:
        raise invalid(str(exc)) from None


async def _parts(r: Reader, selection: Selection, settings: Settings, dim: Dimension | None,
                 granularity: str | None, distinct: bool) -> tuple[list[Any], Basis]:  # fmt: skip
    """Parts (``GroupKey`` or ``TagKey`` keyed) of any aggregate question, and its basis."""
    column = dim.column if dim is not None else None
    group_tag = dim.tag if dim is not None else None
    dims = selection.dims(column)
    answer = await tag_answer(r.conn, selection, settings, group_tag, dims, granularity)
    if answer is not None:
        return answer.parts, Basis(source=answer.source, note=answer.note)
    _, parts = await gather(r.conn, selection, granularity, distinct=distinct, group_by=column)
    return parts, Basis()


def _key_of(dim: Dimension) -> Callable[[Any], str]:
    if dim.tag is not None:
        return lambda g: str(g.value)
    column = dim.column
    return lambda g: str(getattr(g, str(column)))


@router.get("/summary", response_model=Summary)
async def summary(r: ReaderDep, settings: SettingsDep, selection: SelectionDep) -> Summary:
    """Totals over ``[from, to)``: counts, latency, tokens, cost, distinct users/sessions."""
    parts, basis = await _parts(r, selection, settings, None, None, distinct=True)
    total = Tally.merged(t for _, t in parts)
    return Summary(
        basis=basis,
        project=selection.project,
        from_=selection.start,
        to=selection.end,
        **tally_fields(total),
        unpriced_runs=total.unpriced_runs,
        unique_users=total.unique_users,
        unique_sessions=total.unique_sessions,
        price_versions=sorted(total.price_versions),
    )


def _points(buckets: list[datetime], tallies: dict[datetime, Tally]) -> list[Point]:
    return [Point(bucket=b, **tally_fields(tallies.get(b) or Tally())) for b in buckets]


def _series(
    parts: list[Any], key_of: Callable[[Any], str], granularity: str, buckets: list[datetime]
) -> list[Series]:
    step = STEPS[granularity]
    cells = fold(parts, lambda g: (key_of(g), floor_to(g.bucket, step)))
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
    group_by: Annotated[
        GroupBy | None, Query(description="one series per key: agent, model or tag:<key>")
    ] = None,
) -> Timeseries:
    """Zero-filled buckets over ``[from, to)``; edge buckets hold only the part in range."""
    dim = _dimension(group_by, GROUP_COLUMNS, settings, "group_by")
    if bucket_count(selection.start, selection.end, granularity) > settings.api_max_points:
        raise invalid(
            f"more than {settings.api_max_points} {granularity} buckets; "
            "shorten the range or use granularity=day"
        )
    buckets = bucket_starts(selection.start, selection.end, granularity)
    parts, basis = await _parts(r, selection, settings, dim, granularity, distinct=False)
    step = STEPS[granularity]
    totals = fold(parts, lambda g: floor_to(g.bucket, step))
    return Timeseries(
        project=selection.project,
        from_=selection.start,
        to=selection.end,
        granularity=granularity,
        group_by=group_by,
        points=_points(buckets, totals),
        series=_series(parts, _key_of(dim), granularity, buckets) if dim else [],
        basis=basis,
    )


@router.get("/breakdown", response_model=Breakdown)
async def breakdown(
    r: ReaderDep,
    settings: SettingsDep,
    selection: SelectionDep,
    by: Annotated[
        BreakdownBy,
        Query(description="row key: agent, model, error_type, user, session or tag:<key>"),
    ] = "agent",
    limit: Annotated[int, Query(ge=1, le=200, description="rows for by=user/session")] = 20,
) -> Breakdown:
    """Rows per agent, model, error type (failed runs only) or tag value, most runs first.

    ``by=user``/``by=session``: the top ``limit`` by cost (``api.answers.top_answer``:
    exact from raw rows over a short or filtered range, else merged top-K rollups with
    ``basis.approximate`` and the error bound).
    """
    dim = _dimension(by, BREAKDOWN_COLUMNS, settings, "by")
    assert dim is not None
    if dim.column in ("user", "session"):
        rows, basis = await top_answer(r.conn, selection, settings, dim.column, limit)
    else:
        parts, basis = await _parts(r, selection, settings, dim, None, distinct=False)
        key_of = _key_of(dim)
        groups = fold(parts, lambda g: key_of(g) or None)
        order = sorted(groups, key=lambda k: (-groups[k].runs, k))
        rows = [BreakdownRow(key=k, **tally_fields(groups[k])) for k in order]
        if dim.tag is not None and OTHER in groups:
            basis.note = f"`{OTHER}`: values beyond the per-bucket cap, summed"
    return Breakdown(
        project=selection.project, from_=selection.start, to=selection.end, by=by, rows=rows,
        basis=basis,
    )  # fmt: skip
