"""Stored runs, read from raw rows: a selection's runs newest first, and one run by id."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from runtally.store.protocols import Connection
from runtally.store.selection import Selection

RUN_COLUMNS = (
    "event_id", "agent", "model", "started_at", "ended_at", "duration_ms", "status",
    "error_type", "error_message", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "ttft_ms", "cost_usd", "cost_source", "trace_id", "session_id",
    "user_id", "tags",
)  # fmt: skip
DETAIL_COLUMNS = (*RUN_COLUMNS, "project", "price_version", "metadata", "ingested_at")
Position = tuple[datetime, UUID]


async def list_runs(
    conn: Connection, selection: Selection, limit: int, after: Position | None = None
) -> tuple[list[dict[str, Any]], Position | None]:
    """Runs of ``selection`` newest first (``started_at``, then ``event_id`` descending),
    starting after the keyset position ``after``.

    Returns the page and the keyset position after its last row (``None`` at the end).
    """
    where, args = selection.raw_where()
    if after is not None:
        args.extend(after)
        where += f" AND (started_at, event_id) < (${len(args) - 1}, ${len(args)})"
    args.append(limit + 1)
    rows = await conn.fetch(
        f"SELECT {', '.join(RUN_COLUMNS)} FROM agent_runs WHERE {where}"
        f" ORDER BY started_at DESC, event_id DESC LIMIT ${len(args)}",
        *args,
    )
    page = [dict(r) for r in rows[:limit]]
    more = len(rows) > limit
    return page, (page[-1]["started_at"], page[-1]["event_id"]) if more else None


async def get_run(conn: Connection, project: str, event_id: UUID) -> dict[str, Any] | None:
    """One run of ``project`` by ``event_id`` (the first stored, should there be two)."""
    row = await conn.fetchrow(
        f"SELECT {', '.join(DETAIL_COLUMNS)} FROM agent_runs"
        " WHERE event_id = $1 AND project = $2 ORDER BY ingested_at LIMIT 1",
        event_id,
        project,
    )
    return dict(row) if row is not None else None
