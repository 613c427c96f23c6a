"""Rollup rows summed in SQL per answer bucket, for callers that fold by answer bucket.

A local-day series merges 24 hourly rows per day, a 30-day breakdown 30 daily rows per
key: read one by one, those are 720 rows sent, decoded, turned into tallies and folded
in Python. Here Postgres sums them per (answer bucket, key columns) instead, daily,
hourly and quarter-hour rows in one statement, and sends one row each, its bins the
rows' packed bins end to end (``string_agg``), added up by numpy. The sums are
Postgres's (``numeric`` for costs: exact); min and max are exact; the bins are the
rows' bins added, so percentiles are those of the row-by-row fold.

Only for answers without distinct users or sessions (no HLL is read) and rows with
packed bins (migration 0008 backfilled them; a row without is reported and the caller
reads the rows one by one). A part's bucket is the first row bucket of its group, inside
its answer bucket.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from runtally.packedbins import unpack_all
from runtally.sketch import LatencySketch
from runtally.store.selection import Selection, bucket_clause, shared_scope
from runtally.store.tagged_sql import merged_column
from runtally.tally import ROLLUP_FIELDS, Tally

_NOT_READ = frozenset({"lat_keys", "lat_counts", "users_hll", "sessions_hll"})
# What each table's rows are read with, to be summed.
_READ = ", ".join(
    ["bucket", "agent", "model", "error_type", *(c for c in ROLLUP_FIELDS if c not in _NOT_READ),
     "lat_bins"]
)  # fmt: skip


def _merged(column: str) -> str:
    if column in _NOT_READ:
        return f"NULL::bytea AS {column}"
    if column == "price_versions":
        return "jsonb_agg(price_versions) AS price_versions"
    return merged_column(column)


def merged_sql(reads: Sequence[tuple[str, list[Any]]], selection: Selection, dims: int,
               answer: list[Any]) -> tuple[str, list[Any]]:  # fmt: skip
    """The rows of each ``(table, buckets)`` of ``reads`` (at grouping set ``dims``)
    summed together per answer bucket (``answer``: their ascending starts) and key
    columns, in one statement (a round trip per table is a fair share of a short answer);
    ``unpacked`` counts the rows without packed bins."""
    shared, args = shared_scope(selection, dims)
    branches = []
    for table, buckets in reads:  # each table's buckets append their own arguments
        scope = " AND ".join([*shared, bucket_clause(table, buckets, args)])
        branches.append(f"SELECT {_READ} FROM {table} WHERE {scope}")
    args.append(holding(answer, [b for _, buckets in reads for b in buckets]))
    width = f"${len(args)}::timestamptz[]"
    columns = ", ".join(_merged(c) for c in ROLLUP_FIELDS)
    sql = (
        f"SELECT min(bucket) AS bucket, agent, model, error_type, {columns},"
        " string_agg(lat_bins, ''::bytea) AS lat_bins,"
        " count(*) FILTER (WHERE lat_bins IS NULL) AS unpacked"
        f" FROM ({' UNION ALL '.join(branches)}) AS r"
        f" GROUP BY width_bucket(bucket, {width}), agent, model, error_type"
    )
    return sql, args


def holding(answer: list[Any], buckets: list[Any]) -> list[Any]:
    """The starts of the answer buckets (``answer``, ascending) holding ``buckets`` (each
    at or after ``answer[0]``), ascending. ``width_bucket`` over these puts every row in
    the same group as over all of ``answer``, from an array as long as the rows' answer
    buckets are many: an hourly series sums only its edge hours' rows here, and sending
    all 720 starts took longer than summing them. ``ValueError`` for a bucket before
    ``answer[0]``."""
    if buckets and min(buckets) < answer[0]:
        raise ValueError("a bucket lies before the first answer bucket")
    return sorted({answer[bisect_right(answer, b) - 1] for b in buckets})


def merged_tallies(rows: list[Any]) -> list[Tally]:
    """The tallies of ``merged_sql``'s rows (none of which may have ``unpacked`` rows)."""
    blobs = unpack_all([row["lat_bins"] or b"" for row in rows])
    out = []
    for row, (keys, counts) in zip(rows, blobs, strict=True):
        sketch = LatencySketch.from_counts(row["lat_zero"], keys, counts)
        # One JSON array per row (decoded by the pool's jsonb codec), NULL where none.
        versions = {v for group in row["price_versions"] or () for v in group or ()}
        out.append(Tally.from_row({**row, "price_versions": versions}, sketch))
    return out
