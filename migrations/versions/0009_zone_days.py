"""Local days of registered time zones rolled up: ``rollup_zone_daily``.

A daily series in a zone whose days do not start at UTC midnight (America/New_York,
Asia/Kolkata) was merged from 24 hourly rows per day: 720 rows for 30 days, on every
request. For the zones a deployment names (``RUNTALLY_ROLLUP_ZONES``) the daily rollup
now keeps one row per local day and key, like ``rollup_daily`` for UTC days.

- ``rollup_zones``: the zones kept. Rows and markers of a zone go with it (cascade).
- ``rollup_zone_daily``: ``rollup_daily``'s columns and a ``zone``; ``bucket`` is the
  local day's first instant. Key (project, zone, bucket, dims, agent, model, error_type).
- ``rollup_dirty_zone_day``: local days to recompute, with their end (``until``: a DST
  day is 23 or 25 hours), ``seq`` from the same sequence as the other markers.

Nothing is backfilled here: the rollup registers its configured zones and marks every
local day that has hourly rows (``runtally.rollup.zones``).

Revision ID: 0009_zone_days
Revises: 0008_packed_bins
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0009_zone_days"
down_revision: str | None = "0008_packed_bins"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE TABLE rollup_zones ("
        " zone text PRIMARY KEY, registered_at timestamptz NOT NULL DEFAULT now())"
    )
    op.execute("CREATE TABLE rollup_zone_daily (LIKE rollup_daily INCLUDING DEFAULTS)")
    op.execute(
        "ALTER TABLE rollup_zone_daily ADD COLUMN zone text NOT NULL"
        " REFERENCES rollup_zones ON DELETE CASCADE"
    )
    op.execute(
        "ALTER TABLE rollup_zone_daily"
        " ADD PRIMARY KEY (project, zone, bucket, dims, agent, model, error_type)"
    )
    op.execute(
        "CREATE INDEX rollup_zone_daily_dims ON rollup_zone_daily (project, zone, dims, bucket)"
    )
    op.execute(
        """
        CREATE TABLE rollup_dirty_zone_day (
            project    text        NOT NULL,
            zone       text        NOT NULL REFERENCES rollup_zones ON DELETE CASCADE,
            day        timestamptz NOT NULL,
            until      timestamptz NOT NULL,
            seq        bigint      NOT NULL DEFAULT nextval('rollup_dirty_seq'),
            dirtied_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (project, zone, day)
        )
        """
    )


def downgrade() -> None:
    for table in ("rollup_dirty_zone_day", "rollup_zone_daily", "rollup_zones"):
        op.execute(f"DROP TABLE {table}")
