"""Alert rules: what a rule says, validated (pure; no I/O).

A rule compares one ``measure`` of a project's runs over a rolling ``window`` ending at
evaluation time against ``threshold`` (and optionally ``warn_threshold``) with ``op``,
for the whole project or per group (``group_by``) for the top ``top_n`` groups, after
optional agent/model filters. ``min_runs`` keeps a window with too few runs out of
alerting (state ``no_data``). Notifications are POSTed to ``webhook_url``;
``repeat_after`` re-sends a still-firing state after that quiet period.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)

from runtally import constants

Measure = Literal[
    "cost_usd", "runs", "failures", "error_rate", "p95_latency_ms", "p99_latency_ms", "tokens"
]
Op = Literal[">", ">=", "<", "<="]
MEASURES: tuple[str, ...] = Measure.__args__  # type: ignore[attr-defined]
GROUP_COLUMNS = ("agent", "model", "user")
TAG_PREFIX = "tag:"  # group_by "tag:<key>": reserved until run tags are rolled up
MIN_WINDOW = timedelta(minutes=5)
MAX_WINDOW = timedelta(days=30)
MIN_REPEAT = timedelta(minutes=1)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^([1-9][0-9]{0,6})([smhd])$")
_URL = TypeAdapter(AnyHttpUrl)

Name = Field(default=None, min_length=1, max_length=100)


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"5m"``, ``"1h"``, ``"30d"`` → a timedelta; ``ValueError`` otherwise."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 90s, 5m, 1h or 7d")
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])


def format_duration(span: timedelta) -> str:
    """The shortest ``parse_duration`` spelling of ``span`` (whole seconds)."""
    seconds = int(span.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def _bounded(text: str, low: timedelta, high: timedelta, what: str) -> str:
    span = parse_duration(text)
    if not low <= span <= high:
        raise ValueError(
            f"{what} must be between {format_duration(low)} and {format_duration(high)}"
        )
    return format_duration(span)


def fires(op: str, value: float, limit: float) -> bool:
    """Whether ``value op limit`` holds."""
    if op == ">":
        return value > limit
    if op == ">=":
        return value >= limit
    if op == "<":
        return value < limit
    return value <= limit


class Filters(BaseModel):
    """Which runs a rule looks at. (Tag filters join here once run tags are rolled up.)"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent: str | None = Name
    model: str | None = Name


class RuleSpec(BaseModel):
    """One alert rule as a client sends it (POST body; PATCH merges into it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    measure: Measure
    op: Op
    threshold: float = Field(ge=0, allow_inf_nan=False)
    warn_threshold: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    window: str = Field(description="rolling window ending at evaluation, 5m to 30d: e.g. 1h")
    min_runs: int = Field(default=0, ge=0, le=1_000_000_000)
    group_by: str | None = Field(default=None, description="agent, model or user")
    top_n: int = Field(default=constants.ALERTS_TOP_N, ge=1, le=100)
    filters: Filters = Field(default_factory=Filters)
    webhook_url: str = Field(max_length=2000)
    repeat_after: str | None = Field(default=None, description="re-send while firing, e.g. 4h")
    enabled: bool = True

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        return _bounded(value, MIN_WINDOW, MAX_WINDOW, "window")

    @field_validator("repeat_after")
    @classmethod
    def _repeat(cls, value: str | None) -> str | None:
        return None if value is None else _bounded(value, MIN_REPEAT, MAX_WINDOW, "repeat_after")

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: str | None) -> str | None:
        if value is None or value in GROUP_COLUMNS:
            return value
        if value.startswith(TAG_PREFIX):
            # The hook for tag grouping: accept it here once tags are rolled up.
            raise ValueError("group_by tag:<key> needs rolled-up run tags, not available yet")
        raise ValueError(f"group_by must be one of {', '.join(GROUP_COLUMNS)}")

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str) -> str:
        _URL.validate_python(value)
        return value

    @model_validator(mode="after")
    def _thresholds(self) -> RuleSpec:
        if self.measure == "error_rate" and self.threshold > 1:
            raise ValueError("error_rate is a fraction: threshold must be between 0 and 1")
        warn = self.warn_threshold
        if warn is not None and (warn == self.threshold or fires(self.op, warn, self.threshold)):
            raise ValueError(
                f"warn_threshold must be reached before threshold: for op {self.op!r} "
                f"it must be {'below' if self.op.startswith('>') else 'above'} {self.threshold}"
            )
        return self

    @property
    def window_span(self) -> timedelta:
        return parse_duration(self.window)

    @property
    def repeat_span(self) -> timedelta | None:
        return None if self.repeat_after is None else parse_duration(self.repeat_after)


def finite(value: float | None) -> float | None:
    """``value`` unless it is NaN or infinite (JSON cannot carry those)."""
    return value if value is not None and math.isfinite(value) else None
