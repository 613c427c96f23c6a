"""Settings: one injected object, read from ``RUNTALLY_*`` environment variables.

Names and defaults come from ``runtally.constants``. Modules receive a
``Settings`` instance; none of them reads the environment on its own.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtally import constants, localtime
from runtally.limits import MAX_TAG_KEY


def _default_consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(BaseSettings):
    """All runtime configuration. Field ``x`` is set by env var ``RUNTALLY_X``."""

    model_config = SettingsConfigDict(env_prefix="RUNTALLY_", extra="ignore", frozen=True)

    # --- edges
    redis_url: str = constants.REDIS_URL
    database_url: str = constants.DATABASE_URL

    # --- stream and its keys
    stream: str = constants.STREAM
    dead_stream: str = constants.DEAD_STREAM
    group: str = constants.GROUP
    consumer: str = Field(default_factory=_default_consumer)
    stats_key: str = constants.STATS_KEY
    arq_queue: str = constants.ARQ_QUEUE

    # --- ingest
    batch_size: int = Field(default=2000, ge=1, le=50_000)
    batch_timeout_ms: int = Field(default=100, ge=1)
    claim_idle_ms: int = Field(default=60_000, ge=100)
    claim_interval_s: float = Field(default=15.0, gt=0)
    max_deliveries: int = Field(default=5, ge=1)
    clock_skew_s: float = Field(default=900.0, ge=0)
    raw_retention_days: int = Field(default=30, ge=1)
    trim_interval_s: float = Field(default=30.0, gt=0)
    retry_backoff_max_s: float = Field(default=5.0, gt=0)
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    # Batches of one ingest process being stored at once, each on its own connection.
    store_concurrency: int = Field(default=2, ge=1, le=8)
    dead_retention_days: int = Field(default=14, ge=1)
    prices_file: Path | None = None
    metrics_port: int | None = None

    # --- rollups and maintenance
    rollup_interval_s: int = Field(default=30, ge=1, le=3600)
    partitions_ahead_days: int = Field(default=7, ge=1)
    rollup_batch_hours: int = Field(default=64, ge=1)
    rollup_days_interval_s: int = Field(default=60, ge=1, le=3600)
    # Tag keys rolled up besides environment and release, comma-separated.
    rollup_tags: str = ""
    # IANA zones whose local days are rolled up too (daily series in them read one row
    # per day), comma-separated. Every other zone is merged from hourly rows.
    rollup_zones: str = ""
    tag_value_cap: int = Field(default=constants.TAG_VALUE_CAP, ge=1, le=100_000)
    rollup_top_k: int = Field(default=constants.TOP_K, ge=1, le=10_000)
    tag_combo_min_runs: int = Field(default=constants.TAG_COMBO_MIN_RUNS, ge=1, le=1_000_000)

    # --- read API
    api_host: str = constants.API_HOST
    api_port: int = constants.API_PORT
    api_max_range_days: int = Field(default=400, ge=1)
    api_max_points: int = Field(default=10_000, ge=1)

    # --- OpenTelemetry intake (POST /v1/traces)
    otel_trace_prefix: str = constants.OTEL_TRACE_PREFIX
    otel_due_key: str = constants.OTEL_DUE
    otel_version_key: str = constants.OTEL_VERSION
    otel_max_body_bytes: int = Field(default=constants.OTEL_MAX_BODY_BYTES, ge=1024)
    # A trace is decided this long after its root span arrived (late children of other
    # services still count), or after this long without new spans when no root came.
    otel_settle_s: float = Field(default=constants.OTEL_SETTLE_S, ge=0)
    otel_trace_timeout_s: float = Field(default=constants.OTEL_TRACE_TIMEOUT_S, gt=0)
    otel_trace_ttl_s: int = Field(default=constants.OTEL_TRACE_TTL_S, ge=60)
    otel_sweep_interval_s: float = Field(default=constants.OTEL_SWEEP_INTERVAL_S, gt=0)
    otel_retry_after_s: int = Field(default=constants.OTEL_RETRY_AFTER_S, ge=1)

    # --- dev stack
    data_dir: Path = Path(".runtally")

    # --- alerts and business metrics
    alerts_interval_s: int = Field(default=constants.ALERTS_INTERVAL_S, ge=1, le=3600)
    alerts_delivery_timeout_s: float = Field(
        default=constants.ALERTS_DELIVERY_TIMEOUT_S, gt=0, le=60
    )
    alerts_delivery_attempts: int = Field(default=constants.ALERTS_DELIVERY_ATTEMPTS, ge=1, le=50)
    alerts_retry_base_s: float = Field(default=constants.ALERTS_RETRY_BASE_S, gt=0)
    alerts_delivery_budget_s: float = Field(default=constants.ALERTS_DELIVERY_BUDGET_S, ge=0)
    metrics_cache_s: float = Field(default=constants.METRICS_CACHE_S, ge=0)
    metrics_max_pairs: int = Field(default=constants.METRICS_MAX_PAIRS, ge=1, le=10_000)

    @field_validator("database_url")
    @classmethod
    def _plain_postgres_url(cls, value: str) -> str:
        """Accept postgresql://, postgres:// or postgresql+asyncpg://; keep the plain form."""
        for prefix in ("postgresql+asyncpg://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql://" + value[len(prefix) :]
        if not value.startswith("postgresql://"):
            raise ValueError("database_url must be a postgresql:// URL")
        return value

    @field_validator("rollup_tags")
    @classmethod
    def _tag_keys(cls, value: str) -> str:
        for key in value.split(","):
            if len(key.strip()) > MAX_TAG_KEY:
                raise ValueError(f"tag keys are at most {MAX_TAG_KEY} chars: {key.strip()!r}")
        return value

    @field_validator("rollup_zones")
    @classmethod
    def _zones(cls, value: str) -> str:
        for name in _names(value):
            localtime.zone(name)  # UnknownZone (a ValueError) names the zone
        return value

    @property
    def zones(self) -> tuple[str, ...]:
        """The zones of RUNTALLY_ROLLUP_ZONES, each once, in order."""
        return tuple(dict.fromkeys(_names(self.rollup_zones)))

    @property
    def tag_keys(self) -> tuple[str, ...]:
        """The rolled-up tag keys: environment, release, then RUNTALLY_ROLLUP_TAGS's."""
        extra = (key.strip() for key in self.rollup_tags.split(","))
        keys = dict.fromkeys((*constants.TAG_KEYS_ALWAYS, *(k for k in extra if k)))
        return tuple(keys)

    @property
    def asyncpg_dsn(self) -> str:
        """DSN for asyncpg (plain ``postgresql://``)."""
        return self.database_url

    @property
    def sqlalchemy_url(self) -> str:
        """URL for SQLAlchemy/Alembic, always through the asyncpg driver."""
        return "postgresql+asyncpg://" + self.database_url[len("postgresql://") :]


def _names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]
