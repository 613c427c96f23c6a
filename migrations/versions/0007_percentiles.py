"""Stored percentiles and a read index on ``rollup_q15``, ``rollup_hourly``, ``rollup_daily``.

``lat_pcts`` holds a row's p50, p75, p90, p95 and p99 (``runtally.sketch.QUANTILES``
order), computed from its latency bins and clamped to its min/max when the row is
written, exactly as a read computes them. A read whose answer bucket is made of that one
row alone (a clean hour of an hourly series, a clean UTC day of a daily one) takes them
instead of fetching and folding the row's bins (``runtally.api.rollups``): an hourly
30-day series no longer ships and sorts 720 sketches.

Rows written before this revision keep ``NULL``; readers then fall back to their bins,
so answers are the same either way and no backfill is needed.

``<table>_dims`` on (project, dims, bucket): a read takes one grouping set at hundreds of
buckets (``dims = $3 AND bucket = ANY($2)``), which the primary key (project, bucket,
dims, ...) answers by descending once per bucket and reading every grouping set's rows
of it. At 720 hourly buckets: 9 ms -> 2 ms of execution.

Revision ID: 0007_percentiles
Revises: 0006_tags
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0007_percentiles"
down_revision: str | None = "0006_tags"
branch_labels = None
depends_on = None

TABLES = ("rollup_q15", "rollup_hourly", "rollup_daily")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ADD COLUMN lat_pcts double precision[]")
        op.execute(f"CREATE INDEX {table}_dims ON {table} (project, dims, bucket)")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP INDEX {table}_dims")
        op.execute(f"ALTER TABLE {table} DROP COLUMN lat_pcts")
