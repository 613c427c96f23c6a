"""Tag rollup rows in Postgres: replace one bucket range's rows, read them back.

``rollup_tag_hourly`` / ``rollup_tag_daily`` rows are keyed by (project, bucket, tag_key,
dims, tag_value, agent, model, error_type) with the ``ROLLUP_FIELDS`` columns
(``runtally.tags`` says which grouping sets and values are kept).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from runtally.store.protocols import Connection
from runtally.tags import TagKey
from runtally.tally import ROLLUP_FIELDS, Tally

TAG_TABLES = ("rollup_tag_hourly", "rollup_tag_daily")
TAG_KEY_COLUMNS = ("project", "bucket", "tag_key", "tag_value", "dims", "agent", "model",
                   "error_type")  # fmt: skip
TAG_COLUMNS = TAG_KEY_COLUMNS + ROLLUP_FIELDS


def _check(table: str) -> None:
    if table not in TAG_TABLES:
        raise ValueError(f"not a tag rollup table: {table}")


def tag_record(project: str, key: TagKey, tally: Tally) -> tuple[Any, ...]:
    row = tally.to_row()
    return (project, key.bucket, key.key, key.value, key.dims, key.agent, key.model,
            key.error_type, *(row[name] for name in ROLLUP_FIELDS))  # fmt: skip


async def replace_tag_rows(
    conn: Connection,
    table: str,
    project: str,
    span: tuple[datetime, datetime],
    rows: Mapping[TagKey, Tally],
) -> int:
    """Replace ``table``'s rows of ``project`` with buckets in ``span`` (inside the
    caller's transaction). Returns the number of rows written."""
    _check(table)
    await conn.execute(
        f"DELETE FROM {table} WHERE project = $1 AND bucket >= $2 AND bucket < $3",
        project,
        *span,
    )
    records = [tag_record(project, key, tally) for key, tally in rows.items() if tally.runs]
    if records:
        await conn.copy_records_to_table(table, records=records, columns=list(TAG_COLUMNS))
    return len(records)


def tag_key_of(row: Any) -> TagKey:
    return TagKey(row["bucket"], row["tag_key"], row["tag_value"], row["agent"], row["model"],
                  row["error_type"], row["dims"])  # fmt: skip


async def read_tag_rows(
    conn: Connection, table: str, project: str, start: datetime, end: datetime
) -> list[tuple[TagKey, Tally]]:
    """Every row of ``project`` with a bucket in ``[start, end)``, in key order."""
    _check(table)
    rows = await conn.fetch(
        f"SELECT {', '.join(TAG_COLUMNS)} FROM {table} "
        "WHERE project = $1 AND bucket >= $2 AND bucket < $3 "
        'ORDER BY bucket, tag_key, dims, tag_value COLLATE "C", agent, model, error_type',
        project,
        start,
        end,
    )
    return [(tag_key_of(row), Tally.from_row(row)) for row in rows]
