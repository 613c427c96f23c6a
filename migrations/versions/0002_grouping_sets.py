"""Rollup grouping sets: a ``dims`` key column and the coarser rows of every bucket.

Adds ``dims`` (the bitmask of key columns a row keeps, ``runtally.cube``; existing rows
are full-key rows, 7) to ``rollup_hourly`` and ``rollup_daily``, puts it in the primary
key, and derives the grouping-set rows of every stored bucket from its full-key rows.
They are derived from the rollup rows themselves, not recomputed from raw rows, because
raw retention may already have dropped the runs of old buckets.

The backfill uses the application's ``cube``/``Tally``: if those ever change in a way
that breaks it, this migration must keep a copy of today's code.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from runtally.cube import FULL, GroupKey, cube
from runtally.rollup.rows import COLUMNS, record
from runtally.tally import ROLLUP_FIELDS, Tally

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("rollup_hourly", "rollup_daily")
OLD_KEY = "project, bucket, agent, model, error_type"
NEW_KEY = "project, bucket, dims, agent, model, error_type"
BUCKETS_PER_STEP = 24  # bounds the client memory of the backfill


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ADD COLUMN dims smallint NOT NULL DEFAULT {FULL}")
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
        op.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({NEW_KEY})")
        _backfill(op.get_bind(), table)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DELETE FROM {table} WHERE dims <> {FULL}")
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
        op.execute(f"ALTER TABLE {table} DROP COLUMN dims")
        op.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({OLD_KEY})")


def _chunks(items: Sequence[datetime], size: int) -> Iterator[Sequence[datetime]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _backfill(bind: Any, table: str) -> None:
    """Insert the grouping-set rows of every bucket of ``table``, a few buckets a step."""
    buckets = [r[0] for r in bind.execute(sa.text(f"SELECT DISTINCT bucket FROM {table}"))]
    select = sa.text(
        f"SELECT project, bucket, agent, model, error_type, {', '.join(ROLLUP_FIELDS)} "
        f"FROM {table} WHERE bucket = ANY(:buckets) AND dims = {FULL}"
    )
    insert = sa.text(
        f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join(':' + c for c in COLUMNS)})"
    )
    for chunk in _chunks(sorted(buckets), BUCKETS_PER_STEP):
        full: dict[str, dict[GroupKey, Tally]] = defaultdict(dict)
        for row in bind.execute(select, {"buckets": list(chunk)}).mappings():
            key = GroupKey(row["bucket"], row["agent"], row["model"], row["error_type"])
            full[row["project"]][key] = Tally.from_row(row)
        values = [
            dict(zip(COLUMNS, record(project, key, tally), strict=True))
            for project, tallies in full.items()
            for key, tally in cube(tallies).items()
            if key.dims != FULL
        ]
        if values:
            bind.execute(insert, values)
