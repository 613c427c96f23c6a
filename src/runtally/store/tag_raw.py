"""One tag key's values of raw rows, uncapped: the raw side of a tag answer.

A tag answer reads raw rows for dirty hours, range edges and keys that are not rolled
up. Those answers keep every value (no cardinality cap: the raw rows are bounded by the
range), so they need neither the rollup's per-run tag expansion nor its ranking
(``store.tagged``): ONE hashed pass groups the runs carrying ``key`` by bucket, value
and only the key columns the answer needs, like ``store.aggregate`` (whose fine groups
and fold it shares, so sums and latency bins are the same). A JSON ``null`` value and a
value spelled ``__other__`` count as ``__other__``, as in the tag rollup.
"""

from __future__ import annotations

from runtally.constants import TAG_OTHER
from runtally.store.aggregate import _bucket_expr, fine_sql, fold_fine
from runtally.store.protocols import Connection
from runtally.store.scoped import HASHED, fetch_with
from runtally.store.selection import Selection
from runtally.tags import TagKey
from runtally.tally import Tally


async def aggregate_by_tag(conn: Connection, selection: Selection, key: str, dims: int,
                           bucket: str | None, distinct: bool = True
                           ) -> list[tuple[TagKey, Tally]]:  # fmt: skip
    """Per bucket (``"q15"``, ``"hour"``, ``"day"``, or ``None``: one bucket at
    ``selection.start``) and value of ``key``, the tally of the raw rows ``selection``
    selects that carry ``key``, at grouping set ``dims``; ids sketched with
    ``distinct``."""
    where, args = selection.raw_where()
    args.append(key)
    name = f"${len(args)}::text"
    value = f"coalesce(nullif(tags ->> {name}, '{TAG_OTHER}'), '{TAG_OTHER}')"
    sql = fine_sql(f"{where} AND tags ? {name}", _bucket_expr(bucket, "$2"), distinct, dims,
                   value)  # fmt: skip
    found = fold_fine(await fetch_with(conn, sql, args, HASHED), 5, distinct)
    return [(TagKey(k[0], key, k[1], k[2], k[3], k[4], dims), tally)
            for k, tally in found.items()]  # fmt: skip
