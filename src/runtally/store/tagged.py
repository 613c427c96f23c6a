"""Aggregate raw runs per tag value, in SQL, with the cardinality cap applied there.

The hourly tag rollup needs, per tag key of
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
and the API reads its other questions from raw rows (``store.tag_raw``: uncapped, one
key, no expansion). Sums are those of ``store.aggregate`` and latency bins use the same
SQL key, so tag rows and rollup rows agree exactly.

Structure: the runs are expanded by tag (``runs``: one row per run and rolled-up key,
never stored, so 1M runs x 5 keys are not kept on disk) and read in two passes. The
first groups them into ``combos`` (bucket, key, raw value, agent, model, error type,
price version): a few thousand rows per hour, from which the ranking (``capped``), the
collapse test (``keep``) and the small ``value_map`` (bucket, key, raw value) -> (kept
value, full key) come. The second pass joins each expanded run to that map and groups
it straight into its final group: sums, the user and session ids and the runs' latency
bins as arrays (one hash level; a finer level per bin was slower, its 830k groups per 1M
runs spilled). Price versions come from ``combos``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from runtally.constants import TAG_OTHER
from runtally.cube import FULL
from runtally.sketch import SQL_KEY, LatencySketch, hll_from_values
from runtally.store.aggregate import _IDS, _SUMS, _bucket_expr
from runtally.store.intarrays import int_arrays
from runtally.store.protocols import Connection
from runtally.store.scoped import HASHED, fetch_with
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

# Per run, once (not once per tag): the bucket, the group columns and the latency bin.
_RUN = """{bucket} AS b, agent, model, coalesce(error_type, '') AS err,
               CASE WHEN duration_ms > 0 THEN {key} END AS k, price_version,
               cost_source IS NOT DISTINCT FROM 'event' AS carried, status, duration_ms,
               input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
               cost_usd, ttft_ms, user_id, session_id, tags"""
# What the second pass keeps of a run besides its group.
_MEASURES = ("k, carried, status, duration_ms, input_tokens, output_tokens, cache_read_tokens,"
             " cache_write_tokens, cost_usd, ttft_ms, user_id, session_id")  # fmt: skip
_COMBO = "b, tag_key, raw_value, agent, model, err, price_version"
_GROUP = "b, tag_key, tag_value, agent, model, err, full_key"
# A group's latency bins: the bin of each of its runs, as one binary array (decoded by
# numpy for all groups at once, then counted: ``_tally``).
_BINS = """,
    array_send(coalesce(array_agg(k) FILTER (WHERE k IS NOT NULL), '{}')) AS lat_keys,
    count(*) FILTER (WHERE k IS NULL) AS lat_zero
"""


def _placed(source: str, columns: str, collapsing: bool) -> str:
    """``source``'s rows under their group: capped value, blanked where collapsed."""
    blank = "CASE WHEN full_key THEN {0} ELSE '' END AS {0}" if collapsing else "{0}"
    return f"""(SELECT b, tag_key, tag_value, {blank.format("agent")},
               {blank.format("model")}, {blank.format("err")}, full_key, {columns}
        FROM {source} JOIN value_map USING (b, tag_key, raw_value)) AS placed"""


def _placing(cap_param: str, min_runs_param: str | None) -> str:
    """The ``capped`` and ``value_map`` CTEs: per (bucket, key, raw value), the value it is
    kept under and whether its (bucket, key) keeps its full key."""
    capped = f"""capped AS MATERIALIZED (
        SELECT b, tag_key, raw_value, CASE WHEN raw_value <> '{TAG_OTHER}' AND row_number()
                   OVER (PARTITION BY b, tag_key, raw_value = '{TAG_OTHER}'
                         ORDER BY sum(n) DESC, raw_value COLLATE "C") <= {cap_param}
               THEN raw_value ELSE '{TAG_OTHER}' END AS tag_value
        FROM combos GROUP BY b, tag_key, raw_value
    )"""
    if min_runs_param is None:
        return f"{capped}, value_map AS (SELECT *, true AS full_key FROM capped)"
    # Two hashed levels, not count(DISTINCT (...)): that one sorts its rows by a record.
    return f"""{capped}, keep AS (
        SELECT b, tag_key, sum(n) >= {min_runs_param}::bigint * count(*) AS full_key
        FROM (SELECT b, tag_key, tag_value, agent, model, err, sum(n) AS n
              FROM combos JOIN capped USING (b, tag_key, raw_value)
              GROUP BY b, tag_key, tag_value, agent, model, err) AS capped_combos
        GROUP BY b, tag_key
    ), value_map AS MATERIALIZED (SELECT * FROM capped JOIN keep USING (b, tag_key))"""


def tagged_sql(where: str, keys_param: str, cap_param: str, bucket: str | None = None,
               min_runs_param: str | None = None) -> str:  # fmt: skip
    """The statement: ``where`` selects the raw rows (its parameters first, $2 the
    start); ``bucket`` ``"hour"``/``"day"`` buckets the runs (``None``: one bucket);
    ``min_runs_param`` collapses the (bucket, key) groups that do not compress.

    One row per (bucket, key, value, agent, model, error type); ``full_key`` says
    whether it is full-key or collapsed. No aggregate has DISTINCT or ORDER BY, so every
    level hashes its groups: a group's price versions repeat and its bins come one per
    run; ``_tally`` dedupes and counts them. A JSON null value is never ranked and goes
    to ``__other__``, as the value ``__other__`` itself does (``coalesce`` below).
    """
    run = _RUN.format(bucket=_bucket_expr(bucket, "$2"), key=SQL_KEY.format(x="duration_ms"))
    collapsing = min_runs_param is not None
    return f"""
    WITH runs AS NOT MATERIALIZED (
        SELECT r.*, e.key AS tag_key, coalesce(e.value, '{TAG_OTHER}') AS raw_value
        FROM (SELECT {run} FROM agent_runs WHERE {where} AND tags IS NOT NULL) AS r
        CROSS JOIN LATERAL jsonb_each_text(r.tags) AS e
        WHERE e.key = ANY({keys_param}::text[])
        OFFSET 0
    ), combos AS MATERIALIZED (
        SELECT {_COMBO}, count(*) AS n FROM runs GROUP BY {_COMBO}
    ), {_placing(cap_param, min_runs_param)}, versions AS (
        SELECT {_GROUP}, array_agg(price_version) FILTER (WHERE price_version IS NOT NULL)
                   AS price_versions
        FROM {_placed("combos", "price_version", collapsing)} GROUP BY {_GROUP}
    ), g AS (
        SELECT {_GROUP}, {_SUMS}{_SPLIT}{_IDS}{_BINS}
        FROM {_placed("runs", _MEASURES, collapsing)} GROUP BY {_GROUP}
    )
    SELECT * FROM g JOIN versions USING ({_GROUP})"""


# The statement's settings (``scoped.fetch_with``). Sorts and nested loops are priced
# as disabled: Postgres cannot estimate the groups of ``date_bin``, the bin or a tag's
# values and expects a handful of rows where there are thousands, so it would sort
# every run (``store.aggregate``'s planner note) and join the groups in nested loops
# (seen to take minutes); the tag expansion, a lateral call, stays a loop as it must.
# JIT off: with those prices Postgres would JIT-compile the statement for about a
# second even when it finds no row. Custom plans only: asyncpg prepares the statement,
# and from its sixth run on a connection Postgres may pick a generic plan, blind to
# the time range.
SETTINGS = {**HASHED, "enable_nestloop": "off", "jit": "off",
            "plan_cache_mode": "force_custom_plan"}  # fmt: skip


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
    rows = await fetch_with(conn, sql, params, SETTINGS)
    for row, ks in zip(rows, int_arrays([row["lat_keys"] for row in rows]), strict=True):
        key = TagKey(row["b"], row["tag_key"], row["tag_value"], row["agent"], row["model"],
                     row["err"], FULL if row["full_key"] else 0)  # fmt: skip
        out[key] = _tally(row, ks)
    return out


def _tally(row: Any, ks: npt.NDArray[np.int64]) -> Tally:
    """One group's tally: sums as they are, bins counted from its runs' bin keys ``ks``,
    ids sketched."""
    tally = Tally(
        runs=row["runs"], successes=row["successes"], failures=row["runs"] - row["successes"],
        duration_sum=row["duration_sum"], duration_min=row["duration_min"],
        duration_max=row["duration_max"],
        latency=LatencySketch.from_keys(row["lat_zero"], ks),
    )  # fmt: skip
    sums = vars(tally)
    for name in ROW_SUMS:
        sums[name] = row[name]
    tally.price_versions = set(row["price_versions"] or ())
    # Each group's ids come in one array (repeats and all): sketched as they are.
    for ids, target in ((row["users"], tally.users), (row["sessions"], tally.sessions)):
        sketch = hll_from_values(ids or ())
        if sketch is not None:
            target.append(sketch)
    return tally
