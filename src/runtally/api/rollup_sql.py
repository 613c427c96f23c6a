"""Rollup rows merged in SQL: one ``Tally`` per output group instead of one per row.

A 30-day summary covers thousands of ``rollup_daily`` rows (agents × models × error
types × days) and an hourly series over a month about a hundred thousand
``rollup_hourly`` rows; building a Python ``Tally`` per row dominated the read path.
ONE statement instead reads the selected rows of both tables and merges them per
output group — (bucket, agent, model, error_type) with the bucket coarsened to the
requested granularity and any key field the caller does not need collapsed to '':

- counts, token sums, cost (``numeric``: exact), min/max by plain aggregates;
- latency bins by ``unnest(lat_keys, lat_counts)`` summed per (group, bin) and
  re-aggregated into ascending arrays;
- distinct-count sketches as ``array_agg`` of the HLLs, only when asked for; Python
  keeps the list and ``Tally`` unions it lazily (HLL union is exact for sketches).

The merge is exactly the one ``Tally.merge`` does (sums, min/max, per-bin sums, HLL
union), so the answer is unchanged; float sums may differ in the last bits only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from runtally.sketch import LatencySketch
from runtally.store.aggregate import BUCKETS, ORIGIN, GroupKey
from runtally.tally import Tally

KEY_FIELDS = ("agent", "model", "error_type")
TABLES = ("rollup_daily", "rollup_hourly")

_TOTALS = """
    sum(runs)::bigint AS runs, sum(successes)::bigint AS successes,
    sum(failures)::bigint AS failures, sum(duration_sum) AS duration_sum,
    min(duration_min) AS duration_min, max(duration_max) AS duration_max,
    sum(lat_zero)::bigint AS lat_zero,
    sum(input_tokens)::bigint AS input_tokens, sum(output_tokens)::bigint AS output_tokens,
    sum(cache_read_tokens)::bigint AS cache_read_tokens,
    sum(cache_write_tokens)::bigint AS cache_write_tokens,
    sum(cost_usd) AS cost_usd, sum(unpriced_runs)::bigint AS unpriced_runs,
    sum(ttft_sum) AS ttft_sum, sum(ttft_count)::bigint AS ttft_count"""
_HLLS = """,
    array_agg(users_hll) FILTER (WHERE users_hll IS NOT NULL) AS users,
    array_agg(sessions_hll) FILTER (WHERE sessions_hll IS NOT NULL) AS sessions"""
_GROUP = "bucket, agent, model, error_type"


def _bucket_expr(granularity: str | None, collapsed_param: str) -> str:
    """Output bucket of a rollup row: its hour/day start, or one constant bucket."""
    if granularity is None:
        return f"{collapsed_param}::timestamptz"
    seconds = int(BUCKETS[granularity].total_seconds())
    return f"date_bin('{seconds} seconds', bucket, {ORIGIN})"


def _filters(agent: str | None, model: str | None, first: int) -> tuple[str, list[Any]]:
    clauses, args = [], []
    for column, value in (("agent", agent), ("model", model)):
        if value is not None:
            args.append(value)
            clauses.append(f" AND {column} = ${first + len(args) - 1}")
    return "".join(clauses), args


def merge_sql(
    granularity: str | None, by: Sequence[str], distinct: bool, agent: str | None, model: str | None
) -> tuple[str, list[Any]]:
    """The statement and its arguments after ``(project, daily, hourly)``.

    ``$1`` project, ``$2``/``$3`` bucket arrays of ``rollup_daily``/``rollup_hourly``,
    then, when ``granularity`` is ``None``, ``$4`` the bucket of every group, then the
    agent/model filters (values returned as the arguments' tail; the caller passes the
    collapsed bucket first if ``granularity`` is ``None``).
    """
    unknown = set(by) - set(KEY_FIELDS)
    if unknown:
        raise ValueError(f"not a key field: {sorted(unknown)}")
    keys = ", ".join(f if f in by else f"''::text AS {f}" for f in KEY_FIELDS)
    first = 5 if granularity is None else 4
    extra, args = _filters(agent, model, first)
    selects = [
        f"SELECT {_bucket_expr(granularity, '$4')} AS bucket, {keys}, runs, successes,"
        " failures, duration_sum, duration_min, duration_max, lat_zero, lat_keys, lat_counts,"
        " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd,"
        " unpriced_runs, ttft_sum, ttft_count, users_hll, sessions_hll"
        f" FROM {table} WHERE project = $1 AND bucket = ANY(${n}::timestamptz[]){extra}"
        for n, table in enumerate(TABLES, start=2)
    ]
    sql = f"""
    WITH src AS ({" UNION ALL ".join(selects)}),
    totals AS (
        SELECT {_GROUP}, {_TOTALS}{_HLLS if distinct else ""}
        FROM src GROUP BY {_GROUP}
    ),
    bins AS (
        SELECT {_GROUP}, u.k, sum(u.c)::bigint AS c
        FROM src, unnest(src.lat_keys, src.lat_counts) AS u(k, c)
        GROUP BY {_GROUP}, u.k
    ),
    sketches AS (
        SELECT {_GROUP}, array_agg(k ORDER BY k) AS lat_keys, array_agg(c ORDER BY k) AS lat_counts
        FROM bins GROUP BY {_GROUP}
    )
    SELECT * FROM totals LEFT JOIN sketches USING ({_GROUP})
    """
    return sql, args


def _tally(row: Any, distinct: bool) -> Tally:
    return Tally(
        runs=row["runs"],
        successes=row["successes"],
        failures=row["failures"],
        duration_sum=row["duration_sum"],
        duration_min=row["duration_min"],
        duration_max=row["duration_max"],
        latency=LatencySketch.from_arrays(
            row["lat_zero"], row["lat_keys"] or [], row["lat_counts"] or []
        ),
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        cache_read_tokens=row["cache_read_tokens"],
        cache_write_tokens=row["cache_write_tokens"],
        cost_usd=Decimal(row["cost_usd"]),
        unpriced_runs=row["unpriced_runs"],
        ttft_sum=row["ttft_sum"],
        ttft_count=row["ttft_count"],
        users=list(row["users"] or []) if distinct else [],
        sessions=list(row["sessions"] or []) if distinct else [],
    )


async def merged_rollups(
    conn: Any,
    project: str,
    daily: list[datetime],
    hourly: list[datetime],
    *,
    granularity: str | None,
    by: Sequence[str],
    collapsed: datetime,
    distinct: bool,
    agent: str | None = None,
    model: str | None = None,
) -> list[tuple[GroupKey, Tally]]:
    """Rows of ``rollup_daily`` at ``daily`` and ``rollup_hourly`` at ``hourly``, merged
    per (bucket, agent, model, error_type) — one ``Tally`` per group.

    The bucket is the row's ``granularity`` start (``"hour"``/``"day"``, UTC) or
    ``collapsed`` for ``None``; key fields not in ``by`` are ''. ``distinct`` carries
    the user/session HLLs along (unioned lazily by ``Tally``).
    """
    if not daily and not hourly:
        return []
    sql, args = merge_sql(granularity, by, distinct, agent, model)
    if granularity is None:
        args.insert(0, collapsed)
    rows = await conn.fetch(sql, project, daily, hourly, *args)
    return [
        (GroupKey(r["bucket"], r["agent"], r["model"], r["error_type"]), _tally(r, distinct))
        for r in rows
    ]
