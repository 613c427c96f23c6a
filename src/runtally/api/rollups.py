"""Reading the rollup side of one snapshot: dirty markers and rollup rows as parts.

The dirty markers say which hours and days the rollup tables do not describe yet
(``cover`` sends those to raw rows); ``rollup_parts`` reads the clean buckets.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from datetime import datetime
from typing import Any, NamedTuple

from runtally.api.parts import Part
from runtally.api.pointjson import POINT_JSON
from runtally.api.premerged import merged_sql, merged_tallies
from runtally.cube import FULL, GroupKey
from runtally.grid import DAY, HOUR, floor_to
from runtally.packedbins import unpack_all
from runtally.sketch import LatencySketch
from runtally.store.intarrays import int_arrays, sent
from runtally.store.protocols import Connection
from runtally.store.selection import (
    ROLLUP_TABLES,
    Selection,
    check_table,
    rollup_scope,
)
from runtally.stored_quantiles import StoredQuantiles
from runtally.tally import ROLLUP_FIELDS, Tally

TABLES = ROLLUP_TABLES
# A row alone in its answer cell: its bucket and its point's fields as JSON (``pointjson``).
Shown = tuple[datetime, bytes]
_NO_SKETCHES = frozenset({"users_hll", "sessions_hll"})
# What a point shows, for rows alone in their answer cell; ``point`` NULL: no percentiles.
_POINT_COLUMNS = f"bucket, CASE WHEN lat_pcts IS NOT NULL THEN {POINT_JSON} END AS point"
# Read as binary arrays and decoded by numpy (``store.intarrays``): no Python int per bin.
_BINS = frozenset({"lat_keys", "lat_counts"})


class Markers(NamedTuple):
    """What the rollup tables do not describe yet, as of the snapshot."""

    hours: set[datetime]  # dirty UTC hours
    days: set[datetime]  # dirty UTC days
    # The first hour with quarter-hour rows, when after the range's first hour (the hours
    # before it were rolled before ``rollup_q15`` existed and lost their raw rows).
    quarters_since: datetime | None


async def dirty_markers(conn: Connection, selection: Selection) -> Markers:
    """Dirty hours and dirty days of ``selection.project`` that overlap its range, and
    the quarter-hour horizon, in one statement (a round trip is a fair share of a short
    answer)."""
    rows = await conn.fetch(
        "SELECT hour AS at, 'h' AS kind FROM rollup_dirty"
        " WHERE project = $1 AND hour >= $2 AND hour < $4"
        " UNION ALL SELECT day, 'd' FROM rollup_dirty_day"
        " WHERE project = $1 AND day >= $3 AND day < $4"
        " UNION ALL SELECT since, 'q' FROM rollup_q15_horizon WHERE since > $2",
        selection.project,
        floor_to(selection.start, HOUR),
        floor_to(selection.start, DAY),
        selection.end,
    )
    found: dict[str, set[datetime]] = {"h": set(), "d": set(), "q": set()}
    for row in rows:
        found[row["kind"]].add(row["at"])
    return Markers(found["h"], found["d"], min(found["q"], default=None))


def _rollup_sql(table: str, selection: Selection, buckets: list[datetime], distinct: bool,
                dims: int, lone: bool, zone: str | None) -> tuple[str, list[Any]]:  # fmt: skip
    """The rows at ``buckets``; ``lone``: their stored percentiles, and their bins only
    where none are stored (rows written before migration 0007)."""
    columns = rollup_columns(distinct, lone)
    clauses, args = rollup_scope(table, selection, buckets, dims, zone)
    sql = (
        f"SELECT bucket, agent, model, error_type, {columns} FROM {table}"
        f" WHERE {' AND '.join(clauses)}"
    )
    return sql, args


def rollup_columns(distinct: bool, lone: bool = False, packed: bool = True) -> str:
    """The select list of a rollup row's ``ROLLUP_FIELDS``, ``lat_pcts`` and ``lat_bins``
    for ``tallies``: bins packed (``packed``: the table has ``lat_bins``, migration
    0008), as binary arrays only where they are not; without ``distinct``, no HLL
    sketches; with ``lone``, stored percentiles (``NULL``: not read, or none stored) and
    bins only where none are stored."""
    skip = frozenset() if distinct else _NO_SKETCHES
    columns = [
        f"NULL::bytea AS {c}" if c in skip else _bins(c, lone, packed) if c in _BINS else c
        for c in ROLLUP_FIELDS
    ]
    pcts = "lat_pcts" if lone else "NULL::float8[] AS lat_pcts"
    if not packed:
        return ", ".join([*columns, pcts, "NULL::bytea AS lat_bins"])
    bins = "CASE WHEN lat_pcts IS NULL THEN lat_bins END AS lat_bins" if lone else "lat_bins"
    return ", ".join([*columns, pcts, bins])


def _bins(column: str, lone: bool, packed: bool) -> str:
    """One bin array, sent only where neither stored percentiles (``lone``) nor packed
    bins stand for it."""
    absent = [*(["lat_pcts IS NULL"] if lone else []), *(["lat_bins IS NULL"] if packed else [])]
    if not absent:
        return sent(column)
    return f"CASE WHEN {' AND '.join(absent)} THEN array_send({column}) END AS {column}"


class Read(NamedTuple):
    """Rows of one rollup table (``TABLES``) at some buckets."""

    table: str
    buckets: list[datetime]
    zone: str | None = None  # the zone of ``ZONE_TABLE``'s rows


async def rollup_parts(
    conn: Connection,
    selection: Selection,
    reads: Sequence[Read],
    distinct: bool = True,
    dims: int = FULL,
    lone: Set[datetime] = frozenset(),
    answer: list[datetime] | None = None,
    shown: list[Shown] | None = None,
) -> list[Part]:
    """The rows of ``reads`` at grouping set ``dims`` (which must keep the columns
    ``selection`` filters on), as parts.

    Rows at ``lone`` buckets (each the only part of its answer cell: the caller never
    merges it) come with their stored percentiles (``StoredQuantiles``) instead of their
    bins where they have them. With ``answer`` (the answer buckets' starts: the caller
    folds by answer bucket and key columns only) and without ``distinct``, the others
    come summed per answer bucket and key columns, every table's in one statement
    (``api.premerged``). A ``ZONE_TABLE`` read's buckets are each alone in their answer
    bucket. ``shown``: the ``lone`` rows with stored percentiles are appended there as
    their point's fields (``views.figures``) instead of becoming parts (the caller folds
    by answer bucket only: one row per bucket). ``ValueError`` for another table, a
    filter the rollups do not carry, or a grouping set without it.
    """
    for read in reads:
        _check(read.table, read.zone, selection, dims)
    parts: list[Part] = []
    together: list[Read] = []
    for read in reads:
        alone = [b for b in read.buckets if b in lone]
        if alone:
            parts += await _lone_parts(conn, selection, read._replace(buckets=alone), dims, shown)
        rest = [b for b in read.buckets if b not in lone]
        if rest:
            together.append(read._replace(buckets=rest))
    return parts + await _together_parts(conn, selection, together, distinct, dims, answer)


async def _together_parts(conn: Connection, selection: Selection, reads: list[Read],
                          distinct: bool, dims: int,
                          answer: list[datetime] | None) -> list[Part]:  # fmt: skip
    """Parts of rows that share their answer cells: summed when they may be, else (and
    a zone's rows) read one by one."""
    parts: list[Part] = []
    if answer is not None and not distinct:
        summable = [read for read in reads if read.zone is None]
        summed = await _summed(conn, selection, summable, dims, answer) if summable else []
        if summed is not None:
            parts, reads = summed, [read for read in reads if read.zone is not None]
    for read in reads:
        parts += await _read_parts(conn, selection, read, distinct, dims, False)
    return parts


async def _lone_parts(conn: Connection, selection: Selection, read: Read, dims: int,
                      shown: list[Shown] | None) -> list[Part]:  # fmt: skip
    """Parts of rows each alone in their answer cell (those ``shown`` only as fields)."""
    if shown is not None:
        read = read._replace(buckets=await _show(conn, selection, read, dims, shown))
        if not read.buckets:
            return []
    return await _read_parts(conn, selection, read, True, dims, True)


async def _read_parts(conn: Connection, selection: Selection, read: Read, distinct: bool,
                      dims: int, lone: bool) -> list[Part]:  # fmt: skip
    sql, args = _rollup_sql(read.table, selection, read.buckets, distinct, dims, lone, read.zone)
    return _parts(await conn.fetch(sql, *args), dims)


def _check(table: str, zone: str | None, selection: Selection, dims: int) -> None:
    check_table(table, zone)
    if not selection.rolled_up():
        raise ValueError(f"rollups cannot answer filters on {sorted(selection.filters)}")
    if dims & selection.dims() != selection.dims():
        raise ValueError(f"grouping set {dims} lacks a filtered column")


async def _summed(conn: Connection, selection: Selection, reads: list[Read], dims: int,
                  answer: list[datetime]) -> list[Part] | None:  # fmt: skip
    """The rows of ``reads`` summed per answer bucket (``api.premerged``); ``None``
    when some lack packed bins (the caller reads them one by one)."""
    sql, args = merged_sql([(read.table, read.buckets) for read in reads], selection, dims, answer)
    rows = await conn.fetch(sql, *args)
    if any(row["unpacked"] for row in rows):
        return None
    return _parts(rows, dims, merged_tallies(rows))


async def _show(conn: Connection, selection: Selection, read: Read, dims: int,
                shown: list[Shown]) -> list[datetime]:  # fmt: skip
    """Appends the rows at ``buckets`` that have stored percentiles to ``shown`` as their
    point's fields, rendered as JSON by Postgres (``pointjson``); returns the buckets of
    the others (rows written before migration 0007 have only bins)."""
    clauses, args = rollup_scope(read.table, selection, read.buckets, dims, read.zone)
    sql = f"SELECT {_POINT_COLUMNS} FROM {read.table} WHERE {' AND '.join(clauses)}"
    rest = []
    for bucket, point in await conn.fetch(sql, *args):
        if point is None:
            rest.append(bucket)
        else:
            shown.append((bucket, point))
    return rest


def _parts(rows: list[Any], dims: int, found: list[Tally] | None = None) -> list[Part]:
    """Parts of ``rows``: their ``found`` tallies, else decoded by ``tallies``."""
    return [
        (GroupKey(r["bucket"], r["agent"], r["model"], r["error_type"], dims), tally)
        for r, tally in zip(rows, tallies(rows) if found is None else found, strict=True)
    ]


def tallies(rows: list[Any]) -> list[Tally]:
    """The tallies of rows read with ``rollup_columns``: stored percentiles as
    ``StoredQuantiles``, else bins, packed or as arrays, decoded by numpy in one pass."""
    binned = [r for r in rows if r["lat_pcts"] is None]
    packed = iter(unpack_all([r["lat_bins"] for r in binned if r["lat_bins"] is not None]))
    arrays = [r for r in binned if r["lat_bins"] is None]
    keys = iter(int_arrays([r["lat_keys"] for r in arrays]))
    counts = iter(int_arrays([r["lat_counts"] for r in arrays]))
    out: list[Tally] = []
    for r in rows:
        pcts = r["lat_pcts"]
        if pcts is not None:
            sketch: LatencySketch = StoredQuantiles(pcts)
        else:
            bins = next(packed) if r["lat_bins"] is not None else (next(keys), next(counts))
            sketch = LatencySketch.from_arrays(r["lat_zero"], *bins)
        out.append(Tally.from_row(r, sketch))
    return out
