"""Aggregate raw runs per tag value, in SQL, with the cardinality cap applied there.

The hourly tag rollup (and the API's fresh part of a tag answer) needs, per tag key of
``keys`` and value, the ``Tally`` of the runs carrying it, per (agent, model,
error_type). ONE statement expands each run's tags (``jsonb_each_text``), ranks each
key's values by runs (ties: the smaller value, ``COLLATE "C"`` = Python's str order) and
groups the runs of values beyond ``cap`` under ``__other__``, so a runaway key (a
request id sent as a tag) returns at most ``cap + 1`` values per key, not one per run.
The grouping is as fine as ``store.aggregate``'s (one latency bin per group) and the
Python fold is the same (``_add_fine``), so tag rows and rollup rows agree exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from itertools import chain
from typing import Any

from runtally.constants import TAG_OTHER
from runtally.sketch import SQL_KEY, hll_from_values
from runtally.store.aggregate import _IDS, _SUMS, WORK_MEM, _add_fine, _bucket_expr
from runtally.store.protocols import Connection
from runtally.store.selection import Selection
from runtally.tags import TagKey
from runtally.tally import Tally

RUN_COLUMNS = (
    "status, duration_ms, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,"
    " cost_usd, ttft_ms, user_id, session_id, agent, model"
)


def tagged_sql(where: str, keys_param: str, cap_param: str, bucket: str | None = None) -> str:
    """The statement: ``where`` selects the raw rows (its parameters first, $2 the
    start); ``bucket`` ``"hour"``/``"day"`` buckets the runs (``None``: one bucket)."""
    return f"""
    WITH t AS MATERIALIZED (
        SELECT {_bucket_expr(bucket, "$2")} AS b, e.key AS tag_key, e.value AS tag_value,
               coalesce(error_type, '') AS err,
               {RUN_COLUMNS}
        FROM agent_runs CROSS JOIN LATERAL jsonb_each_text(tags) AS e
        WHERE {where} AND tags IS NOT NULL AND e.key = ANY({keys_param}::text[])
    ), ranked AS (
        SELECT b, tag_key, tag_value, row_number() OVER (
            PARTITION BY b, tag_key ORDER BY count(*) DESC, tag_value COLLATE "C") AS rn
        FROM t WHERE tag_value <> '{TAG_OTHER}' GROUP BY b, tag_key, tag_value
    )
    SELECT t.b AS bucket, t.tag_key,
           CASE WHEN ranked.rn <= {cap_param} THEN t.tag_value ELSE '{TAG_OTHER}' END
               AS tag_value,
           agent, model, err AS error_type,
           CASE WHEN duration_ms > 0 THEN {SQL_KEY.format(x="duration_ms")} END AS k,
           {_SUMS}{_IDS}
    FROM t LEFT JOIN ranked USING (b, tag_key, tag_value)
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    """


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
) -> dict[TagKey, Tally]:
    """Full-key tag tallies of the raw rows ``raw`` selects: per bucket (``bucket``
    ``"hour"``/``"day"``, or ``None``: one bucket at ``raw.start``) and key of ``keys``,
    its ``cap`` most-run values and ``__other__``."""
    where, args = raw.raw_where()
    n = len(args)
    sql = tagged_sql(where, f"${n + 1}", f"${n + 2}", bucket)
    out: dict[TagKey, Tally] = defaultdict(Tally)
    ids: dict[TagKey, tuple[list[list[str]], list[list[str]]]] = defaultdict(lambda: ([], []))
    for row in await _fetch(conn, sql, [*args, list(keys), cap]):
        key = TagKey(row["bucket"], row["tag_key"], row["tag_value"], row["agent"], row["model"],
                     row["error_type"])  # fmt: skip
        _add_fine(out[key], row)
        users, sessions = ids[key]
        if row["users"]:
            users.append(row["users"])
        if row["sessions"]:
            sessions.append(row["sessions"])
    for key, (users, sessions) in ids.items():
        _sketch(out[key], users, sessions)
    return dict(out)


def _sketch(tally: Tally, users: list[list[str]], sessions: list[list[str]]) -> None:
    for parts, target in ((users, tally.users), (sessions, tally.sessions)):
        sketch = hll_from_values(chain.from_iterable(parts))
        if sketch is not None:
            target.append(sketch)
