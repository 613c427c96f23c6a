"""Aggregate raw ``agent_runs`` rows into ``Tally`` values, in SQL.

The one query behind both the hourly rollup (an hour at a time) and the read API's
fresh part (dirty hours and range edges). ONE statement scans the rows once and groups
them by (bucket, agent, model, error_type, price version, carried cost): counts, sums,
min/max per fine group, the latency bin of each run as one binary int array (decoded by
numpy and counted by ``np.unique``: grouping by the bin as well made Postgres return and
Python fold a row per bin, 4x slower), plus the user and session ids of each group as
arrays. Python folds the fine groups into one ``Tally`` per (bucket, agent, model,
error_type) and sketches the ids (HyperLogLog ignores repeats, so the ids need no
DISTINCT). One statement also means one snapshot: the sums and the distinct sketches
always describe the same rows.

Planner note: Postgres cannot estimate the number of groups of ``date_bin`` and of the
bin expression and guesses about one per row, so it would sort all rows (spilling to
disk) although there are only a few thousand groups. The query runs with
``enable_sort`` off and a larger ``work_mem`` (for this statement only) so it hashes
in memory instead: 1M rows of an hour in about 2 s instead of 12 s.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from runtally.cube import AGENT, ERROR_TYPE, FULL, MODEL, GroupKey
from runtally.grid import STEPS
from runtally.sketch import SQL_KEY, LatencySketch, hll_from_values
from runtally.store.intarrays import int_arrays
from runtally.store.protocols import Connection, Record
from runtally.store.scoped import HASHED, fetch_with
from runtally.store.selection import Selection
from runtally.tally import COST_SPLIT, SUMS, Tally

# Buckets are aligned to UTC whatever the session time zone (date_bin is absolute).
ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"
# Intervals this short in all (an answer's partial quarter hours at its two edges) hold
# few enough rows that Postgres hashes them unprompted: the planner note's settings, two
# round trips more, would cost more than they save.
SMALL_SPAN = timedelta(minutes=30)


def _bucket_expr(bucket: str | None, start_param: str) -> str:
    if bucket is None:
        return f"{start_param}::timestamptz"
    step = STEPS[bucket]
    return f"date_bin('{int(step.total_seconds())} seconds', started_at, {ORIGIN})"


_SUMS = """
    count(*) AS runs, count(*) FILTER (WHERE status = 'success') AS successes,
    sum(duration_ms) AS duration_sum, min(duration_ms) AS duration_min,
    max(duration_ms) AS duration_max,
    coalesce(sum(input_tokens), 0)::bigint AS input_tokens,
    coalesce(sum(output_tokens), 0)::bigint AS output_tokens,
    coalesce(sum(cache_read_tokens), 0)::bigint AS cache_read_tokens,
    coalesce(sum(cache_write_tokens), 0)::bigint AS cache_write_tokens,
    coalesce(sum(cost_usd), 0) AS cost_usd,
    count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced_runs,
    coalesce(sum(ttft_ms), 0) AS ttft_sum, count(ttft_ms) AS ttft_count,
    count(*) FILTER (WHERE input_tokens IS NULL AND output_tokens IS NULL) AS tokenless
"""
_IDS = """,
    array_agg(user_id) FILTER (WHERE user_id IS NOT NULL) AS users,
    array_agg(session_id) FILTER (WHERE session_id IS NOT NULL) AS sessions
"""


def _key_columns(dims: int) -> str:
    """The select list of the key columns; those outside ``dims`` are constant ''."""
    agent = "agent" if dims & AGENT else "''::text AS agent"
    model = "model" if dims & MODEL else "''::text AS model"
    error = "coalesce(error_type, '')" if dims & ERROR_TYPE else "''::text"
    return f"{agent}, {model}, {error} AS error_type"


def fine_sql(where: str, bucket_expr: str, distinct: bool, dims: int,
             value_expr: str | None = None) -> str:  # fmt: skip
    """The fine groups of the raw rows ``where`` selects: key (bucket, [``value_expr``,]
    agent, model, error type), price version, carried cost (``fold_fine``), each with
    the latency bin of every run of positive duration (``ks``) and the count of the
    others (``zero``)."""
    key = SQL_KEY.format(x="duration_ms")
    value = "" if value_expr is None else f"{value_expr} AS tag_value, "
    groups = ", ".join(str(i) for i in range(1, 7 if value_expr is None else 8))
    return f"""
    SELECT {bucket_expr} AS bucket, {value}{_key_columns(dims)}, price_version,
           cost_source IS NOT DISTINCT FROM 'event' AS carried,
           count(*) FILTER (WHERE duration_ms > 0 IS NOT TRUE) AS zero,
           array_send(coalesce(array_agg({key}) FILTER (WHERE duration_ms > 0), '{{}}'))
               AS ks,
           {_SUMS}{_IDS if distinct else ""}
    FROM agent_runs WHERE {where}
    GROUP BY {groups}
    """


# The sums a fine row carries as columns (``failures`` is runs - successes; the cost
# split comes from the row's ``carried`` flag, ``_add_split``).
_ROW_SUMS = tuple(name for name in SUMS if name != "failures" and name not in COST_SPLIT)
# The cost split of carried-cost runs: (tally field, fine-row column).
_CARRIED = (
    ("event_runs", "runs"), ("event_cost_usd", "cost_usd"),
    ("event_input_tokens", "input_tokens"), ("event_output_tokens", "output_tokens"),
    ("event_cache_read_tokens", "cache_read_tokens"),
    ("event_cache_write_tokens", "cache_write_tokens"),
)  # fmt: skip


def _add_split(tally: Tally, row: Record) -> None:
    """The cost split (``tally.COST_SPLIT``) of one fine group: all its runs carried
    their cost, or none did."""
    if row["carried"]:
        sums = vars(tally)
        for name, column in _CARRIED:
            sums[name] += row[column]
    else:
        tally.tokenless_runs += row["tokenless"]
    if row["price_version"] is not None:
        tally.price_versions.add(row["price_version"])


def _add_fine(tally: Tally, row: Record, ks: npt.NDArray[np.int64]) -> None:
    """Fold one fine group (``ks``: the latency bin of each of its runs) into ``tally``."""
    runs = row["runs"]
    low, high = row["duration_min"], row["duration_max"]
    if tally.runs:
        low, high = min(low, tally.duration_min), max(high, tally.duration_max)
    tally.duration_min, tally.duration_max = low, high
    sums = vars(tally)
    for name in _ROW_SUMS:
        sums[name] += row[name]
    tally.failures += runs - row["successes"]
    _add_split(tally, row)
    tally.latency.merge(LatencySketch.from_keys(row["zero"], ks))


async def aggregate_raw(
    conn: Connection,
    selection: Selection,
    bucket: str | None = "hour",
    distinct: bool = True,
    dims: int = FULL,
) -> dict[GroupKey, Tally]:
    """Tallies of the raw rows ``selection`` selects, per (bucket, agent, model, error_type).

    ``bucket`` is ``"q15"`` (UTC quarter hours), ``"hour"``, ``"day"`` (UTC) or ``None``
    (one bucket: ``selection.start``).
    ``distinct=False`` skips the user/session sketches (cheaper when not needed).
    ``dims`` groups by only those key columns (``runtally.cube``); the others are ''.
    """
    where, args = selection.raw_where()
    sql = fine_sql(where, _bucket_expr(bucket, "$2"), distinct, dims)
    return await _aggregate(conn, sql, args, distinct, dims)


async def aggregate_intervals(
    conn: Connection,
    selection: Selection,
    intervals: Sequence[tuple[datetime, datetime]],
    distinct: bool = True,
    dims: int = FULL,
) -> dict[GroupKey, Tally]:
    """``aggregate_raw(..., bucket=None)`` of each interval (ascending, disjoint, within
    ``selection``'s project and filters), each bucketed at its interval's start, in ONE
    statement: an answer's raw edges and dirty hours cost one round of the statement's
    settings and one scan, not one per interval."""
    if not intervals:
        return {}
    where, args = selection.during(intervals[0][0], intervals[-1][1]).raw_where()
    ranges, cases = [], []
    for start, end in intervals:
        args += [start, end]
        low, high = f"${len(args) - 1}", f"${len(args)}"
        ranges.append(f"(started_at >= {low} AND started_at < {high})")
        cases.append(f"WHEN started_at < {high} THEN {low}::timestamptz")
    where += f" AND ({' OR '.join(ranges)})"
    sql = fine_sql(where, f"CASE {' '.join(cases)} END", distinct, dims)
    small = sum((end - start for start, end in intervals), timedelta()) <= SMALL_SPAN
    return await _aggregate(conn, sql, args, distinct, dims, {} if small else HASHED)


async def _aggregate(
    conn: Connection,
    sql: str,
    args: list[Any],
    distinct: bool,
    dims: int,
    settings: Mapping[str, str] = HASHED,
) -> dict[GroupKey, Tally]:
    found = fold_fine(await fetch_with(conn, sql, args, settings), 4, distinct)
    return {GroupKey(k[0], k[1], k[2], k[3], dims): tally for k, tally in found.items()}


def fold_fine(rows: Iterable[Record], width: int, distinct: bool) -> dict[tuple[Any, ...], Tally]:
    """Fold fine rows (``fine_sql``'s shape: the first ``width`` columns are the key,
    then price version, carried flag, zero count, bins, ``_SUMS`` and, with
    ``distinct``, ``_IDS``) into one tally per key (a tuple: ``width`` must be 2 or more), ids
    sketched."""
    # Keyed by plain tuples while folding: a quarter-hour rollup folds tens of thousands
    # of fine rows, and GroupKeys hash slower.
    out: dict[tuple[Any, ...], Tally] = defaultdict(Tally)
    users: dict[tuple[Any, ...], list[list[str]]] = defaultdict(list)
    sessions: dict[tuple[Any, ...], list[list[str]]] = defaultdict(list)
    key_of = itemgetter(*range(width))  # width >= 2: a tuple
    rows = list(rows)
    for row, ks in zip(rows, int_arrays([row["ks"] for row in rows]), strict=True):
        key = key_of(row)
        _add_fine(out[key], row, ks)
        if distinct:
            if row["users"]:
                users[key].append(row["users"])
            if row["sessions"]:
                sessions[key].append(row["sessions"])
    for ids, attr in ((users, "users"), (sessions, "sessions")):
        for key, parts in ids.items():
            sketch = hll_from_values(chain.from_iterable(parts))
            if sketch is not None:
                getattr(out[key], attr).append(sketch)
    return out


@dataclass(frozen=True)
class Extremes:
    """What cannot be subtracted from a rollup: min/max duration and distinct sketches."""

    duration_min: float
    duration_max: float
    users: bytes | None = None
    sessions: bytes | None = None


async def extremes(
    conn: Connection, selection: Selection, distinct: bool = True, dims: int = FULL
) -> dict[tuple[str, str, str], Extremes]:
    """Per (agent, model, error_type) of grouping set ``dims``: min/max duration of the
    raw rows ``selection`` selects and, with ``distinct``, their user and session sketches.

    Much cheaper than ``aggregate_raw`` over the same rows (no latency bins, no sums).
    """
    where, args = selection.raw_where()
    sql = (
        f"SELECT {_key_columns(dims)}, min(duration_ms) AS low, max(duration_ms) AS high"
        f"{_IDS if distinct else ''} FROM agent_runs WHERE {where} GROUP BY 1, 2, 3"
    )
    out = {}
    for row in await conn.fetch(sql, *args):
        users = hll_from_values(row["users"] or ()) if distinct else None
        sessions = hll_from_values(row["sessions"] or ()) if distinct else None
        cells = (row["agent"], row["model"], row["error_type"])
        out[cells] = Extremes(row["low"], row["high"], users, sessions)
    return out
