"""Aggregate raw ``agent_runs`` rows into ``Tally`` values, in SQL.

The one query behind both the hourly rollup (an hour at a time) and the read API's
fresh part (dirty hours and range edges). Counts, sums, min/max and the latency sketch
bins come from one scan with a two-level GROUP BY; no per-row Python. Distinct users
and sessions need the ids themselves, so they are fetched DISTINCT and sketched here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from runtally.sketch import SQL_KEY, hll_from_values
from runtally.tally import Tally

# Buckets are aligned to UTC whatever the session time zone (date_bin is absolute).
ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"
BUCKETS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


@dataclass(frozen=True)
class GroupKey:
    """Key of one aggregate: the rollup key without the project."""

    bucket: datetime
    agent: str
    model: str
    error_type: str  # '' for successful runs


@dataclass(frozen=True)
class RawFilter:
    """Which raw rows to aggregate: one project, ``[start, end)``, optional agent/model."""

    project: str
    start: datetime
    end: datetime
    agent: str | None = None
    model: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses = ["project = $1", "started_at >= $2", "started_at < $3"]
        args: list[Any] = [self.project, self.start, self.end]
        for column in ("agent", "model"):
            value = getattr(self, column)
            if value is not None:
                args.append(value)
                clauses.append(f"{column} = ${len(args)}")
        return " AND ".join(clauses), args


def _bucket_expr(bucket: str | None, start_param: str) -> str:
    if bucket is None:
        return f"{start_param}::timestamptz"
    step = BUCKETS[bucket]
    return f"date_bin('{int(step.total_seconds())} seconds', started_at, {ORIGIN})"


def _tally_sql(where: str, bucket_expr: str) -> str:
    key = SQL_KEY.format(x="duration_ms")
    return f"""
    WITH fine AS (
        SELECT {bucket_expr} AS bucket, agent, model,
               coalesce(error_type, '') AS error_type,
               CASE WHEN duration_ms > 0 THEN {key} END AS k,
               count(*) AS c,
               count(*) FILTER (WHERE status = 'success') AS s,
               sum(duration_ms) AS dsum, min(duration_ms) AS dmin, max(duration_ms) AS dmax,
               sum(input_tokens) AS it, sum(output_tokens) AS ot,
               sum(cache_read_tokens) AS crt, sum(cache_write_tokens) AS cwt,
               sum(cost_usd) AS cost, count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced,
               sum(ttft_ms) AS tsum, count(ttft_ms) AS tcount
        FROM agent_runs WHERE {where}
        GROUP BY 1, 2, 3, 4, 5
    )
    SELECT bucket, agent, model, error_type,
           sum(c)::bigint AS runs, sum(s)::bigint AS successes,
           (sum(c) - sum(s))::bigint AS failures,
           sum(dsum) AS duration_sum, min(dmin) AS duration_min, max(dmax) AS duration_max,
           coalesce(sum(c) FILTER (WHERE k IS NULL), 0)::bigint AS lat_zero,
           coalesce(array_agg(k ORDER BY k) FILTER (WHERE k IS NOT NULL), '{{}}') AS lat_keys,
           coalesce(array_agg(c ORDER BY k) FILTER (WHERE k IS NOT NULL), '{{}}') AS lat_counts,
           coalesce(sum(it), 0)::bigint AS input_tokens,
           coalesce(sum(ot), 0)::bigint AS output_tokens,
           coalesce(sum(crt), 0)::bigint AS cache_read_tokens,
           coalesce(sum(cwt), 0)::bigint AS cache_write_tokens,
           coalesce(sum(cost), 0) AS cost_usd, sum(unpriced)::bigint AS unpriced_runs,
           coalesce(sum(tsum), 0) AS ttft_sum, sum(tcount)::bigint AS ttft_count,
           NULL::bytea AS users_hll, NULL::bytea AS sessions_hll
    FROM fine GROUP BY 1, 2, 3, 4
    """


def _distinct_sql(where: str, bucket_expr: str, column: str) -> str:
    return f"""
    SELECT DISTINCT {bucket_expr} AS bucket, agent, model,
           coalesce(error_type, '') AS error_type, {column} AS id
    FROM agent_runs WHERE {where} AND {column} IS NOT NULL
    """


async def aggregate_raw(
    conn: Any, raw: RawFilter, bucket: str | None = "hour", distinct: bool = True
) -> dict[GroupKey, Tally]:
    """Tallies of the raw rows ``raw`` selects, per (bucket, agent, model, error_type).

    ``bucket`` is ``"hour"``, ``"day"`` (UTC) or ``None`` (one bucket: ``raw.start``).
    ``distinct=False`` skips the user/session sketches (cheaper when not needed).
    """
    where, args = raw.where()
    bucket_expr = _bucket_expr(bucket, "$2")
    out: dict[GroupKey, Tally] = {}
    for row in await conn.fetch(_tally_sql(where, bucket_expr), *args):
        key = GroupKey(row["bucket"], row["agent"], row["model"], row["error_type"])
        out[key] = Tally.from_row(row)
    if distinct and out:
        for column, attr in (("user_id", "users"), ("session_id", "sessions")):
            ids: dict[GroupKey, list[str]] = defaultdict(list)
            for row in await conn.fetch(_distinct_sql(where, bucket_expr, column), *args):
                key = GroupKey(row["bucket"], row["agent"], row["model"], row["error_type"])
                ids[key].append(row["id"])
            for key, values in ids.items():
                sketch = hll_from_values(values)
                if sketch is not None:
                    getattr(out[key], attr).append(sketch)
    return out
