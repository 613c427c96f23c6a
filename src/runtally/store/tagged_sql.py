"""The tag aggregate statement (``store.tagged`` runs it and decodes its rows).

Runs are never expanded per tag; the statement reads them twice. The first pass counts
runs per tag set (``tagsets``: bucket, agent, model, error type, price version and the
run's tags) and expands only those sets per key into ``combos``
(bucket, key, raw value, agent, model, error type, price version, runs): from them the
ranking (``capped``, its ``kept`` values within the cap) and the collapse test
(``keep``). The second pass gives each run its kept values (one hashed probe into
``kept`` per key: a value beyond the cap becomes ``__other__`` here) and groups the
runs by them into ``fine`` groups, each with its sums, its runs' user and session ids
and latency bins as arrays, and an id (``fid``). Grouping by kept values, not raw ones,
bounds the fine groups by the cap: a runaway key (a request id as a tag) folds into
``__other__`` before any run is grouped. The fine groups are then expanded per key into
the final groups (``g``) with their sums merged and their fine groups' ids
(``members``).

The statement returns two kinds of rows in one result: final groups (``fid`` NULL:
group columns, merged sums, ``members``, price versions) and fine groups (``fid`` set:
ids and bins). ``store.tagged`` merges each final group's members' arrays: every run's
ids and bin are sent once, not once per key.
"""

from __future__ import annotations

from runtally.constants import TAG_OTHER
from runtally.sketch import SQL_KEY
from runtally.store.aggregate import _IDS, _SUMS, _bucket_expr

# A run's cost split (``tally.COST_SPLIT``) as ``store.aggregate`` keeps it: runs that
# carried their cost, with their cost and tokens; runs without tokens among the others.
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
# A fine group's latency bins: the bin of each of its runs, as one binary array.
_BINS = """,
    array_send(coalesce(array_agg(k) FILTER (WHERE k IS NOT NULL), '{}')) AS lat_keys,
    count(*) FILTER (WHERE k IS NULL) AS lat_zero
"""
# Per run: the bucket, the group columns, the latency bin and the measures.
_RUN = """{bucket} AS b, agent, model, coalesce(error_type, '') AS err,
               CASE WHEN duration_ms > 0 THEN {key} END AS k, price_version,
               cost_source IS NOT DISTINCT FROM 'event' AS carried, status, duration_ms,
               input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
               cost_usd, ttft_ms, user_id, session_id"""
# A fine group's sums and how final groups merge them (``sum`` unless named here).
MERGED = ("runs", "successes", "duration_sum", "duration_min", "duration_max",
          "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
          "cost_usd", "unpriced_runs", "ttft_sum", "ttft_count", "event_runs",
          "event_cost_usd", "event_input_tokens", "event_output_tokens",
          "event_cache_read_tokens", "event_cache_write_tokens", "tokenless_runs")  # fmt: skip
_MERGE = {"duration_min": "min", "duration_max": "max"}
# Merged as they are; the others are counts, whose sums Postgres makes numeric.
_UNCAST = ("duration_sum", "duration_min", "duration_max", "cost_usd", "ttft_sum",
           "event_cost_usd")  # fmt: skip
# The fine-group columns the final rows do not carry, and their types.
FINE_ONLY = (("fid", "bigint"), ("users", "text[]"), ("sessions", "text[]"),
             ("lat_keys", "bytea"), ("lat_zero", "bigint"))  # fmt: skip
_COMBO = "b, tag_key, raw_value, agent, model, err, price_version"
GROUP = ("b", "tag_key", "tag_value", "agent", "model", "err", "full_key")
_FINAL = (*GROUP, *MERGED, "members", "price_versions")


def merged_column(name: str) -> str:
    """``name`` of a group of rows merged into one in SQL (a select item): ``min``/``max``
    for the duration bounds, else a ``sum`` (counts cast back to ``bigint``)."""
    op = _MERGE.get(name, "sum")
    cast = "" if name in _UNCAST else "::bigint"
    return f"{op}({name}){cast} AS {name}"


def _ranking(cap_param: str, min_runs_param: str | None) -> str:
    """The ``capped`` and ``keep`` CTEs: per (bucket, key, raw value), the value it is
    kept under; per (bucket, key), whether it keeps its full key."""
    capped = f"""capped AS MATERIALIZED (
        SELECT b, tag_key, raw_value, CASE WHEN raw_value <> '{TAG_OTHER}' AND row_number()
                   OVER (PARTITION BY b, tag_key, raw_value = '{TAG_OTHER}'
                         ORDER BY sum(n) DESC, raw_value COLLATE "C") <= {cap_param}
               THEN raw_value ELSE '{TAG_OTHER}' END AS tag_value
        FROM combos GROUP BY b, tag_key, raw_value
    ), kept AS MATERIALIZED (
        SELECT b, tag_key, raw_value FROM capped WHERE tag_value <> '{TAG_OTHER}'
    )"""
    if min_runs_param is None:
        return f"{capped}, keep AS (SELECT DISTINCT b, tag_key, true AS full_key FROM combos)"
    # Two hashed levels, not count(DISTINCT (...)): that one sorts its rows by a record.
    return f"""{capped}, keep AS MATERIALIZED (
        SELECT b, tag_key, sum(n) >= {min_runs_param}::bigint * count(*) AS full_key
        FROM (SELECT b, tag_key, tag_value, agent, model, err, sum(n) AS n
              FROM combos JOIN capped USING (b, tag_key, raw_value)
              GROUP BY b, tag_key, tag_value, agent, model, err) AS capped_combos
        GROUP BY b, tag_key
    )"""


def _runs(where: str, keys_param: str, bucket: str) -> str:
    """The ``runs`` CTE (runs carrying at least one of the keys; read twice) and the
    first pass: runs counted per tag set, the sets expanded into ``combos``."""
    run = _RUN.format(bucket=bucket, key=SQL_KEY.format(x="duration_ms"))
    return f"""runs AS NOT MATERIALIZED (
        SELECT {run}, tags FROM agent_runs WHERE {where} AND tags ?| {keys_param}::text[]
    ), tagsets AS (
        SELECT b, agent, model, err, price_version, tags, count(*) AS n
        FROM runs GROUP BY b, agent, model, err, price_version, tags
    ), combos AS MATERIALIZED (
        SELECT b, e.key AS tag_key, coalesce(e.value, '{TAG_OTHER}') AS raw_value, agent,
               model, err, price_version, sum(n) AS n
        FROM tagsets CROSS JOIN LATERAL jsonb_each_text(tags) AS e
        WHERE e.key = ANY({keys_param}::text[]) GROUP BY 1, 2, 3, 4, 5, 6, 7
    )"""


def _kept_join(keys_param: str, i: int) -> str:
    """Joins run's value of key ``i`` to ``kept`` (hashed: one probe per run and key)."""
    key = f"({keys_param}::text[])[{i}]"
    return f"""LEFT JOIN kept AS k{i}
        ON k{i}.b = r.b AND k{i}.tag_key = {key} AND k{i}.raw_value = r.tags ->> {key}"""


def _capped_value(keys_param: str, i: int) -> str:
    """Run's value of key ``i`` as kept: itself if ranked within the cap, else
    ``__other__`` (JSON null included); NULL if the run lacks the key."""
    return f"""CASE WHEN r.tags ? ({keys_param}::text[])[{i}]
        THEN coalesce(k{i}.raw_value, '{TAG_OTHER}') END"""


def _fine(keys_param: str, n_keys: int) -> str:
    """The ``fine`` CTE: runs grouped by their kept values of the keys (``cvals``)."""
    numbers = range(1, n_keys + 1)
    cvals = ", ".join(_capped_value(keys_param, i) for i in numbers)
    joins = "\n".join(_kept_join(keys_param, i) for i in numbers)
    return f"""fine AS MATERIALIZED (
        SELECT row_number() OVER () AS fid, *
        FROM (SELECT b, agent, model, err, price_version, cvals,
                     {_SUMS}{_SPLIT}{_IDS}{_BINS}
              FROM (SELECT r.*, ARRAY[{cvals}] AS cvals FROM runs AS r {joins}) AS r
              GROUP BY b, agent, model, err, price_version, cvals) AS f
    )"""


def _placed(collapsing: bool) -> str:
    """Expanded fine groups under their group: blanked where collapsed."""
    blank = "CASE WHEN full_key THEN {0} ELSE '' END AS {0}" if collapsing else "{0}"
    columns = ", ".join(("fid", "price_version", *MERGED))
    return f"""(SELECT b, tag_key, tag_value, {blank.format("agent")},
               {blank.format("model")}, {blank.format("err")}, full_key, {columns}
        FROM expanded JOIN keep USING (b, tag_key)) AS placed"""


def tagged_sql(where: str, keys_param: str, n_keys: int, cap_param: str,
               bucket: str | None = None, min_runs_param: str | None = None) -> str:  # fmt: skip
    """The statement: ``where`` selects the raw rows (its parameters first, $2 the
    start); ``keys_param`` holds ``n_keys`` keys; ``bucket`` ``"hour"``/``"day"``
    buckets the runs (``None``: one bucket); ``min_runs_param`` collapses the (bucket,
    key) groups that do not compress.

    No aggregate has DISTINCT or ORDER BY, so every level hashes its groups. A JSON
    null value is never ranked and goes to ``__other__``, as the value ``__other__``
    itself does (``jsonb_each_text`` and ``->>`` give a value's text, NULL for JSON null).
    """
    runs = _runs(where, keys_param, _bucket_expr(bucket, "$2"))
    final = ", ".join(_FINAL)
    nulls = ", ".join(f"NULL::{kind} AS {name}" for name, kind in FINE_ONLY)
    fine_columns = ", ".join(name for name, _ in FINE_ONLY)
    return f"""
    WITH {runs}, {_ranking(cap_param, min_runs_param)}, {_fine(keys_param, n_keys)},
    expanded AS (
        SELECT fid, b, e.tag_key, e.v AS tag_value, agent, model, err, price_version,
               {", ".join(MERGED)}
        FROM fine CROSS JOIN LATERAL unnest({keys_param}::text[], cvals) AS e(tag_key, v)
        WHERE e.v IS NOT NULL
    ), g AS (
        SELECT {", ".join(GROUP)}, {", ".join(merged_column(name) for name in MERGED)},
               array_send(array_agg(fid)) AS members,
               array_agg(price_version) FILTER (WHERE price_version IS NOT NULL)
                   AS price_versions
        FROM {_placed(min_runs_param is not None)} GROUP BY {", ".join(GROUP)}
    )
    SELECT {final}, {nulls} FROM g
    UNION ALL
    SELECT {", ".join("NULL" for _ in _FINAL)}, {fine_columns} FROM fine"""
