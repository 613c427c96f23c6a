"""/v1/runs (newest first, keyset pages) and /v1/runs/{event_id}."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from runtally.api.deps import Reader, get_settings, reader
from runtally.api.errors import ERROR_RESPONSES, ApiError, invalid
from runtally.api.params import From, Ident, Name, To, resolve_range
from runtally.api.queries import BadCursor, Scope, decode_cursor, encode_cursor, get_run, list_runs
from runtally.api.schemas import ErrorBody, Run, RunDetail, RunsPage
from runtally.config import Settings

router = APIRouter(prefix="/v1", tags=["runs"], responses=ERROR_RESPONSES)


@router.get("/runs", response_model=RunsPage)
async def runs(
    r: Annotated[Reader, Depends(reader)],
    settings: Annotated[Settings, Depends(get_settings)],
    from_: From = None,
    to: To = None,
    agent: Name = None,
    model: Name = None,
    status: Annotated[Literal["success", "error"] | None, Query()] = None,
    error_type: Name = None,
    user_id: Ident = None,
    session_id: Ident = None,
    trace_id: Ident = None,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> RunsPage:
    """Stored runs in ``[from, to)`` matching every given filter, newest first."""
    start, end = resolve_range(from_, to, settings, datetime.now(UTC))
    try:
        after = decode_cursor(cursor) if cursor is not None else None
    except BadCursor as exc:
        raise invalid(str(exc)) from None
    filters = {"status": status, "user_id": user_id, "session_id": session_id}
    filters["trace_id"] = trace_id
    filters["error_type"] = error_type
    page, last = await list_runs(
        r.conn, Scope(r.project, start, end, agent, model), filters, limit, after
    )
    return RunsPage(
        project=r.project,
        runs=[Run.model_validate(row) for row in page],
        next_cursor=encode_cursor(*last) if last else None,
    )


@router.get(
    "/runs/{event_id}",
    response_model=RunDetail,
    responses={404: {"model": ErrorBody, "description": "no such run in this project"}},
)
async def run(r: Annotated[Reader, Depends(reader)], event_id: UUID) -> RunDetail:
    """One run by its ``event_id`` (404 when this project has none)."""
    row = await get_run(r.conn, r.project, event_id)
    if row is None:
        raise ApiError(404, f"no run {event_id} in project {r.project!r}")
    return RunDetail.model_validate(row)
