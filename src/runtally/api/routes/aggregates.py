"""/v1/summary, /v1/timeseries, /v1/breakdown: exact and fresh aggregates.

Each answer merges the parts ``gather.gather`` returns (daily, hourly and quarter-hour
rollup rows for clean buckets, raw rows for dirty hours and the partial quarter hours at
range edges) read from one snapshot. ``tz`` (an IANA zone, default UTC) sets where days
and hours start, the offset bucket labels carry, and what a plain-date range means.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from pydantic_core import to_json

from runtally.api.answers import tag_answer, top_answer
from runtally.api.buckets import TooManyBuckets, bucket_of, by_bucket, series_buckets
from runtally.api.deps import Reader
from runtally.api.dimension import BREAKDOWN_COLUMNS, GROUP_COLUMNS, Dimension, parse_dimension
from runtally.api.errors import invalid
from runtally.api.gather import gather
from runtally.api.params import ReaderDep, SelectionDep, SettingsDep, ZoneDep
from runtally.api.parts import fold
from runtally.api.rollups import Shown
from runtally.api.schemas import (
    Basis,
    Breakdown,
    BreakdownBy,
    BreakdownRow,
    Granularity,
    GroupBy,
    Summary,
    Timeseries,
)
from runtally.api.views import tallies_fields, tally_fields
from runtally.config import Settings
from runtally.localtime import label, zone_name
from runtally.store.selection import Selection
from runtally.tags import OTHER
from runtally.tally import Tally

router = APIRouter(tags=["aggregates"])


def _json(answer: BaseModel) -> Response:
    """``answer`` as JSON, serialized once by pydantic. The routes keep their
    ``response_model`` for the OpenAPI schema; returning a ``Response`` spares FastAPI's
    second validation and serialization of a model that was just validated."""
    return Response(answer.model_dump_json(by_alias=True), media_type="application/json")


def _dimension(text: str | None, columns: tuple[str, ...], settings: Settings,
               name: str) -> Dimension | None:  # fmt: skip
    try:
        return None if text is None else parse_dimension(text, columns, settings.tag_keys, name)
    except ValueError as exc:
        raise invalid(str(exc)) from None


async def _parts(r: Reader, selection: Selection, settings: Settings, dim: Dimension | None,
                 granularity: str | None, distinct: bool, tz: ZoneInfo, lone: bool = False,
                 show: bool = False, starts: list[datetime] | None = None,
                 ) -> tuple[list[Any], list[Shown], Basis]:  # fmt: skip
    """Parts (``GroupKey`` or ``TagKey`` keyed) of any aggregate question, the rows
    ``show``n as their fields, and its basis. ``lone``: the caller folds by answer bucket
    and ``dim`` only, never merging a cell of one part (``parts.fold``), so such parts
    may carry stored percentiles (``gather``); ``show``: such rows may come as fields;
    ``starts``: the answer buckets' starts, when the caller has them."""
    column = dim.column if dim is not None else None
    group_tag = dim.tag if dim is not None else None
    dims = selection.dims(column)
    answer = await tag_answer(r.conn, selection, settings, group_tag, dims, granularity, tz,
                              distinct)  # fmt: skip
    if answer is not None:
        return answer.parts, [], Basis(source=answer.source, note=answer.note)
    found = await gather(r.conn, selection, granularity, distinct=distinct, group_by=column,
                         tz=tz, lone=lone, show=show, starts=starts)  # fmt: skip
    return found.parts, found.shown, Basis()


def _key_of(dim: Dimension) -> Callable[[Any], str]:
    if dim.tag is not None:
        return lambda g: str(g.value)
    column = dim.column
    return lambda g: str(getattr(g, str(column)))


def _find(buckets: list[datetime]) -> Callable[[Any], datetime]:
    """The answer bucket of a part; a raw tag part's bucket may be floored to a UTC grid
    point before ``from`` (its runs are at or after it), so it is clamped to the first."""
    find = bucket_of(buckets)
    first = buckets[0]
    return lambda g: find(g) if g.bucket >= first else first


def _ranged(selection: Selection, tz: ZoneInfo) -> dict[str, Any]:
    """The fields every aggregate answer starts with; times in local time of ``tz``."""
    return {
        "project": selection.project,
        "from_": label(selection.start, tz),
        "to": label(selection.end, tz),
        "tz": zone_name(tz),
    }


@router.get("/summary", response_model=Summary)
async def summary(
    r: ReaderDep, settings: SettingsDep, selection: SelectionDep, tz: ZoneDep
) -> Response:
    """Totals over ``[from, to)``: counts, latency, tokens, cost, distinct users/sessions."""
    parts, _, basis = await _parts(r, selection, settings, None, None, distinct=True, tz=tz)
    total = Tally.merged(t for _, t in parts)
    answer = Summary(
        basis=basis,
        **_ranged(selection, tz),
        **tally_fields(total),
        unpriced_runs=total.unpriced_runs,
        unique_users=total.unique_users,
        unique_sessions=total.unique_sessions,
        price_versions=sorted(total.price_versions),
    )
    return _json(answer)


Fields = dict[str, Any]


def _points(buckets: list[datetime], tallies: dict[datetime, Tally], tz: ZoneInfo) -> list[Fields]:
    """Every bucket's point (``schemas.Point`` fields): those of its tally, else zeros."""
    empty = Tally()
    fields = tallies_fields([tallies.get(b) or empty for b in buckets], rate=False)
    return [{"bucket": label(b, tz), **f} for b, f in zip(buckets, fields, strict=True)]


def _points_json(buckets: list[datetime], tallies: dict[datetime, Tally], tz: ZoneInfo,
                 shown: dict[datetime, bytes]) -> bytes:  # fmt: skip
    """The JSON array of every bucket's point: its ``shown`` fields (JSON rendered by
    Postgres: the rows' ``point``) with its bucket label put in front, else ``_points``.
    A bucket is never in both (``gather``'s lone rows)."""
    if not shown.keys().isdisjoint(tallies):
        raise RuntimeError("a bucket has both a shown row and parts")  # a gather bug
    rest = iter(_points([b for b in buckets if b not in shown], tallies, tz))
    out = []
    for bucket in buckets:
        point = shown.get(bucket)
        if point is None:
            out.append(to_json(next(rest)))
        else:  # '{"bucket":"…",' + the fields without their opening brace
            out.append(b'{"bucket":' + to_json(label(bucket, tz)) + b"," + point[1:])
    return b"[" + b",".join(out) + b"]"


def _series(
    parts: list[Any], key_of: Callable[[Any], str], buckets: list[datetime], tz: ZoneInfo
) -> list[dict[str, Any]]:
    find = _find(buckets)
    cells = fold(parts, lambda g: (key_of(g), find(g)))
    runs: dict[str, int] = {}
    for (key, _), tally in cells.items():
        runs[key] = runs.get(key, 0) + tally.runs
    out = []
    for key in sorted(runs, key=lambda k: (-runs[k], k)):
        mine = {bucket: tally for (k, bucket), tally in cells.items() if k == key}
        out.append({"key": key, "points": _points(buckets, mine, tz)})
    return out


@router.get("/timeseries", response_model=Timeseries)
async def timeseries(
    r: ReaderDep,
    settings: SettingsDep,
    selection: SelectionDep,
    tz: ZoneDep,
    granularity: Annotated[Granularity, Query(description="local hours or days of `tz`")] = "hour",
    group_by: Annotated[
        GroupBy | None, Query(description="one series per key: agent, model or tag:<key>")
    ] = None,
) -> Response:
    """Zero-filled buckets over ``[from, to)``; edge buckets hold only the part in range.

    Day buckets start at local midnight of ``tz`` (a DST day is 23 or 25 hours long);
    hour buckets at each local whole hour, labelled with the local offset.
    """
    dim = _dimension(group_by, GROUP_COLUMNS, settings, "group_by")
    try:
        buckets = series_buckets(
            selection.start, selection.end, granularity, tz, settings.api_max_points
        )
    except TooManyBuckets as exc:
        raise invalid(f"{exc}; shorten the range or use granularity=day") from None
    # Grouped, a series also folds its groups into totals: its parts must stay mergeable.
    alone = dim is None
    parts, shown, basis = await _parts(r, selection, settings, dim, granularity, distinct=False,
                                       tz=tz, lone=alone, show=alone, starts=buckets)  # fmt: skip
    totals = fold(parts, _find(buckets))
    head = Timeseries(**_ranged(selection, tz), granularity=granularity, group_by=group_by,
                      points=[], series=[], basis=basis)  # fmt: skip
    body = head.model_dump(by_alias=True)
    del body["points"]
    body["series"] = _series(parts, _key_of(dim), buckets, tz) if dim else []
    points = _points_json(buckets, totals, tz, by_bucket(buckets, shown))
    # Points are built from typed figures (``views.figures``, or Postgres's rendering of
    # them) and serialized unvalidated: validating 720 points cost more than computing
    # them (the tests validate answers). They go last, spliced into the closing brace.
    return Response(to_json(body)[:-1] + b',"points":' + points + b"}",
                    media_type="application/json")  # fmt: skip


@router.get("/breakdown", response_model=Breakdown)
async def breakdown(
    r: ReaderDep,
    settings: SettingsDep,
    selection: SelectionDep,
    tz: ZoneDep,
    by: Annotated[
        BreakdownBy,
        Query(description="row key: agent, model, error_type, user, session or tag:<key>"),
    ] = "agent",
    limit: Annotated[int, Query(ge=1, le=200, description="rows for by=user/session")] = 20,
) -> Response:
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
        parts, _, basis = await _parts(r, selection, settings, dim, None, distinct=False, tz=tz,
                                       lone=True)  # fmt: skip
        key_of = _key_of(dim)
        groups = fold(parts, lambda g: key_of(g) or None)
        order = sorted(groups, key=lambda k: (-groups[k].runs, k))
        fields = tallies_fields([groups[k] for k in order])
        rows = [BreakdownRow(key=k, **f) for k, f in zip(order, fields, strict=True)]
        if dim.tag is not None and OTHER in groups:
            basis.note = f"`{OTHER}`: values beyond the per-bucket cap, summed"
    return _json(Breakdown(**_ranged(selection, tz), by=by, rows=rows, basis=basis))
