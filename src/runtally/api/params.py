"""Query parameters of the /v1 routes, declared once, and the range rules.

Timestamps must be RFC 3339 with an offset (naive ones are refused) and are used in UTC;
a plain date (``2026-03-08``) means local midnight of that date in ``tz`` (an IANA zone,
default UTC). When ``from``/``to`` are omitted the range is the last 24 hours (``to`` =
now).

Routes take the parameters they share through dependencies: ``SelectionDep``
(``from``, ``to``, ``agent``, ``model``: the ``Selection`` of every aggregate) and
``RunSelectionDep`` (those plus the run filters). A new shared parameter is declared in
one of these functions and every route using it gets it, in OpenAPI too.
``known_parameters`` refuses any query parameter the route does not declare.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import Depends, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from runtally.api.deps import Reader, get_settings, reader
from runtally.api.dimension import parse_tag_filters
from runtally.api.errors import invalid
from runtally.config import Settings
from runtally.localtime import DEFAULT_ZONE, UnknownZone, parse_moment, zone
from runtally.store.selection import Selection

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
DEFAULT_SPAN = timedelta(hours=24)
NO_NUL = r"^[^\x00]*$"  # Postgres text cannot hold NUL


def _utc(value: datetime) -> datetime:
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp out of range") from None
    if not EARLIEST <= value < LATEST:
        raise ValueError("timestamp must be within 1970-01-01 and 9000-01-01")
    return value


_MOMENT = "RFC 3339 with offset, or a date YYYY-MM-DD (its local midnight in `tz`)"
From = Annotated[
    str | None,
    Query(alias="from", max_length=64, description=f"inclusive: {_MOMENT}; default `to` − 24 h"),
]
To = Annotated[str | None, Query(max_length=64, description=f"exclusive: {_MOMENT}; default now")]
Zone = Annotated[
    str,
    Query(
        min_length=1,
        max_length=64,
        description="IANA time zone (e.g. America/New_York) of day and hour buckets and of "
        "plain-date `from`/`to`",
    ),
]
Name = Annotated[
    str | None, Query(min_length=1, max_length=100, pattern=NO_NUL, description="exact match")
]
Ident = Annotated[
    str | None, Query(min_length=1, max_length=128, pattern=NO_NUL, description="exact match")
]
TagFilter = Annotated[
    list[str] | None,
    Query(description="`<key>:<value>`, repeatable; every one must match", max_length=20),
]
Status = Annotated[Literal["success", "error"] | None, Query()]
ReaderDep = Annotated[Reader, Depends(reader)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def resolve_range(
    start: datetime | None, end: datetime | None, settings: Settings, now: datetime
) -> tuple[datetime, datetime]:
    """``[from, to)`` with defaults applied; 422 when empty, reversed or too long."""
    end = end if end is not None else now.astimezone(UTC)
    start = start if start is not None else max(end - DEFAULT_SPAN, EARLIEST)
    if start >= end:
        raise invalid("`from` must be before `to`")
    if end - start > timedelta(days=settings.api_max_range_days):
        raise invalid(f"range is longer than {settings.api_max_range_days} days")
    return start, end


async def zone_param(tz: Zone = DEFAULT_ZONE) -> ZoneInfo:
    """The request's time zone; 422 naming an unknown one."""
    try:
        return zone(tz)
    except UnknownZone as exc:
        raise invalid(f"`tz`: {exc}") from None


ZoneDep = Annotated[ZoneInfo, Depends(zone_param)]


def _moment(name: str, text: str | None, tz: ZoneInfo) -> datetime | None:
    """``from``/``to`` as a UTC instant (a plain date: local midnight in ``tz``); 422
    naming the parameter when it is not one."""
    if text is None:
        return None
    try:
        return _utc(parse_moment(text, tz))
    except ValueError as exc:
        raise invalid(f"`{name}`: {exc}") from None


async def selection(
    r: ReaderDep,
    settings: SettingsDep,
    tz: ZoneDep,
    from_: From = None,
    to: To = None,
    agent: Name = None,
    model: Name = None,
    tag: TagFilter = None,
) -> Selection:
    """The request's project, resolved range and agent/model/tag filters."""
    start, end = _moment("from", from_, tz), _moment("to", to, tz)
    start, end = resolve_range(start, end, settings, datetime.now(UTC))
    try:
        tags = parse_tag_filters(tag or [], settings.tag_keys)
    except ValueError as exc:
        raise invalid(str(exc)) from None
    return replace(Selection.of(r.project, start, end, agent=agent, model=model), tags=tags)


SelectionDep = Annotated[Selection, Depends(selection)]


async def run_selection(
    base: SelectionDep,
    status: Status = None,
    error_type: Name = None,
    user_id: Ident = None,
    session_id: Ident = None,
    trace_id: Ident = None,
) -> Selection:
    """``selection`` narrowed by the filters only raw rows carry (``/v1/runs``)."""
    return base.narrowed(
        status=status,
        error_type=error_type,
        user_id=user_id,
        session_id=session_id,
        trace_id=trace_id,
    )


RunSelectionDep = Annotated[Selection, Depends(run_selection)]


def _query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameter names ``dependant`` and its sub-dependencies declare."""
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return frozenset(names)


# Per route (by id; the route itself is kept so the id cannot be reused meanwhile).
_DECLARED: dict[int, tuple[APIRoute, frozenset[str]]] = {}


def declared(route: APIRoute) -> frozenset[str]:
    """The query parameters ``route`` declares, computed once per route."""
    hit = _DECLARED.get(id(route))
    if hit is None or hit[0] is not route:
        hit = _DECLARED[id(route)] = (route, _query_names(route.dependant))
    return hit[1]


async def known_parameters(request: Request, _: ReaderDep) -> None:
    """422 naming every query parameter the matched route does not declare.

    Depends on ``reader``, so a request without a valid key gets its 401 first, as for
    every other invalid request. The known set comes from the route's own declarations,
    so a parameter added to a route (or to a dependency above) is accepted at once.
    """
    refuse_undeclared(request)


def refuse_undeclared(request: Request) -> None:
    """422 naming every query parameter of ``request`` its matched route does not declare."""
    route = request.scope["route"]
    unknown = sorted(set(request.query_params) - declared(route))
    if unknown:
        raise invalid(
            f"unknown query parameter{'s' if len(unknown) > 1 else ''} {_quoted(unknown)}; "
            f"this endpoint accepts {_quoted(sorted(declared(route))) or 'none'}"
        )


def _quoted(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)
