"""Prices over time: the cost split and price versions in rollup rows.

Adds to ``rollup_hourly`` and ``rollup_daily`` what ``runtally reprice`` needs to
recompute a row's cost from its own sums, exactly, after raw retention dropped its
runs (``runtally.tally.COST_SPLIT``): the runs whose cost the event carried (never
repriced) with their cost and tokens by kind, the runs with no tokens to price, and
``unsplit_runs``; plus ``price_versions``, the price tables of the row's costs.

Rows rolled up before this revision have no split: ``unsplit_runs`` is set to their
``runs`` (reprice leaves them as they are and says so). Every hour that still has raw
rows is marked dirty, so the next rollup recomputes it (and its day) with the split.
``agent_runs`` needs no change: ``cost_source = 'event'`` already marks a carried cost.

Revision ID: 0003_prices
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0003_prices"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("rollup_hourly", "rollup_daily")
NEW_COLUMNS = (
    ("event_runs", "bigint NOT NULL DEFAULT 0"),
    ("event_cost_usd", "numeric(30, 12) NOT NULL DEFAULT 0"),
    ("event_input_tokens", "bigint NOT NULL DEFAULT 0"),
    ("event_output_tokens", "bigint NOT NULL DEFAULT 0"),
    ("event_cache_read_tokens", "bigint NOT NULL DEFAULT 0"),
    ("event_cache_write_tokens", "bigint NOT NULL DEFAULT 0"),
    ("tokenless_runs", "bigint NOT NULL DEFAULT 0"),
    ("unsplit_runs", "bigint NOT NULL DEFAULT 0"),
    ("price_versions", "text[] NOT NULL DEFAULT '{}'"),
)
REDIRTY_RAW_HOURS = """
INSERT INTO rollup_dirty (project, hour)
SELECT DISTINCT project,
       date_bin('3600 seconds', started_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')
FROM agent_runs
ON CONFLICT (project, hour) DO UPDATE SET seq = nextval('rollup_dirty_seq'), dirtied_at = now()
"""


def upgrade() -> None:
    for table in TABLES:
        columns = ", ".join(f"ADD COLUMN {name} {kind}" for name, kind in NEW_COLUMNS)
        op.execute(f"ALTER TABLE {table} {columns}")
        op.execute(f"UPDATE {table} SET unsplit_runs = runs")
    op.execute(REDIRTY_RAW_HOURS)


def downgrade() -> None:
    for table in TABLES:
        columns = ", ".join(f"DROP COLUMN {name}" for name, _ in NEW_COLUMNS)
        op.execute(f"ALTER TABLE {table} {columns}")
