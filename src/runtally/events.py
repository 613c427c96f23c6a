"""The run event, wire format v1: one JSON object per agent invocation.

``RunEvent`` is the contract between publishers and the ingest worker. Validation is
strict: unknown fields, wrong types, NaN/Infinity, naive timestamps and inconsistent
fields are rejected with a precise reason (see ``parse_event``). After validation both
``ended_at`` and ``duration_ms`` are set, whichever of them the publisher sent.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from runtally.limits import (
    MAX_COST_USD,
    MAX_ERROR_MESSAGE,
    MAX_IDENT,
    MAX_METADATA_BYTES,
    MAX_NAME,
    MAX_TAG_KEY,
    MAX_TAG_VALUE,
    MAX_TAGS,
    MAX_TOKENS,
    NUL,
    NUL_REASON,
    PROJECT_PATTERN,
)

SCHEMA_VERSION = 1
# ended_at - started_at and duration_ms may differ by rounding of the publisher's clock.
DURATION_TOLERANCE_MS = 1.0
_ONE_MS = timedelta(milliseconds=1)
END_RANGE_REASON = "ended_at falls after 9999-12-31 in UTC (too long a duration_ms?)"
# json.dumps(value, separators=(",", ":"), ensure_ascii=False), without building a new
# encoder per call as json.dumps does for non-default arguments.
compact_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

ProjectName = Annotated[str, StringConstraints(pattern=PROJECT_PATTERN)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME)]
Ident = Annotated[str, StringConstraints(min_length=1, max_length=MAX_IDENT)]
Tokens = Annotated[int, Field(ge=0, le=MAX_TOKENS)]
Millis = Annotated[float, Field(ge=0, allow_inf_nan=False)]


def _json_number(value: Any) -> Any:
    """Accept a JSON number only; keep its shortest decimal form (0.1 stays 0.1)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("cost_usd must be a JSON number")
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


Cost = Annotated[
    Decimal,
    BeforeValidator(_json_number),
    Field(ge=0, le=Decimal(MAX_COST_USD), allow_inf_nan=False),
    # On the wire cost is a JSON number, never a string.
    PlainSerializer(float, return_type=float, when_used="json"),
]


def _end(start: datetime, millis: float) -> datetime:
    """``start`` + ``millis`` ms: a ``ValueError``, not an ``OverflowError`` (which no
    caller expects), when that instant is past 9999-12-31 in UTC, where no row can go."""
    try:
        # Positional milliseconds: same value as the keyword form, cheaper to call.
        end = start + timedelta(0, 0, 0, millis)
        if end.year == 9999:  # its UTC instant may fall past the year 9999
            end.astimezone(UTC)
    except OverflowError:
        raise ValueError(END_RANGE_REASON) from None
    return end


class InvalidEvent(ValueError):
    """An entry that is not a valid run event; ``reason`` says precisely why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RunEvent(BaseModel):
    """One agent run. Field rules follow the table in DESIGN.md (wire format v1)."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "$id": "https://runtally.dev/schema/run-event.v1.json",
            "anyOf": [{"required": ["ended_at"]}, {"required": ["duration_ms"]}],
        },
    )

    event_id: UUID
    project: ProjectName = "default"
    agent: Name
    model: Name
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    duration_ms: Millis | None = None
    status: Literal["success", "error"] = "success"
    error_type: Name | None = None
    error_message: str | None = None
    input_tokens: Tokens | None = None
    output_tokens: Tokens | None = None
    cache_read_tokens: Tokens | None = None
    cache_write_tokens: Tokens | None = None
    time_to_first_token_ms: Millis | None = None
    cost_usd: Cost | None = None
    trace_id: Ident | None = None
    session_id: Ident | None = None
    user_id: Ident | None = None
    tags: dict[str, str] | None = None
    metadata: dict[str, Any] | None = None

    # Not ``project``: its pattern already refuses U+0000 (an after-validator never sees a
    # value that failed its field's constraints), so checking it again was a wasted call.
    @field_validator(
        "agent", "model", "error_type", "error_message", "trace_id", "session_id", "user_id",
    )  # fmt: skip
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and NUL in value:
            raise ValueError(NUL_REASON)
        return value

    @field_validator("error_message")
    @classmethod
    def _cut_message(cls, value: str | None) -> str | None:
        return None if value is None else value[:MAX_ERROR_MESSAGE]

    @field_validator("tags")
    @classmethod
    def _check_tags(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        if len(value) > MAX_TAGS:
            raise ValueError(f"at most {MAX_TAGS} tags, got {len(value)}")
        for key, item in value.items():
            if NUL in key or NUL in item:
                raise ValueError(NUL_REASON)
            if not 1 <= len(key) <= MAX_TAG_KEY:
                raise ValueError(f"tag keys must be 1-{MAX_TAG_KEY} chars, got {key[:80]!r}")
            if len(item) > MAX_TAG_VALUE:
                raise ValueError(f"tag {key!r} is longer than {MAX_TAG_VALUE} chars")
        return value

    @field_validator("metadata")
    @classmethod
    def _check_metadata(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        text = compact_json(value)
        if "\\u0000" in text:
            raise ValueError(NUL_REASON)
        size = len(text.encode())
        if size > MAX_METADATA_BYTES:
            raise ValueError(f"metadata is {size} bytes serialized, limit {MAX_METADATA_BYTES}")
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> RunEvent:
        # Runs once per ingested event: plain attribute reads and no helper calls on the
        # common path but one (profiled; this validator was a third of parse_event's time).
        duration_ms = self._derive_timing()
        status, error_type = self.status, self.error_type
        if status == "error" and error_type is None:
            raise ValueError("error_type is required when status is 'error'")
        if status == "success" and error_type is not None:
            raise ValueError("error_type is only allowed when status is 'error'")
        # 0 when neither cache count is sent: then nothing to check.
        cached = (self.cache_read_tokens or 0) + (self.cache_write_tokens or 0)
        if cached and cached > (self.input_tokens or 0):
            raise ValueError(
                f"cache_read_tokens + cache_write_tokens ({cached}) exceed input_tokens "
                f"({self.input_tokens}); cached tokens are part of input_tokens"
            )
        ttft = self.time_to_first_token_ms
        if ttft is not None and ttft > duration_ms:
            raise ValueError(f"time_to_first_token_ms ({ttft}) exceeds duration_ms ({duration_ms})")
        return self

    def _derive_timing(self) -> float:
        """Set whichever of ``ended_at``/``duration_ms`` is missing; return the duration."""
        ended_at, duration_ms = self.ended_at, self.duration_ms
        if ended_at is None:
            if duration_ms is None:
                raise ValueError("one of ended_at or duration_ms is required")
            self.ended_at = _end(self.started_at, duration_ms)
            return duration_ms
        if ended_at.year == 9999:
            _end(ended_at, 0)
        measured = (ended_at - self.started_at) / _ONE_MS
        if measured < 0:
            raise ValueError("ended_at is before started_at")
        if duration_ms is None:
            self.duration_ms = measured
            return measured
        if abs(measured - duration_ms) > DURATION_TOLERANCE_MS:
            raise ValueError(
                f"duration_ms ({duration_ms}) disagrees with ended_at - started_at "
                f"({measured:.3f} ms)"
            )
        return duration_ms

    @property
    def ended(self) -> datetime:
        """``ended_at``, always set after validation."""
        assert self.ended_at is not None
        return self.ended_at

    @property
    def duration(self) -> float:
        """``duration_ms``, always set after validation."""
        assert self.duration_ms is not None
        return self.duration_ms

    def to_wire(self) -> str:
        """The JSON text a publisher puts in the stream entry's ``data`` field."""
        return self.model_dump_json(exclude_none=True)


def describe_error(error: ValidationError) -> str:
    """One line naming each failing field and why, e.g. ``agent: Field required``."""
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in item["loc"]) or "event"
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


# What ``RunEvent.model_validate_json`` calls, without its Python frame and keyword
# forwarding: ~0.5 µs of the ~8 µs parse_event takes, and parse_event runs once per
# ingested event. Same validator, same result, same errors.
_validate_json = RunEvent.__pydantic_validator__.validate_json


def parse_event(raw: bytes | str) -> RunEvent:
    """Validate one wire payload. Raises ``InvalidEvent`` with the reason."""
    try:
        event: RunEvent = _validate_json(raw)
    except ValidationError as exc:
        raise InvalidEvent(describe_error(exc)) from None
    return event


def check_window(
    event: RunEvent, now: datetime, clock_skew_s: float, retention_days: int
) -> str | None:
    """Why ``event`` falls outside the storable time window, or ``None`` when it fits.

    Events more than ``clock_skew_s`` in the future would land in partitions not made
    yet and skew "now"; events older than raw retention would be dropped with their
    partition, so both are refused rather than stored and silently lost.
    """
    if event.started_at > now + timedelta(seconds=clock_skew_s):
        return (
            f"started_at {event.started_at.isoformat()} is more than {clock_skew_s:g}s "
            "in the future"
        )
    if event.started_at < now - timedelta(days=retention_days):
        return (
            f"started_at {event.started_at.isoformat()} is older than raw retention "
            f"({retention_days} days)"
        )
    return None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of wire format v1 (written to ``schema/run-event.v1.json``)."""
    schema = RunEvent.model_json_schema(mode="validation")
    schema["title"] = "runtally run event v1"
    return schema


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2, sort_keys=True))
