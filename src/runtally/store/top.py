"""Per-user and per-session sums of raw runs, in SQL: a bucket's top K, or every id.

One statement sums each kind's ids (one hashed GROUP BY per kind: Postgres sorts every
run for ``GROUPING SETS`` of this size), picks each kind's ``k`` first by cost, then
runs, then id (``COLLATE "C"``: Python's str order, the order of ``topk.select``) with a
top-N sort, and returns them plus one remainder row per kind with the exact sums of the
others, their number and the largest of them (``topk.Rest``). Runs without a user
(session) id are in no user (session) row.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from runtally.store.protocols import Connection, Record
from runtally.store.scoped import HASHED, fetch_with
from runtally.store.selection import Selection
from runtally.topk import BucketTop, Item, Rest

KINDS = ("user", "session")
FIGURES = (
    "runs", "successes", "duration_sum", "input_tokens", "output_tokens",
    "cache_read_tokens", "cache_write_tokens", "cost",
)  # fmt: skip

_PER_ID = """
    count(*) AS runs, count(*) FILTER (WHERE status = 'success') AS successes,
    sum(duration_ms) AS duration_sum,
    coalesce(sum(input_tokens), 0)::bigint AS input_tokens,
    coalesce(sum(output_tokens), 0)::bigint AS output_tokens,
    coalesce(sum(cache_read_tokens), 0)::bigint AS cache_read_tokens,
    coalesce(sum(cache_write_tokens), 0)::bigint AS cache_write_tokens,
    coalesce(sum(cost_usd), 0) AS cost
"""
_REST = """
    coalesce(sum(runs), 0)::bigint, coalesce(sum(successes), 0)::bigint,
    coalesce(sum(duration_sum), 0)::float8, coalesce(sum(input_tokens), 0)::bigint,
    coalesce(sum(output_tokens), 0)::bigint, coalesce(sum(cache_read_tokens), 0)::bigint,
    coalesce(sum(cache_write_tokens), 0)::bigint, coalesce(sum(cost), 0),
    count(item), coalesce(max(cost), 0), coalesce(max(runs), 0)::bigint
"""


COLUMN = {"user": "user_id", "session": "session_id"}


def _listed(kind: str, k_param: str) -> str:
    """The ``k`` first ids of one kind: a top-N sort, not a rank of every id."""
    return f"""(SELECT * FROM ids WHERE kind = '{kind}'
             ORDER BY cost DESC, runs DESC, item COLLATE "C" LIMIT {k_param})"""


def _per_id(kind: str, where: str) -> str:
    """Every id of one kind with its sums (runs without one are in no id)."""
    column = COLUMN[kind]
    return f"""SELECT '{kind}'::text AS kind, {column} AS item, {_PER_ID}
        FROM agent_runs WHERE {where} AND {column} IS NOT NULL GROUP BY {column}"""


def top_sql(where: str, k_param: str, kinds: tuple[str, ...] = KINDS) -> str:
    """The statement for ``kinds``. The remainder is every other id (an anti-join with
    the listed ones), summed as it is."""
    ids = " UNION ALL ".join(_per_id(k, where) for k in kinds)
    values = ", ".join(f"('{k}')" for k in kinds)
    listed = " UNION ALL ".join(_listed(k, k_param) for k in kinds)
    return f"""
    WITH ids AS MATERIALIZED ({ids}), listed AS MATERIALIZED ({listed}), rest AS (
        SELECT ids.* FROM ids LEFT JOIN listed USING (kind, item)
        WHERE listed.item IS NULL
    )
    SELECT kind, false AS is_rest, item, runs, successes, duration_sum, input_tokens,
           output_tokens, cache_read_tokens, cache_write_tokens, cost,
           NULL::bigint AS items, NULL::numeric AS max_cost, NULL::bigint AS max_runs
    FROM listed
    UNION ALL
    SELECT k.kind, true, '', {_REST}
    FROM (VALUES {values}) AS k(kind) LEFT JOIN rest ON rest.kind = k.kind
    GROUP BY k.kind
    """


# Every id's sums are hashed (two hash tables, one per kind: sorting 1M runs by id
# spilled to disk), and without JIT: compiling the statement took over a second of
# its four at 1M runs.
SETTINGS = {**HASHED, "jit": "off"}


def item_of(row: Record) -> Item:
    """A listed or remainder row's figures (the error columns are 0 where absent)."""
    item = Item(
        cost_error=row.get("cost_error") or Decimal(0), runs_error=row.get("runs_error") or 0
    )
    for name in FIGURES:
        setattr(item, name, row[name])
    return item


def add_row(tops: dict[str, BucketTop], row: Record) -> None:
    """Fold one listed or remainder row (``kind``, ``is_rest``, ``item``, figures) in."""
    top = tops.setdefault(row["kind"], BucketTop())
    if row["is_rest"]:
        top.rest = Rest(item_of(row), row["items"], row["max_cost"], row["max_runs"])
    else:
        top.listed[row["item"]] = item_of(row)


async def top_ids(
    conn: Connection, raw: Selection, k: int | None, kinds: tuple[str, ...] = KINDS
) -> dict[str, BucketTop]:
    """Per kind of ``kinds``, the top ``k`` ids of the rows ``raw`` selects and the exact
    remainder (``k=None``: every id listed, the remainder empty)."""
    where, args = raw.raw_where()
    limit: Any = k if k is not None else 2**62
    tops: dict[str, BucketTop] = {kind: BucketTop() for kind in kinds}
    sql = top_sql(where, f"${len(args) + 1}", kinds)
    for row in await fetch_with(conn, sql, [*args, limit], SETTINGS):
        add_row(tops, row)
    return tops
