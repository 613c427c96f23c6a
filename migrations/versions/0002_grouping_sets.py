"""Rollup grouping sets: a ``dims`` key column and the coarser rows of every bucket.

Adds ``dims`` (the bitmask of key columns a row keeps, ``runtally.cube``; existing rows
are full-key rows, 7) to ``rollup_hourly`` and ``rollup_daily``, puts it in the primary
key, and derives the grouping-set rows of every stored bucket from its full-key rows.
They are derived from the rollup rows themselves, not recomputed from raw rows, because
raw retention may already have dropped the runs of old buckets.

The backfill uses the application's ``cube``/``Tally`` on the columns rollup rows had at
this revision (``FIELDS``, kept here: later revisions add columns). If those ever change
in a way that breaks it, this migration must keep a copy of today's code.

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
from runtally.tally import COST_SPLIT, Tally

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("rollup_hourly", "rollup_daily")
OLD_KEY = "project, bucket, agent, model, error_type"
NEW_KEY = "project, bucket, dims, agent, model, error_type"
BUCKETS_PER_STEP = 24  # bounds the client memory of the backfill
# The rollup columns at this revision (0003 adds the cost split and price versions).
FIELDS = (
    "runs", "successes", "failures", "duration_sum", "duration_min", "duration_max",
    "lat_zero", "lat_keys", "lat_counts", "input_tokens", "output_tokens",
    "cache_read_tokens", "cache_write_tokens", "cost_usd", "unpriced_runs",
    "ttft_sum", "ttft_count", "users_hll", "sessions_hll",
)  # fmt: skip
COLUMNS = ("project", "bucket", "dims", "agent", "model", "error_type", *FIELDS)
LATER = {**dict.fromkeys(COST_SPLIT, 0), "price_versions": None}


def _record(project: str, key: GroupKey, tally: Tally) -> dict[str, Any]:
    row = tally.to_row()
    keys = (project, key.bucket, key.dims, key.agent, key.model, key.error_type)
    return dict(zip(COLUMNS, (*keys, *(row[f] for f in FIELDS)), strict=True))


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
        f"SELECT project, bucket, agent, model, error_type, {', '.join(FIELDS)} "
        f"FROM {table} WHERE bucket = ANY(:buckets) AND dims = {FULL}"
    )
    insert = sa.text(
        f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join(':' + c for c in COLUMNS)})"
    )
    for chunk in _chunks(sorted(buckets), BUCKETS_PER_STEP):
        full: dict[str, dict[GroupKey, Tally]] = defaultdict(dict)
        for row in bind.execute(select, {"buckets": list(chunk)}).mappings():
            key = GroupKey(row["bucket"], row["agent"], row["model"], row["error_type"])
            full[row["project"]][key] = Tally.from_row({**LATER, **row})
        values = [
            _record(project, key, tally)
            for project, tallies in full.items()
            for key, tally in cube(tallies).items()
            if key.dims != FULL
        ]
        if values:
            bind.execute(insert, values)
