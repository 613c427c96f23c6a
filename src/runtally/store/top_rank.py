"""The merged top ids of rolled buckets and raw intervals, ranked in one statement.

The SQL form of ``topk.rank`` over the top-K rows of some days (``rollup_top_daily``)
and hours (``rollup_top_hourly``) plus one raw "bucket": every id of the raw intervals,
listed exactly (as ``store.top.top_ids`` with ``k=None`` lists them, so the raw part
folds nothing). Postgres sums each id's figures and errors and ranks them; only the top
``limit`` rows and one summary row (``topk.Outside``) come back, so the cost no longer
grows with the ids listed in the range (100k users: thousands of listed ids per range).

Ids of the raw intervals that no rolled bucket lists are ranked by their raw figures
alone and all carry the same error (the bounds), so only the first ``limit`` of them by
(cost, runs, id) can reach the top: the others are left out of the ranking and enter
the summary row as what they are, unsure ids below it (their number and the largest
cost and runs). At 10M events the raw edges of a 30-day range list ~14k ids, nearly
all of them alone: ranking 5k ids instead of 19k took the statement from 78 to 50 ms.

Each id's error is, as in ``topk.merge``: its listed errors, plus the ``max_cost`` of
every rolled bucket not listing it, computed as the sum over all buckets less the sum
over the buckets listing it (``numeric`` sums are exact). Ties rank as ``topk``: more
runs, then the smaller id in ``COLLATE "C"`` (Python's str order).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from runtally.store.protocols import Connection
from runtally.store.top import COLUMN, FIGURES
from runtally.topk import Item, Outside, Ranking, verdict

Interval = tuple[datetime, datetime]
_CAST = {"duration_sum": "float8", "cost": "numeric"}
_SUMS = ", ".join(f"sum(l.{f})::{_CAST.get(f, 'bigint')} AS {f}" for f in FIGURES)
_LISTED = ", ".join(FIGURES)
_RESTS = """
    SELECT '{src}' AS src, bucket, runs, coalesce(max_cost, 0) AS max_cost,
           coalesce(max_runs, 0) AS max_runs
    FROM rollup_top_{table}
    WHERE project = $1 AND kind = $2 AND bucket = ANY(${param}::timestamptz[]) AND is_rest
"""
_LISTED_ROWS = """
    SELECT l.item COLLATE "C" AS item, l.runs, l.cost_usd AS cost,
           l.cost_error - r.max_cost AS err,
           l.runs_error - r.max_runs AS runs_err
    FROM rollup_top_{table} l JOIN rests r ON r.src = '{src}' AND r.bucket = l.bucket
    WHERE l.project = $1 AND l.kind = $2 AND l.bucket = ANY(${param}::timestamptz[])
      AND NOT l.is_rest
"""
_RAW_IDS = """
    SELECT {column} COLLATE "C" AS item, count(*) AS runs, coalesce(sum(cost_usd), 0) AS cost
    FROM agent_runs WHERE project = $1 AND ({spans}) AND {column} IS NOT NULL
    GROUP BY {column}
"""
_CHOSEN_ROWS = """
    SELECT l.item, {figures}
    FROM rollup_top_{table} l
    WHERE l.project = $1 AND l.kind = $2 AND l.bucket = ANY(${param}::timestamptz[])
      AND NOT l.is_rest AND l.item IN (SELECT item FROM chosen)
"""
_RAW_CHOSEN = """
    SELECT {column}, count(*), count(*) FILTER (WHERE status = 'success'), sum(duration_ms),
           coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
           coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0),
           coalesce(sum(cost_usd), 0)
    FROM agent_runs WHERE project = $1 AND ({spans}) AND {column} IN (SELECT item FROM chosen)
    GROUP BY {column}
"""
# Ranking needs only each id's runs, cost and errors (``listed``: narrow rows, one sum
# per column); the other figures are summed for the chosen ``limit`` ids alone.
RANK_SQL = """
WITH rests AS ({daily_rests} UNION ALL {hourly_rests}
), bounds AS (
    SELECT coalesce(sum(max_cost), 0) AS cost, coalesce(sum(max_runs), 0) AS runs,
           coalesce(bool_or(runs > 0), false) AS folded
    FROM rests
), rolled AS ({daily} UNION ALL {hourly}
), raw_ids AS ({raw}
), raw_kept AS (
    SELECT item, runs, cost, 0 AS err, 0 AS runs_err FROM raw_ids
    WHERE item IN (SELECT item FROM rolled) OR item IN (
        SELECT item FROM raw_ids ORDER BY cost DESC, runs DESC, item LIMIT $5)
), pruned AS (
    -- The ids left out: listed in no rolled bucket, so their error is the bounds, the
    -- same for all; unsure only where the bounds are not zero.
    SELECT count(*) AS n, max(r.cost) AS cost, max(r.runs) AS runs FROM raw_ids r, bounds b
    WHERE r.item NOT IN (SELECT item FROM raw_kept) AND (b.cost <> 0 OR b.runs <> 0)
), items AS (
    SELECT item, sum(runs) AS runs, sum(cost) AS cost,
           sum(err) + (SELECT cost FROM bounds) AS cost_error,
           sum(runs_err) + (SELECT runs FROM bounds) AS runs_error
    FROM (SELECT * FROM rolled UNION ALL SELECT * FROM raw_kept) AS listed GROUP BY item
), chosen AS (
    SELECT row_number() OVER (ORDER BY cost DESC, runs DESC, item) AS rn, item,
           cost_error, runs_error
    FROM (SELECT * FROM items ORDER BY cost DESC, runs DESC, item LIMIT $5) AS first
), kept_below AS (
    SELECT count(*) AS unsure, max(cost + cost_error) AS unsure_cost,
           max(runs + runs_error) AS unsure_runs
    FROM items
    WHERE (cost_error <> 0 OR runs_error <> 0) AND item NOT IN (SELECT item FROM chosen)
), below AS (
    SELECT k.unsure + p.n AS unsure, greatest(k.unsure_cost, p.cost + b.cost) AS unsure_cost,
           greatest(k.unsure_runs, p.runs + b.runs) AS unsure_runs
    FROM kept_below k, pruned p, bounds b
), chosen_rows AS ({daily_chosen} UNION ALL {hourly_chosen} UNION ALL {raw_chosen}
), top AS (
    SELECT c.rn, c.item, {sums}, c.cost_error, c.runs_error
    FROM chosen c JOIN chosen_rows l USING (item)
    GROUP BY c.rn, c.item, c.cost_error, c.runs_error
)
SELECT rn, item, {listed}, cost_error, runs_error, NULL::boolean AS folded,
       NULL::bigint AS unsure, NULL::numeric AS unsure_cost, NULL::numeric AS unsure_runs,
       NULL::numeric AS unseen_cost, NULL::numeric AS unseen_runs
FROM top
UNION ALL
SELECT NULL, NULL, {nulls}, NULL, NULL, b.folded, w.unsure, w.unsure_cost, w.unsure_runs,
       b.cost, b.runs
FROM bounds b, below w
ORDER BY rn NULLS LAST
"""


def rank_sql(kind: str, spans: int) -> str:
    """The statement for ``kind`` with ``spans`` raw intervals (parameters from ``$6``)."""
    column = COLUMN[kind]
    where = " OR ".join(
        f"(started_at >= ${6 + 2 * n} AND started_at < ${7 + 2 * n})" for n in range(spans)
    )
    figures = ", ".join(f"l.cost_usd AS {f}" if f == "cost" else f"l.{f}" for f in FIGURES)
    parts = {}
    for src, table, param in (("d", "daily", 3), ("h", "hourly", 4)):
        parts[table] = _LISTED_ROWS.format(src=src, table=table, param=param)
        parts[f"{table}_rests"] = _RESTS.format(src=src, table=table, param=param)
        parts[f"{table}_chosen"] = _CHOSEN_ROWS.format(table=table, param=param, figures=figures)
    return RANK_SQL.format(
        **parts,
        raw=_RAW_IDS.format(column=column, spans=where or "false"),
        raw_chosen=_RAW_CHOSEN.format(column=column, spans=where or "false"),
        sums=_SUMS,
        listed=_LISTED,
        nulls=", ".join("NULL" for _ in FIGURES),
    )


def _item(row: Any) -> Item:
    return Item(
        runs=int(row["runs"]), successes=int(row["successes"]),
        duration_sum=float(row["duration_sum"] or 0.0),
        input_tokens=int(row["input_tokens"]), output_tokens=int(row["output_tokens"]),
        cache_read_tokens=int(row["cache_read_tokens"]),
        cache_write_tokens=int(row["cache_write_tokens"]),
        cost=row["cost"], cost_error=row["cost_error"], runs_error=int(row["runs_error"]),
    )  # fmt: skip


async def ranked_top(
    conn: Connection,
    project: str,
    kind: str,
    rolled: tuple[Sequence[datetime], Sequence[datetime]],
    raw: Sequence[Interval],
    limit: int,
) -> Ranking:
    """``topk.rank`` of the ``kind`` rows of the rolled (days, hours) and every id of the
    ``raw`` intervals (one bucket listing all), top ``limit``."""
    days, hours = rolled
    spans = [moment for span in raw for moment in span]
    args = [project, kind, list(days), list(hours), limit, *spans]
    records = await conn.fetch(rank_sql(kind, len(raw)), *args)
    summary = records[-1]
    outside = Outside(
        folded=bool(summary["folded"]),
        unsure=int(summary["unsure"]),
        unsure_cost=summary["unsure_cost"] or Decimal(0),
        unsure_runs=int(summary["unsure_runs"] or 0),
        unseen_cost=summary["unseen_cost"],
        unseen_runs=int(summary["unseen_runs"]),
    )
    rows = [(r["item"], _item(r)) for r in records[:-1]]
    return verdict(rows, limit, outside)
