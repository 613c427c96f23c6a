"""Aggregate raw runs per tag value, in SQL, with the cardinality cap applied there.

The hourly tag rollup (and the API's fresh part of a tag answer) needs, per tag key of
``keys`` and value, the ``Tally`` of the runs carrying it, per (agent, model,
error_type). ONE statement expands each run's tags (``jsonb_each_text``), ranks each
key's values by runs (ties: the smaller value, ``COLLATE "C"`` = Python's str order) and
groups the runs of values beyond ``cap`` under ``__other__``, so a runaway key (a
request id sent as a tag) returns at most ``cap + 1`` values per key, not one per run.

With ``min_runs`` (the rollup), a (bucket, key) whose capped (value, agent, model,
error type) groups hold on average fewer than ``min_runs`` runs each comes back
collapsed to one row per value (``dims == 0``, agent/model/error type ''): a key with
hundreds of values (a customer id) crossed with those columns has about one row per
run in a quiet hour, rows that would cost more to keep and read than the raw rows they
stand for. The rollup keeps such a bucket's key at set ``0`` only (``tags.derive_sets``)
and the API reads its other questions from raw rows.
Sums are those of ``store.aggregate`` and latency bins use the same SQL key, so tag
rows and rollup rows agree exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

from runtally.constants import TAG_OTHER
from runtally.cube import FULL
from runtally.sketch import SQL_KEY, LatencySketch, hll_from_values
from runtally.store.aggregate import _IDS, _SUMS, WORK_MEM, _bucket_expr
from runtally.store.protocols import Connection
from runtally.store.selection import Selection
from runtally.tags import TagKey
from runtally.tally import Tally

# The sums a group row carries as they are (``runs``/``successes`` set the counts).
ROW_SUMS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
            "cost_usd", "unpriced_runs", "ttft_sum", "ttft_count", "event_runs",
            "event_cost_usd", "event_input_tokens", "event_output_tokens",
            "event_cache_read_tokens", "event_cache_write_tokens", "tokenless_runs")  # fmt: skip
# The cost split (``tally.COST_SPLIT``) as ``store.aggregate`` keeps it: runs that carried
# their cost, with their cost and tokens; runs without tokens among the others.
_SPLIT = """,
    count(*) FILTER (WHERE carried) AS event_runs,
    coalesce(sum(cost_usd) FILTER (WHERE carried), 0) AS event_cost_usd,
    coalesce(sum(input_tokens) FILTER (WHERE carried), 0)::bigint AS event_input_tokens,
    coalesce(sum(output_tokens) FILTER (WHERE carried), 0)::bigint AS event_output_tokens,
    coalesce(sum(cache_read_tokens) FILTER (WHERE carried), 0)::bigint
        AS event_cache_read_tokens,
    coalesce(sum(cache_write_tokens) FILTER (WHERE carried), 0)::bigint
        AS event_cache_write_tokens,
    count(*) FILTER (WHERE NOT carried AND input_tokens IS NULL AND output_tokens IS NULL)
        AS tokenless_runs
"""
RUN_COLUMNS = (
    "status, duration_ms, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,"
    " cost_usd, ttft_ms, user_id, session_id, agent, model, price_version,"
    " cost_source IS NOT DISTINCT FROM 'event' AS carried"
)


# The columns of ``t`` a collapsed row keeps as they are (agent and model are blanked).
_KEPT = (
    "status, duration_ms, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,"
    " cost_usd, ttft_ms, user_id, session_id, price_version, carried"
)
_GROUP = "b, tag_key, tag_value, agent, model, err, full_key"


def _collapse(min_runs_param: str | None) -> str:
    """The ``c`` CTE: capped runs, agent/model/error type blanked where the (bucket,
    key) does not average ``min_runs`` runs per group (``None``: never)."""
    if min_runs_param is None:
        return "c AS MATERIALIZED (SELECT *, true AS full_key FROM capped)"
    blank = "CASE WHEN full_key THEN {0} ELSE '' END AS {0}"
    # Two hashed levels, not count(DISTINCT (...)): that one sorts every run by a record.
    return f"""keep AS (
        SELECT b, tag_key, sum(n) >= {min_runs_param}::bigint * count(*) AS full_key
        FROM (SELECT b, tag_key, tag_value, agent, model, err, count(*) AS n
              FROM capped GROUP BY b, tag_key, tag_value, agent, model, err) AS combos
        GROUP BY b, tag_key
    ), c AS MATERIALIZED (
        SELECT b, tag_key, tag_value, full_key, {blank.format("agent")},
               {blank.format("model")}, {blank.format("err")}, k, {_KEPT}
        FROM capped JOIN keep USING (b, tag_key)
    )"""


def tagged_sql(where: str, keys_param: str, cap_param: str, bucket: str | None = None,
               min_runs_param: str | None = None) -> str:  # fmt: skip
    """The statement: ``where`` selects the raw rows (its parameters first, $2 the
    start); ``bucket`` ``"hour"``/``"day"`` buckets the runs (``None``: one bucket);
    ``min_runs_param`` collapses the (bucket, key) groups that do not compress.

    One row per (bucket, key, value, agent, model, error type), its latency bins folded
    into arrays in SQL: a tag key multiplies the groups by its values, and one row per
    latency bin would make Python fold millions of rows. ``full_key`` says whether the
    row is full-key or collapsed. No aggregate has DISTINCT or ORDER BY, so every level
    hashes its groups (a sorted aggregate sorted all the expanded runs): a group's bins
    come in no particular order and repeat a bin once per price version, and its price
    versions repeat too; ``_tally`` adds and dedupes them.
    """
    key = SQL_KEY.format(x="duration_ms")
    return f"""
    WITH t AS MATERIALIZED (
        SELECT {_bucket_expr(bucket, "$2")} AS b, e.key AS tag_key, e.value AS raw_value,
               coalesce(error_type, '') AS err,
               CASE WHEN duration_ms > 0 THEN {key} END AS k, {RUN_COLUMNS}
        FROM agent_runs CROSS JOIN LATERAL jsonb_each_text(tags) AS e
        WHERE {where} AND tags IS NOT NULL AND e.key = ANY({keys_param}::text[])
    ), ranked AS (
        SELECT b, tag_key, raw_value, row_number() OVER (
            PARTITION BY b, tag_key ORDER BY count(*) DESC, raw_value COLLATE "C") AS rn
        FROM t WHERE raw_value <> '{TAG_OTHER}' GROUP BY b, tag_key, raw_value
    ), capped AS (
        SELECT t.*, CASE WHEN ranked.rn <= {cap_param} THEN t.raw_value
                         ELSE '{TAG_OTHER}' END AS tag_value
        FROM t LEFT JOIN ranked USING (b, tag_key, raw_value)
    ), {_collapse(min_runs_param)}, {_AGGREGATED}
    """


# Sums per group, and the group's latency bins and price versions from finer groups.
_AGGREGATED = f"""bins AS (
        SELECT {_GROUP}, array_agg(k) FILTER (WHERE k IS NOT NULL) AS lat_keys,
               array_agg(n) FILTER (WHERE k IS NOT NULL) AS lat_counts,
               coalesce(sum(n) FILTER (WHERE k IS NULL), 0)::bigint AS lat_zero,
               array_agg(price_version) FILTER (WHERE price_version IS NOT NULL)
                   AS price_versions
        FROM (SELECT {_GROUP}, k, price_version, count(*) AS n FROM c
              GROUP BY {_GROUP}, k, price_version) AS fine
        GROUP BY {_GROUP}
    ), g AS (
        SELECT {_GROUP}, {_SUMS}{_SPLIT}{_IDS} FROM c GROUP BY {_GROUP}
    )
    SELECT g.*, bins.lat_keys, bins.lat_counts, bins.lat_zero, bins.price_versions
    FROM g JOIN bins USING ({_GROUP})"""


async def _fetch(conn: Connection, sql: str, args: list[Any]) -> list[Any]:
    """Run ``sql`` hashing its groups (as ``store.aggregate`` does) and without JIT: the
    ranking's sort is then priced as disabled, which would make Postgres JIT-compile
    the statement for about a second even when it finds no row."""
    async with conn.transaction():
        old = await conn.fetchrow(
            "SELECT current_setting('enable_sort') AS sort, current_setting('work_mem') AS mem,"
            " current_setting('jit') AS jit"
        )
        assert old is not None  # a SELECT without FROM returns one row
        await conn.execute(
            f"SET LOCAL enable_sort = off; SET LOCAL work_mem = '{WORK_MEM}'; SET LOCAL jit = off"
        )
        rows: list[Any] = await conn.fetch(sql, *args)
        await conn.execute(
            "SELECT set_config('enable_sort', $1, true), set_config('work_mem', $2, true),"
            " set_config('jit', $3, true)",
            old["sort"],
            old["mem"],
            old["jit"],
        )
    return rows


async def aggregate_tagged(
    conn: Connection,
    raw: Selection,
    keys: Sequence[str],
    cap: int,
    bucket: str | None = None,
    min_runs: int | None = None,
) -> dict[TagKey, Tally]:
    """Full-key tag tallies of the raw rows ``raw`` selects: per bucket (``bucket``
    ``"hour"``/``"day"``, or ``None``: one bucket at ``raw.start``) and key of ``keys``,
    its ``cap`` most-run values and ``__other__``. With ``min_runs``, the (bucket, key)
    groups averaging fewer runs come back at ``dims == 0`` (see the module)."""
    where, args = raw.raw_where()
    n = len(args)
    params = [*args, list(keys), cap] + ([] if min_runs is None else [min_runs])
    sql = tagged_sql(where, f"${n + 1}", f"${n + 2}", bucket,
                     None if min_runs is None else f"${n + 3}")  # fmt: skip
    out: dict[TagKey, Tally] = {}
    for row in await _fetch(conn, sql, params):
        key = TagKey(row["b"], row["tag_key"], row["tag_value"], row["agent"], row["model"],
                     row["err"], FULL if row["full_key"] else 0)  # fmt: skip
        out[key] = _tally(row)
    return out


def _tally(row: Any) -> Tally:
    """One group's tally: sums as they are, bins from their arrays, ids sketched."""
    tally = Tally(
        runs=row["runs"], successes=row["successes"], failures=row["runs"] - row["successes"],
        duration_sum=row["duration_sum"], duration_min=row["duration_min"],
        duration_max=row["duration_max"],
        latency=LatencySketch.from_counts(row["lat_zero"], row["lat_keys"] or [],
                                          row["lat_counts"] or []),
    )  # fmt: skip
    sums = vars(tally)
    for name in ROW_SUMS:
        sums[name] = row[name]
    tally.price_versions = set(row["price_versions"] or ())
    _sketch(tally, [row["users"]] if row["users"] else [],
            [row["sessions"]] if row["sessions"] else [])  # fmt: skip
    return tally


def _sketch(tally: Tally, users: list[list[str]], sessions: list[list[str]]) -> None:
    for parts, target in ((users, tally.users), (sessions, tally.sessions)):
        sketch = hll_from_values(chain.from_iterable(parts))
        if sketch is not None:
            target.append(sketch)
