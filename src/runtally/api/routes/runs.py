"""/v1/runs (newest first, keyset pages) and /v1/runs/{event_id}."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from runtally.api.cursor import BadCursor, decode_cursor, encode_cursor
from runtally.api.errors import ApiError, invalid
from runtally.api.params import ReaderDep, RunSelectionDep
from runtally.api.runlist import get_run, list_runs
from runtally.api.schemas import ErrorBody, Run, RunDetail, RunsPage

router = APIRouter(tags=["runs"])


@router.get("/runs", response_model=RunsPage)
async def runs(
    r: ReaderDep,
    selection: RunSelectionDep,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> RunsPage:
    """Stored runs in ``[from, to)`` matching every given filter, newest first."""
    try:
        after = decode_cursor(cursor) if cursor is not None else None
    except BadCursor as exc:
        raise invalid(str(exc)) from None
    page, last = await list_runs(r.conn, selection, limit, after)
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
async def run(r: ReaderDep, event_id: UUID) -> RunDetail:
    """One run by its ``event_id`` (404 when this project has none)."""
    row = await get_run(r.conn, r.project, event_id)
    if row is None:
        raise ApiError(404, f"no run {event_id} in project {r.project!r}")
    return RunDetail.model_validate(row)
