"""Initial schema: raw runs (partitioned by day), dirty markers, rollups, API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Rollup rows share one shape; error_type is part of the key ('' for successful runs)
# so that a breakdown by error type gets latency, tokens and cost, not only counts.
ROLLUP_COLUMNS = """
    project            text        NOT NULL,
    bucket             timestamptz NOT NULL,
    agent              text        NOT NULL,
    model              text        NOT NULL,
    error_type         text        NOT NULL DEFAULT '',
    runs               bigint      NOT NULL,
    successes          bigint      NOT NULL,
    failures           bigint      NOT NULL,
    duration_sum       double precision NOT NULL,
    duration_min       double precision NOT NULL,
    duration_max       double precision NOT NULL,
    lat_zero           bigint      NOT NULL DEFAULT 0,
    lat_keys           integer[]   NOT NULL,
    lat_counts         bigint[]    NOT NULL,
    input_tokens       bigint      NOT NULL DEFAULT 0,
    output_tokens      bigint      NOT NULL DEFAULT 0,
    cache_read_tokens  bigint      NOT NULL DEFAULT 0,
    cache_write_tokens bigint      NOT NULL DEFAULT 0,
    cost_usd           numeric(30, 12) NOT NULL DEFAULT 0,
    unpriced_runs      bigint      NOT NULL DEFAULT 0,
    ttft_sum           double precision NOT NULL DEFAULT 0,
    ttft_count         bigint      NOT NULL DEFAULT 0,
    users_hll          bytea,
    sessions_hll       bytea,
    computed_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project, bucket, agent, model, error_type)
"""


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE agent_runs (
            event_id           uuid        NOT NULL,
            project            text        NOT NULL,
            agent              text        NOT NULL,
            model              text        NOT NULL,
            started_at         timestamptz NOT NULL,
            ended_at           timestamptz NOT NULL,
            duration_ms        double precision NOT NULL CHECK (duration_ms >= 0),
            status             text        NOT NULL CHECK (status IN ('success', 'error')),
            error_type         text,
            error_message      text,
            input_tokens       bigint,
            output_tokens      bigint,
            cache_read_tokens  bigint,
            cache_write_tokens bigint,
            ttft_ms            double precision,
            cost_usd           numeric(24, 12),
            cost_source        text CHECK (cost_source IN ('event', 'price_table')),
            price_version      text,
            trace_id           text,
            session_id         text,
            user_id            text,
            tags               jsonb,
            metadata           jsonb,
            ingested_at        timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (event_id, started_at)
        ) PARTITION BY RANGE (started_at)
        """
    )
    op.execute("CREATE TABLE agent_runs_default PARTITION OF agent_runs DEFAULT")
    op.execute("CREATE INDEX agent_runs_project_time ON agent_runs (project, started_at, event_id)")

    op.execute("CREATE SEQUENCE rollup_dirty_seq")
    op.execute(
        """
        CREATE TABLE rollup_dirty (
            project    text        NOT NULL,
            hour       timestamptz NOT NULL,
            seq        bigint      NOT NULL DEFAULT nextval('rollup_dirty_seq'),
            dirtied_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (project, hour)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE rollup_dirty_day (
            project    text        NOT NULL,
            day        timestamptz NOT NULL,
            seq        bigint      NOT NULL DEFAULT nextval('rollup_dirty_seq'),
            dirtied_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (project, day)
        )
        """
    )
    op.execute(f"CREATE TABLE rollup_hourly ({ROLLUP_COLUMNS})")
    op.execute(f"CREATE TABLE rollup_daily ({ROLLUP_COLUMNS})")

    op.execute(
        """
        CREATE TABLE api_keys (
            id           bigserial   PRIMARY KEY,
            project      text        NOT NULL,
            name         text        NOT NULL DEFAULT '',
            prefix       text        NOT NULL,
            key_hash     text        NOT NULL UNIQUE,
            created_at   timestamptz NOT NULL DEFAULT now(),
            revoked_at   timestamptz
        )
        """
    )


def downgrade() -> None:
    for table in ("api_keys", "rollup_daily", "rollup_hourly", "rollup_dirty_day", "rollup_dirty"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute("DROP SEQUENCE IF EXISTS rollup_dirty_seq")
    op.execute("DROP TABLE IF EXISTS agent_runs CASCADE")
