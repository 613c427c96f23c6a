"""Top-K rollup rows in Postgres: replace one bucket's rows, read them back.

``rollup_top_hourly`` / ``rollup_top_daily``: per (project, bucket, kind) the listed ids
and one remainder row (``is_rest``), the shapes of ``topk.BucketTop``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from runtally.store.protocols import Connection
from runtally.store.top import FIGURES, add_row
from runtally.topk import BucketTop, Item

TOP_TABLES = ("rollup_top_hourly", "rollup_top_daily")
TOP_COLUMNS = ("project", "bucket", "kind", "is_rest", "item", *FIGURES[:-1], "cost_usd",
               "cost_error", "runs_error", "items", "max_cost", "max_runs")  # fmt: skip
_SELECT = ", ".join(c if c != "cost_usd" else "cost_usd AS cost" for c in TOP_COLUMNS)


def _check(table: str) -> None:
    if table not in TOP_TABLES:
        raise ValueError(f"not a top-K rollup table: {table}")


def _figures(item: Item) -> tuple[Any, ...]:
    return (*(getattr(item, name) for name in FIGURES), item.cost_error, item.runs_error)


def top_records(
    project: str, bucket: datetime, tops: Mapping[str, BucketTop]
) -> list[tuple[Any, ...]]:
    out = []
    for kind, top in sorted(tops.items()):
        for item, figures in sorted(top.listed.items()):
            out.append((project, bucket, kind, False, item, *_figures(figures), None, None, None))
        rest = top.rest
        out.append((project, bucket, kind, True, "", *_figures(rest.sums), rest.items,
                    rest.max_cost, rest.max_runs))  # fmt: skip
    return out


async def replace_top_rows(
    conn: Connection,
    table: str,
    project: str,
    bucket: tuple[datetime, datetime],
    tops: Mapping[str, BucketTop],
) -> int:
    """Replace the rows of ``project`` with buckets in ``[start, end)`` by ``tops``
    (bucketed at ``start``), inside the caller's transaction; rows written."""
    _check(table)
    start, end = bucket
    await conn.execute(
        f"DELETE FROM {table} WHERE project = $1 AND bucket >= $2 AND bucket < $3",
        project,
        start,
        end,
    )
    records = top_records(project, start, tops)
    if records:
        await conn.copy_records_to_table(table, records=records, columns=list(TOP_COLUMNS))
    return len(records)


async def read_top_rows(
    conn: Connection, table: str, project: str, buckets: list[datetime], kind: str
) -> dict[datetime, BucketTop]:
    """The ``kind`` rows of ``buckets``; buckets without rows are absent."""
    _check(table)
    rows = await conn.fetch(
        f"SELECT {_SELECT} FROM {table} WHERE project = $1 "
        "AND bucket = ANY($2::timestamptz[]) AND kind = $3",
        project,
        buckets,
        kind,
    )
    out: dict[datetime, dict[str, BucketTop]] = {}
    for row in rows:
        add_row(out.setdefault(row["bucket"], {}), row)
    return {bucket: tops[kind] for bucket, tops in out.items()}
