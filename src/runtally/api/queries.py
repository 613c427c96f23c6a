"""Read SQL of the API. Every function takes a connection (inside the request's
REPEATABLE READ READ ONLY transaction, so markers, rollups and raw rows come from one
snapshot) and is callable directly, e.g. by benchmarks.

``gather`` answers an aggregate over any range exactly: it reads the dirty markers,
plans the range (``planner.plan``) and returns ``(GroupKey, Tally)`` parts from
``rollup_daily``, ``rollup_hourly`` and raw rows; callers fold them with ``fold``.
Parts are grouped by only the key columns a caller needs (a grouping set of
``runtally.cube``): a 30-day summary merges about one row per day, not one per (agent,
model, error type, day).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from runtally.api.edges import trimmed_parts
from runtally.api.planner import DAY, HOUR, Plan, floor_to, plan
from runtally.cube import FULL, GroupKey, dims_of
from runtally.store.aggregate import RawFilter, aggregate_raw
from runtally.tally import ROLLUP_FIELDS, Tally

K = TypeVar("K", bound=Hashable)
Part = tuple[GroupKey, Tally]
STEPS = {"hour": HOUR, "day": DAY}


@dataclass(frozen=True)
class Scope:
    """What an aggregate request selects: a project, ``[start, end)``, agent/model filters."""

    project: str
    start: datetime
    end: datetime
    agent: str | None = None
    model: str | None = None

    def raw(self, start: datetime, end: datetime) -> RawFilter:
        return RawFilter(self.project, start, end, self.agent, self.model)

    def dims(self, group_by: str | None = None) -> int:
        """The grouping set that keeps the filtered columns and ``group_by``."""
        return dims_of((
            "agent" if self.agent is not None else None,
            "model" if self.model is not None else None,
            group_by,
        ))  # fmt: skip


async def dirty_markers(conn: Any, scope: Scope) -> tuple[set[datetime], set[datetime]]:
    """Dirty hours and dirty days of ``scope.project`` that overlap the range."""
    hours = await conn.fetch(
        "SELECT hour FROM rollup_dirty WHERE project = $1 AND hour >= $2 AND hour < $3",
        scope.project,
        floor_to(scope.start, HOUR),
        scope.end,
    )
    days = await conn.fetch(
        "SELECT day FROM rollup_dirty_day WHERE project = $1 AND day >= $2 AND day < $3",
        scope.project,
        floor_to(scope.start, DAY),
        scope.end,
    )
    return {r["hour"] for r in hours}, {r["day"] for r in days}


def _rollup_sql(table: str, scope: Scope, distinct: bool, dims: int) -> tuple[str, list[Any]]:
    skip = set() if distinct else {"users_hll", "sessions_hll"}
    columns = ", ".join(f"NULL::bytea AS {c}" if c in skip else c for c in ROLLUP_FIELDS)
    clauses = ["project = $1", "bucket = ANY($2::timestamptz[])", "dims = $3"]
    args: list[Any] = [scope.project, dims]
    for column in ("agent", "model"):
        value = getattr(scope, column)
        if value is not None:
            args.append(value)
            clauses.append(f"{column} = ${len(args) + 1}")
    sql = (
        f"SELECT bucket, agent, model, error_type, {columns} FROM {table}"
        f" WHERE {' AND '.join(clauses)}"
    )
    return sql, args


async def rollup_parts(
    conn: Any,
    table: str,
    scope: Scope,
    buckets: list[datetime],
    distinct: bool = True,
    dims: int = FULL,
) -> list[Part]:
    """Rows of ``rollup_hourly`` or ``rollup_daily`` at ``buckets`` and grouping set
    ``dims`` (which must keep the columns ``scope`` filters on), as parts."""
    if table not in ("rollup_hourly", "rollup_daily"):
        raise ValueError(f"not a rollup table: {table}")
    if dims & scope.dims() != scope.dims():
        raise ValueError(f"grouping set {dims} lacks a filtered column")
    if not buckets:
        return []
    sql, args = _rollup_sql(table, scope, distinct, dims)
    rows = await conn.fetch(sql, args[0], buckets, *args[1:])
    return [
        (GroupKey(r["bucket"], r["agent"], r["model"], r["error_type"], dims), Tally.from_row(r))
        for r in rows
    ]


async def raw_parts(
    conn: Any,
    scope: Scope,
    intervals: Iterable[tuple[datetime, datetime]],
    bucket: str | None,
    distinct: bool = True,
    dims: int = FULL,
) -> list[Part]:
    """Raw rows of each interval, aggregated in SQL (one scan per interval)."""
    parts: list[Part] = []
    for start, end in intervals:
        found = await aggregate_raw(
            conn, scope.raw(start, end), bucket=bucket, distinct=distinct, dims=dims
        )
        parts.extend(found.items())
    return parts


async def gather(
    conn: Any,
    scope: Scope,
    granularity: str | None = None,
    distinct: bool = True,
    group_by: str | None = None,
) -> tuple[Plan, list[Part]]:
    """All parts of ``scope``: clean days and hours from rollups, the rest from raw rows.

    ``granularity`` ``"hour"`` keeps every part within one hour (no daily rows);
    ``"day"`` or ``None`` allow daily rows. Raw parts are bucketed by ``granularity``
    (``None``: one part per group and interval). Part buckets are UTC hour or day starts
    except for ``granularity=None`` raw parts, whose bucket is their interval start;
    trimmed parts (``api.edges``) are bucketed at their hour.
    Parts are grouped by ``group_by`` (a key column, or ``None``) and the columns
    ``scope`` filters on; their other key columns are ''.
    """
    dims = scope.dims(group_by)
    dirty_hours, dirty_days = await dirty_markers(conn, scope)
    segments = plan(scope.start, scope.end, dirty_hours, dirty_days, granularity != "hour")
    trim_hours = {floor_to(start, HOUR) for start, _ in segments.trimmed}
    parts = await rollup_parts(conn, "rollup_daily", scope, segments.daily, distinct, dims)
    hourly = await rollup_parts(
        conn, "rollup_hourly", scope, segments.hourly + sorted(trim_hours), distinct, dims
    )
    parts += [part for part in hourly if part[0].bucket not in trim_hours]
    trim_rows = [part for part in hourly if part[0].bucket in trim_hours]
    parts += await trimmed_parts(conn, scope, segments.trimmed, trim_rows, distinct, dims)
    parts += await raw_parts(conn, scope, segments.raw, granularity, distinct, dims)
    return segments, parts


def fold(parts: Iterable[Part], key: Callable[[GroupKey], K | None]) -> dict[K, Tally]:
    """Merge parts by ``key(group)``; parts whose key is ``None`` are left out."""
    out: dict[K, Tally] = {}
    for group, tally in parts:
        k = key(group)
        if k is None:
            continue
        if k in out:
            out[k].merge(tally)
        else:
            out[k] = Tally.merged([tally])  # a copy: parts stay untouched
    return out


def bucket_starts(start: datetime, end: datetime, granularity: str) -> list[datetime]:
    """Every UTC bucket start of ``granularity`` whose bucket overlaps ``[start, end)``."""
    step = STEPS[granularity]
    out = []
    bucket = floor_to(start, step)
    while bucket < end:
        out.append(bucket)
        bucket += step
    return out


def bucket_count(start: datetime, end: datetime, granularity: str) -> int:
    step = STEPS[granularity]
    return -(-(end - floor_to(start, step)) // step)


# --- top users (raw rows only)

TOP_USERS_SQL = """
SELECT user_id AS key, count(*) AS runs,
       count(*) FILTER (WHERE status = 'success') AS successes,
       avg(duration_ms) AS avg, min(duration_ms) AS min, max(duration_ms) AS max,
       percentile_disc(ARRAY[0.5, 0.75, 0.9, 0.95, 0.99]) WITHIN GROUP (ORDER BY duration_ms)
           AS pcts,
       coalesce(sum(input_tokens), 0) AS input, coalesce(sum(output_tokens), 0) AS output,
       coalesce(sum(cache_read_tokens), 0) AS cache_read,
       coalesce(sum(cache_write_tokens), 0) AS cache_write,
       coalesce(sum(cost_usd), 0) AS cost_usd
FROM agent_runs WHERE {where} AND user_id IS NOT NULL
GROUP BY user_id
ORDER BY cost_usd DESC, runs DESC, user_id
LIMIT {limit}
"""


async def top_users(conn: Any, scope: Scope, limit: int) -> list[dict[str, Any]]:
    """Users with the highest cost in ``scope``, from raw rows.

    Cost: one scan of the range's raw rows plus a sort per user for the exact
    percentiles, so it grows with the range (unlike rollup-backed answers) and only sees
    raw retention. Rows: key, runs, successes, failures, success_rate, latency_ms,
    tokens, cost_usd (Decimal).
    """
    where, args = scope.raw(scope.start, scope.end).where()
    rows = await conn.fetch(TOP_USERS_SQL.format(where=where, limit=int(limit)), *args)
    out = []
    for r in rows:
        pcts = list(r["pcts"])
        out.append(
            {
                "key": r["key"],
                "runs": r["runs"],
                "successes": r["successes"],
                "failures": r["runs"] - r["successes"],
                "success_rate": r["successes"] / r["runs"],
                "latency_ms": {
                    "avg": r["avg"],
                    "min": r["min"],
                    "max": r["max"],
                    **dict(zip(("p50", "p75", "p90", "p95", "p99"), pcts, strict=True)),
                },
                "tokens": {
                    "input": r["input"],
                    "output": r["output"],
                    "cache_read": r["cache_read"],
                    "cache_write": r["cache_write"],
                    "total": r["input"] + r["output"],
                },
                "cost_usd": r["cost_usd"],
            }
        )
    return out


# --- runs listing and lookup

RUN_COLUMNS = (
    "event_id", "agent", "model", "started_at", "ended_at", "duration_ms", "status",
    "error_type", "error_message", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "ttft_ms", "cost_usd", "cost_source", "trace_id", "session_id",
    "user_id", "tags",
)  # fmt: skip
DETAIL_COLUMNS = (*RUN_COLUMNS, "project", "price_version", "metadata", "ingested_at")
RUN_FILTERS = (
    "status", "agent", "model", "error_type", "user_id", "session_id", "trace_id",
)  # fmt: skip


class BadCursor(ValueError):
    """A cursor that this API did not make."""


def encode_cursor(started_at: datetime, event_id: UUID) -> str:
    """Opaque keyset position: the last row's (started_at, event_id)."""
    raw = json.dumps({"t": started_at.isoformat(), "id": str(event_id)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """Inverse of ``encode_cursor``; ``BadCursor`` for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        started = datetime.fromisoformat(data["t"])
        event_id = UUID(data["id"])
    except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error) as exc:
        raise BadCursor("cursor is not one this API returned") from exc
    if started.tzinfo is None:
        raise BadCursor("cursor is not one this API returned")
    return started, event_id


async def list_runs(
    conn: Any,
    scope: Scope,
    filters: dict[str, str | None],
    limit: int,
    after: tuple[datetime, UUID] | None = None,
) -> tuple[list[dict[str, Any]], tuple[datetime, UUID] | None]:
    """Runs of ``scope`` newest first (``started_at``, then ``event_id`` descending).

    ``filters`` maps names of ``RUN_FILTERS`` to exact values (``None``: no filter).
    Returns the page and the keyset position after its last row (``None`` at the end).
    """
    where, args = scope.raw(scope.start, scope.end).where()
    clauses = [where]
    for column in RUN_FILTERS:
        value = filters.get(column)
        if value is not None:
            args.append(value)
            clauses.append(f"{column} = ${len(args)}")
    if after is not None:
        args.extend(after)
        clauses.append(f"(started_at, event_id) < (${len(args) - 1}, ${len(args)})")
    args.append(limit + 1)
    rows = await conn.fetch(
        f"SELECT {', '.join(RUN_COLUMNS)} FROM agent_runs WHERE {' AND '.join(clauses)}"
        f" ORDER BY started_at DESC, event_id DESC LIMIT ${len(args)}",
        *args,
    )
    page = [dict(r) for r in rows[:limit]]
    more = len(rows) > limit
    return page, (page[-1]["started_at"], page[-1]["event_id"]) if more else None


async def get_run(conn: Any, project: str, event_id: UUID) -> dict[str, Any] | None:
    """One run of ``project`` by ``event_id`` (the first stored, should there be two)."""
    row = await conn.fetchrow(
        f"SELECT {', '.join(DETAIL_COLUMNS)} FROM agent_runs"
        " WHERE event_id = $1 AND project = $2 ORDER BY ingested_at LIMIT 1",
        event_id,
        project,
    )
    return dict(row) if row is not None else None
