"""Tag answers (``tag=`` filters, ``by=tag:<key>``, ``group_by=tag:<key>``), exact and fresh.

A question about one rolled-up key, at a grouping set the tag rows keep
(``tags.TAG_GROUPING_SETS``), is answered like every other aggregate: the range is
planned against the dirty markers (``hourplan.plan``), clean days and hours come from
``rollup_tag_daily``/``rollup_tag_hourly`` and the rest (dirty hours, range edges) from
raw rows, all in the request's snapshot.

A filter value may hide in a bucket's ``__other__`` row (the cap folded it), and a
bucket may keep a key without its agent/model/error type combinations
(``store.tagged``): such a bucket is read from raw rows when they are still kept;
past raw retention it cannot be answered exactly and ``TagAnswer.note`` says how many
buckets were left out.

Anything else (a key that is not rolled up, filters on two keys, a tag filter with a
grouping the tag rows lack) is answered from raw rows, clipped to raw retention, and the
answer says so (``TagAnswer.source == "raw"``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from runtally.api.hourplan import coalesce, plan
from runtally.api.rollups import dirty_markers, rollup_columns, tallies
from runtally.grid import HOUR
from runtally.store.protocols import Connection
from runtally.store.selection import Selection, equals
from runtally.store.tag_raw import aggregate_by_tag
from runtally.tags import OTHER, TAG_GROUPING_SETS, TagKey
from runtally.tally import Tally

TagPart = tuple[TagKey, Tally]
Unrolled = tuple[set[datetime], set[datetime]]  # buckets: (value folded, no combinations)


@dataclass
class TagAnswer:
    """Parts of a tag answer and how they were found."""

    parts: list[TagPart]
    source: str  # "rollups" or "raw"
    note: str | None = None


def rollup_key(selection: Selection, group_tag: str | None, rolled: tuple[str, ...],
               dims: int) -> str | None:  # fmt: skip
    """The one rolled-up key whose tag rows answer, or ``None`` (raw rows must)."""
    keys = set(selection.tags) | ({group_tag} if group_tag else set())
    plain = replace(selection, tags={})
    if len(keys) != 1 or not plain.rolled_up() or dims not in TAG_GROUPING_SETS:
        return None
    key = keys.pop()
    return key if key in rolled else None


async def _tag_rows(conn: Connection, table: str, selection: Selection, key: str,
                    buckets: list[datetime], dims: int, distinct: bool
                    ) -> list[TagPart]:  # fmt: skip
    if not buckets:
        return []
    args: list[Any] = [selection.project, buckets, key, dims]
    clauses = ["project = $1", "bucket = ANY($2::timestamptz[])", "tag_key = $3", "dims = $4"]
    clauses += equals(sorted(selection.filters.items()), args)
    if key in selection.tags:
        clauses += equals([("tag_value", selection.tags[key])], args)
    columns = rollup_columns(distinct, packed=False)  # tag rows keep no packed bins
    rows = await conn.fetch(
        f"SELECT bucket, tag_value, agent, model, error_type, {columns} "
        f"FROM {table} WHERE {' AND '.join(clauses)}",
        *args,
    )
    keys = [TagKey(r["bucket"], key, r["tag_value"], r["agent"], r["model"], r["error_type"],
                   dims) for r in rows]  # fmt: skip
    return list(zip(keys, tallies(rows), strict=True))


async def _folded(conn: Connection, table: str, selection: Selection, key: str,
                  buckets: list[datetime]) -> set[datetime]:  # fmt: skip
    """Buckets where the filter value of ``key`` may be inside ``__other__``."""
    if not buckets or key not in selection.tags:
        return set()
    rows = await conn.fetch(
        f"SELECT bucket, bool_or(tag_value = $4) AS listed FROM {table} WHERE project = $1 "
        "AND bucket = ANY($2::timestamptz[]) AND tag_key = $3 AND dims = 0 "
        "AND tag_value IN ($4, $5) GROUP BY bucket",
        selection.project, buckets, key, selection.tags[key], OTHER,
    )  # fmt: skip
    return {r["bucket"] for r in rows if not r["listed"]}


async def _without_combos(conn: Connection, table: str, selection: Selection, key: str,
                          buckets: list[datetime], dims: int) -> set[datetime]:  # fmt: skip
    """Buckets that keep ``key`` only at set ``0`` when ``dims`` asks for a combination
    (``store.tagged``): they have ``0`` rows of ``key`` and no ``dims`` rows."""
    if not buckets or dims == 0:
        return set()
    rows = await conn.fetch(
        f"SELECT bucket FROM {table} WHERE project = $1 AND bucket = ANY($2::timestamptz[]) "
        "AND tag_key = $3 AND dims IN (0, $4) GROUP BY bucket HAVING NOT bool_or(dims = $4)",
        selection.project, buckets, key, dims,
    )  # fmt: skip
    return {r["bucket"] for r in rows}


async def _unrolled(conn: Connection, table: str, selection: Selection, key: str,
                    buckets: list[datetime], dims: int) -> Unrolled:  # fmt: skip
    """Buckets whose tag rows cannot answer: (the filter value folded, no combinations)."""
    folded = await _folded(conn, table, selection, key, buckets)
    return folded, await _without_combos(conn, table, selection, key, buckets, dims) - folded


def lost_note(selection: Selection, key: str, folded: list[datetime],
               combos: list[datetime]) -> str | None:  # fmt: skip
    """What a note says of the days before raw retention the tag rows cannot answer."""
    notes = []
    if folded:
        notes.append(f"{len(folded)} day(s) before raw retention folded "
                     f"`{selection.tags[key]}` into `{OTHER}`")  # fmt: skip
    if combos:
        notes.append(
            f"{len(combos)} day(s) before raw retention keep `{key}` without its "
            "agent/model/error type combinations (too many to roll up)"
        )
    return "; ".join(notes) + " and are left out" if notes else None


async def gather_rolled(conn: Connection, selection: Selection, key: str, dims: int,
                        granularity: str | None, cutoff: datetime,
                        distinct: bool = True) -> TagAnswer:  # fmt: skip
    """Parts of a one-key tag question from tag rows and raw rows (see the module)."""
    dirty_hours, dirty_days, _ = await dirty_markers(conn, selection)
    segments = plan(selection.start, selection.end, dirty_hours, dirty_days, granularity != "hour")
    raw = list(segments.raw) + list(segments.trimmed)
    hourly = await _unrolled(conn, "rollup_tag_hourly", selection, key, segments.hourly, dims)
    daily = await _unrolled(conn, "rollup_tag_daily", selection, key, segments.daily, dims)
    unrolled_hours, unrolled_days = hourly[0] | hourly[1], daily[0] | daily[1]
    raw += [(h, h + HOUR) for h in unrolled_hours]
    raw += [(d, d + 24 * HOUR) for d in unrolled_days if d >= cutoff]
    days = [d for d in segments.daily if d not in unrolled_days]
    hours = [h for h in segments.hourly if h not in unrolled_hours]
    parts = await _tag_rows(conn, "rollup_tag_daily", selection, key, days, dims, distinct)
    parts += await _tag_rows(conn, "rollup_tag_hourly", selection, key, hours, dims, distinct)
    # Coalesced: a key without combinations reads most hours raw, one scan for them all.
    for start, end in coalesce(raw):
        parts += await aggregate_by_tag(conn, selection.during(start, end), key, dims,
                                        granularity, distinct)  # fmt: skip
    lost = [sorted(d for d in found if d < cutoff) for found in daily]
    return TagAnswer(parts, "rollups", lost_note(selection, key, *lost))


def clip(selection: Selection, cutoff: datetime) -> tuple[Selection, str]:
    """``selection`` clipped to raw retention, and the note saying it was answered raw."""
    note = "answered from raw rows (the rollups do not answer this)"
    if selection.start >= cutoff:
        return selection, note
    start = min(cutoff, selection.end)
    return selection.during(start, selection.end), f"{note}; raw rows start at {start.isoformat()}"
