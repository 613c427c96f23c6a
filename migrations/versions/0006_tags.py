"""Tag rollups and top users/sessions: ``rollup_tag_*`` and ``rollup_top_*`` tables.

``rollup_tag_hourly`` / ``rollup_tag_daily``: the rollup row shape (``ROLLUP_FIELDS``)
keyed by (project, bucket, tag_key, dims, tag_value, agent, model, error_type). Only the
grouping sets a tag answer needs are stored (``runtally.tags.TAG_GROUPING_SETS``: the tag
alone, with agent, model, error type, agent and model), and per key and bucket at most
``RUNTALLY_TAG_VALUE_CAP`` values; the rest is one ``__other__`` row, so sums stay exact.

``rollup_top_hourly`` / ``rollup_top_daily``: per bucket and kind (``user``/``session``)
the top K ids by cost (``is_rest`` false) and one remainder row (``is_rest`` true, item
'') holding the exact sums of every other id, the number of ids folded (``items``; NULL
when not known exactly, in daily rows) and an upper bound of any single folded id's cost
and runs (``max_cost``/``max_runs``). ``cost_error``/``runs_error``: how much a listed
id's figures may lack (0 in hourly rows; daily rows merge hours where it was folded).

Existing buckets get no tag or top rows (their raw rows may be gone): answers over them
say they come from raw rows within retention, or are empty beyond it.

Revision ID: 0006_tags
Revises: 0005_local_time
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0006_tags"
down_revision: str | None = "0005_local_time"
branch_labels = None
depends_on = None

TAG_COLUMNS = """
    project            text        NOT NULL,
    bucket             timestamptz NOT NULL,
    tag_key            text        NOT NULL,
    tag_value          text        NOT NULL,
    dims               smallint    NOT NULL,
    agent              text        NOT NULL,
    model              text        NOT NULL,
    error_type         text        NOT NULL,
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
    event_runs         bigint      NOT NULL DEFAULT 0,
    event_cost_usd     numeric(30, 12) NOT NULL DEFAULT 0,
    event_input_tokens bigint      NOT NULL DEFAULT 0,
    event_output_tokens bigint     NOT NULL DEFAULT 0,
    event_cache_read_tokens bigint NOT NULL DEFAULT 0,
    event_cache_write_tokens bigint NOT NULL DEFAULT 0,
    tokenless_runs     bigint      NOT NULL DEFAULT 0,
    unsplit_runs       bigint      NOT NULL DEFAULT 0,
    price_versions     text[]      NOT NULL DEFAULT '{}',
    computed_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project, bucket, tag_key, dims, tag_value, agent, model, error_type)
"""

TOP_COLUMNS = """
    project            text        NOT NULL,
    bucket             timestamptz NOT NULL,
    kind               text        NOT NULL CHECK (kind IN ('user', 'session')),
    is_rest            boolean     NOT NULL,
    item               text        NOT NULL,
    runs               bigint      NOT NULL,
    successes          bigint      NOT NULL,
    duration_sum       double precision NOT NULL,
    input_tokens       bigint      NOT NULL,
    output_tokens      bigint      NOT NULL,
    cache_read_tokens  bigint      NOT NULL,
    cache_write_tokens bigint      NOT NULL,
    cost_usd           numeric(30, 12) NOT NULL,
    cost_error         numeric(30, 12) NOT NULL DEFAULT 0,
    runs_error         bigint      NOT NULL DEFAULT 0,
    items              bigint,
    max_cost           numeric(30, 12),
    max_runs           bigint,
    computed_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project, bucket, kind, is_rest, item)
"""

TABLES = {
    "rollup_tag_hourly": TAG_COLUMNS,
    "rollup_tag_daily": TAG_COLUMNS,
    "rollup_top_hourly": TOP_COLUMNS,
    "rollup_top_daily": TOP_COLUMNS,
}


def upgrade() -> None:
    for table, columns in TABLES.items():
        op.execute(f"CREATE TABLE {table} ({columns})")
    # Reads of one key's value over a range probe (project, tag_key, tag_value, bucket).
    for table in ("rollup_tag_hourly", "rollup_tag_daily"):
        op.execute(
            f"CREATE INDEX {table}_value ON {table} (project, tag_key, tag_value, dims, bucket)"
        )


def downgrade() -> None:
    for table in reversed(list(TABLES)):
        op.execute(f"DROP TABLE IF EXISTS {table}")
