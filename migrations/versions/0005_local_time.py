"""Local time: a 15-minute rollup grain, ``rollup_q15``.

``rollup_q15`` has the shape, key and grouping sets of ``rollup_hourly`` (created
``LIKE`` it, so columns added to the hourly table by earlier revisions come along);
its buckets are UTC quarter hours. Any IANA zone's local day or hour (offsets of +5:30,
+5:45, +9:30 too) and any range edge are then answered from rollup rows except at most
a partial quarter hour at each edge (``runtally.api.cover``).

Quarter rows are derived from raw rows by the hourly rollup, which writes an hour's
four quarters with the hour (``runtally.rollup.quarters``). Every hour that still has
raw rows is marked dirty here, so the next rollup derives its quarters; until then
readers answer those hours from raw rows (dirty hours always are), so answers stay
exact meanwhile. Hours whose raw rows retention already dropped get no quarter rows:
``rollup_q15_horizon.since`` records the first hour that has them (``-infinity`` when
every rolled hour still had raw rows), and readers refuse to cut hours before it at
quarter hours (a 422, not a silently short answer).

Revision ID: 0005_local_time
Revises: 0004_alerts
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0005_local_time"
down_revision = "0004_alerts"
branch_labels = None
depends_on = None

# One marker per (project, hour) with raw rows; 'hour' buckets are UTC (date_bin is
# absolute). A marker already there takes a new seq, as ingest's marking does.
MARK_RAW_HOURS = """
INSERT INTO rollup_dirty (project, hour)
SELECT DISTINCT project, date_bin('1 hour', started_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')
FROM agent_runs
ON CONFLICT (project, hour)
DO UPDATE SET seq = nextval('rollup_dirty_seq'), dirtied_at = now()
"""


# The hour after the last rolled hour before the first hour with raw rows (those hours
# lost their raw rows to retention): quarter rows exist from there on.
HORIZON = """
INSERT INTO rollup_q15_horizon (since)
SELECT coalesce(max(bucket) + interval '1 hour', '-infinity')
FROM rollup_hourly
WHERE bucket < coalesce(
    (SELECT date_bin('1 hour', min(started_at), TIMESTAMPTZ '2000-01-01 00:00:00+00')
     FROM agent_runs),
    'infinity')
"""


def upgrade() -> None:
    op.execute("CREATE TABLE rollup_q15 (LIKE rollup_hourly INCLUDING ALL)")
    op.execute(
        "CREATE TABLE rollup_q15_horizon ("
        " one boolean PRIMARY KEY DEFAULT true CHECK (one), since timestamptz NOT NULL)"
    )
    op.execute(HORIZON)
    op.execute(MARK_RAW_HOURS)


def downgrade() -> None:
    op.execute("DROP TABLE rollup_q15_horizon")
    op.execute("DROP TABLE rollup_q15")
