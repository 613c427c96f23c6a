"""Response models of the read API (they make ``/docs`` and the OpenAPI schema precise).

Costs are JSON numbers (USD). They are summed exactly as ``numeric`` in Postgres and as
``Decimal`` in Python, then converted once to the nearest float for the answer: the
exactness lives in storage, a dashboard gets a plain number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

Granularity = Literal["hour", "day"]
# ``tag:<key>`` besides these (checked by ``api.dimension``, whose 422 lists the keys).
GroupBy = str
BreakdownBy = str


class ErrorBody(BaseModel):
    """Every error answer: a stable machine code and a message for people."""

    error: str = Field(description="unauthorized | invalid_request | not_found | unavailable")
    message: str


class Latency(BaseModel):
    """Milliseconds. avg/min/max are exact; percentiles come from the 1% DDSketch."""

    avg: float | None
    min: float | None
    max: float | None
    p50: float | None
    p75: float | None
    p90: float | None
    p95: float | None
    p99: float | None


class Tokens(BaseModel):
    """Token sums; ``input`` includes cache reads/writes, ``total`` = input + output."""

    input: int
    output: int
    cache_read: int
    cache_write: int
    total: int


class Basis(BaseModel):
    """Where an answer came from, and how exact it is."""

    source: Literal["rollups", "raw", "top_k"] = Field(
        default="rollups",
        description="rollups (+ raw rows for dirty hours and edges); raw: raw rows only "
        "(a tag key that is not rolled up, tag filters on two keys), within raw retention; "
        "top_k: merged per-bucket top-K rows (by=user/session over long ranges)",
    )
    approximate: bool = Field(
        default=False, description="the ranking may differ from the exact one (top_k)"
    )
    error_bound_usd: float | None = Field(
        default=None, description="most a listed cost may lack, or an unlisted id may have"
    )
    error_bound_runs: int | None = None
    note: str | None = None


class _Ranged(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    project: str
    from_: datetime = Field(alias="from", description="inclusive, in local time of `tz`")
    to: datetime = Field(description="exclusive, in local time of `tz`")
    tz: str = Field(description="the IANA time zone of buckets and times")
    basis: Basis = Field(default_factory=Basis)


class Summary(_Ranged):
    runs: int
    successes: int
    failures: int
    success_rate: float | None
    latency_ms: Latency
    tokens: Tokens
    cost_usd: float
    unpriced_runs: int = Field(description="runs with no cost (no price known at ingest)")
    unique_users: int = Field(description="HyperLogLog estimate (about 1.5% error)")
    unique_sessions: int = Field(description="HyperLogLog estimate (about 1.5% error)")
    price_versions: list[str] = Field(
        description="the price tables (`runtally prices` version) of the costs in the range; "
        "a range that trims an hour may also list a version used only in the trimmed part"
    )


class Point(BaseModel):
    bucket: datetime = Field(
        description="start of the local hour or day of `tz`, with its local offset"
    )
    runs: int
    successes: int
    failures: int
    latency_ms: Latency
    tokens: Tokens
    cost_usd: float


class Series(BaseModel):
    key: str
    points: list[Point]


class Timeseries(_Ranged):
    granularity: Granularity
    group_by: GroupBy | None
    points: list[Point] = Field(description="totals per bucket, empty buckets as zeros")
    series: list[Series] = Field(
        description="with group_by: one zero-filled series per key, most runs first"
    )


class BreakdownRow(BaseModel):
    key: str
    runs: int
    successes: int
    failures: int
    success_rate: float | None
    latency_ms: Latency
    tokens: Tokens
    cost_usd: float
    cost_usd_max: float | None = Field(
        default=None, description="top_k: the most this id may have cost (cost_usd: the least)"
    )


class Breakdown(_Ranged):
    by: BreakdownBy
    rows: list[BreakdownRow]


class Run(BaseModel):
    event_id: UUID
    agent: str
    model: str
    started_at: datetime
    ended_at: datetime
    duration_ms: float
    status: Literal["success", "error"]
    error_type: str | None
    error_message: str | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    ttft_ms: float | None
    cost_usd: float | None
    cost_source: str | None
    trace_id: str | None
    session_id: str | None
    user_id: str | None
    tags: dict[str, str] | None


class RunDetail(Run):
    project: str
    price_version: str | None
    metadata: dict[str, Any] | None
    ingested_at: datetime


class RunsPage(BaseModel):
    project: str
    runs: list[Run] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: Literal["ready", "unavailable"]
    postgres: str
    redis: str
