"""Per-user and per-session sums of raw runs, in SQL: a bucket's top K, or every id.

One statement scans the rows once (``GROUPING SETS ((user_id), (session_id))``), ranks
each kind's ids by cost, then runs, then id (``COLLATE "C"``: Python's str order, the
order of ``topk.select``) and returns the ``k`` first of each kind plus one remainder
row per kind with the exact sums of the others, their number and the largest of them
(``topk.Rest``). Runs without a user (session) id are in no user (session) row.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from runtally.store.protocols import Connection, Record
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


def top_sql(where: str, k_param: str, kinds: tuple[str, ...] = KINDS) -> str:
    """The statement for ``kinds`` (both: one scan with grouping sets)."""
    if len(kinds) == 1:
        kind, item = f"'{kinds[0]}'::text", COLUMN[kinds[0]]
    else:
        kind = "CASE WHEN GROUPING(user_id) = 0 THEN 'user' ELSE 'session' END"
        item = "coalesce(user_id, session_id)"
    sets = ", ".join(f"({COLUMN[k]})" for k in kinds)
    values = ", ".join(f"('{k}')" for k in kinds)
    return f"""
    WITH ids AS (
        SELECT {kind} AS kind, {item} AS item, {_PER_ID}
        FROM agent_runs WHERE {where}
        GROUP BY GROUPING SETS ({sets})
    ), ranked AS (
        SELECT *, row_number() OVER (
            PARTITION BY kind ORDER BY cost DESC, runs DESC, item COLLATE "C") AS rn
        FROM ids WHERE item IS NOT NULL
    )
    SELECT kind, false AS is_rest, item, runs, successes, duration_sum, input_tokens,
           output_tokens, cache_read_tokens, cache_write_tokens, cost,
           NULL::bigint AS items, NULL::numeric AS max_cost, NULL::bigint AS max_runs
    FROM ranked WHERE rn <= {k_param}
    UNION ALL
    SELECT k.kind, true, '', {_REST}
    FROM (VALUES {values}) AS k(kind)
    LEFT JOIN ranked ON ranked.kind = k.kind AND ranked.rn > {k_param}
    GROUP BY k.kind
    """


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
    for row in await conn.fetch(top_sql(where, f"${len(args) + 1}", kinds), *args, limit):
        add_row(tops, row)
    return tops
