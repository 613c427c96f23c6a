"""Fast path of the decode step: the common, well-formed payload straight to its row.

``fast_record`` decodes a payload with msgspec under ``events.RunEvent``'s field limits,
checks the model's cross-field rules itself, and builds the priced ``agent_runs`` row. It is an
accelerator, not a second definition of the wire format: it answers only for payloads
it can prove valid and returns ``None`` for anything else (a failed rule, an unusual
spelling, a value outside the storable window), and the caller then runs the pydantic
path (``decode.decode_entry``), which accepts or rejects with its own reason.

Contract, pinned by a differential test over the malformed corpus and generated inputs:
whenever ``fast_record`` returns a row, ``parse_event`` accepts the payload, the window
accepts the event, and the row equals ``prepare.priced_record`` of that event (the
tags and metadata texts as JSON values: the same jsonb).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from runtally.events import compact_json
from runtally.ingest.decode import Window
from runtally.ingest.pricer import Pricer
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
    PROJECT_PATTERN,
)
from runtally.store.writes import RunRecord

_ONE_MS = timedelta(milliseconds=1)
_MAX_COST = Decimal(MAX_COST_USD)
# pydantic's pattern is a Rust regex, whose ``$`` never matches before a final newline;
# Python's does, so the pattern's anchors are replaced by ``fullmatch``.
_PROJECT = re.compile(PROJECT_PATTERN.removeprefix("^").removesuffix("$")).fullmatch
# Plain RFC 3339 ('T', 'Z' or ±HH:MM, ASCII digits), at most 6 fraction digits: pydantic
# truncates longer fractions where some parsers round; rare spellings take its path.
# Offset minutes 00-59 only: ``fromisoformat`` reads '+05:60' as +06:00, pydantic refuses it.
_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-][0-9]{2}:[0-5][0-9])"
).fullmatch
# pydantic's JSON parser refuses nesting deeper than ~200 levels; metadata nested at all
# deeply takes the pydantic path (any '[' or '{' counts, even inside strings: cautious).
_MAX_BRACKETS = 64
# An escaped NUL (U+0000) anywhere in the payload: the pydantic path words the reason.
_ESCAPED_NUL = b"\\u0000"


# RunEvent's field constraints that msgspec checks in C while decoding (same limits; a
# value outside them fails the decode, and the pydantic path then words the reason).
Name = Annotated[str, Meta(min_length=1, max_length=MAX_NAME)]
Ident = Annotated[str, Meta(min_length=1, max_length=MAX_IDENT)]
Tokens = Annotated[int, Meta(ge=0, le=MAX_TOKENS)]
Millis = Annotated[float, Meta(ge=0)]  # msgspec refuses non-finite JSON numbers itself
TagKey = Annotated[str, Meta(min_length=1, max_length=MAX_TAG_KEY)]
TagValue = Annotated[str, Meta(max_length=MAX_TAG_VALUE)]
Tags = Annotated[dict[TagKey, TagValue], Meta(max_length=MAX_TAGS)]


class Wire(msgspec.Struct, forbid_unknown_fields=True):
    """The wire fields of ``RunEvent``, same names; the cross-field rules are checked after."""

    event_id: UUID
    agent: Name
    model: Name
    started_at: str
    project: str = "default"
    ended_at: str | None = None
    duration_ms: Millis | None = None
    status: Literal["success", "error"] = "success"
    error_type: Name | None = None
    error_message: str | None = None
    input_tokens: Tokens | None = None
    output_tokens: Tokens | None = None
    cache_read_tokens: Tokens | None = None
    cache_write_tokens: Tokens | None = None
    time_to_first_token_ms: Millis | None = None
    cost_usd: int | float | None = None
    trace_id: Ident | None = None
    session_id: Ident | None = None
    user_id: Ident | None = None
    tags: Tags | None = None
    metadata: dict[str, Any] | None = None


class Timed(msgspec.Struct, frozen=True):
    """What a price table reads of an event (``pricing.PriceTable.cost``)."""

    model: str
    started_at: datetime
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None


_decode = msgspec.json.Decoder(Wire).decode
_encode = msgspec.json.Encoder().encode


def _json_text(value: dict[str, Any] | None) -> str | None:
    """The JSON text of tags or metadata for their jsonb columns.

    Not byte for byte ``writes.tags_json``/``metadata_json`` (compact, UTF-8 unescaped,
    msgspec's float spelling) but the same JSON value, hence the same jsonb: ~10x
    cheaper. Only for decoded payloads: their strings are valid Unicode without NUL.
    """
    return None if value is None else _encode(value).decode()


def fast_record(raw: bytes, window: Window, prices: Pricer) -> RunRecord | None:
    """The priced row of payload ``raw``, or ``None``: then ask the pydantic path."""
    if _ESCAPED_NUL in raw:
        return None
    try:
        wire = _decode(raw)
    except Exception:  # malformed, wrong types, too deep...: the slow path says why
        return None
    if wire.metadata is not None and raw.count(b"[") + raw.count(b"{") > _MAX_BRACKETS:
        return None
    if not _rules_ok(wire):
        return None
    started = _instant(wire.started_at)
    if started is None or not window.accepts(started):
        return None
    timing = _timing(wire, started)
    if timing is None:
        return None
    return _record(wire, started, timing[0], timing[1], prices)


def _instant(text: str) -> datetime | None:
    """The aware instant ``text`` spells in plain RFC 3339, else None."""
    if not _INSTANT(text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # e.g. month 13, offset of 24 hours
        return None


def _rules_ok(w: Wire) -> bool:
    """The rules msgspec does not check: project pattern, error type with status, cached
    tokens within input, metadata's compact JSON size."""
    if w.project != "default" and not _PROJECT(w.project):
        return False
    if (w.status == "error") is (w.error_type is None):
        return False
    cached = (w.cache_read_tokens or 0) + (w.cache_write_tokens or 0)
    if cached and cached > (w.input_tokens or 0):
        return False
    metadata = w.metadata
    return metadata is None or len(compact_json(metadata).encode()) <= MAX_METADATA_BYTES


def _timing(w: Wire, started: datetime) -> tuple[datetime, float] | None:
    """(ended_at, duration_ms) as ``RunEvent._derive_timing`` derives them, else None."""
    duration = w.duration_ms
    try:
        if w.ended_at is None:
            if duration is None:
                return None
            ended = started + timedelta(0, 0, 0, duration)
        else:
            found = _instant(w.ended_at)
            if found is None:
                return None
            ended = found
            measured = (ended - started) / _ONE_MS
            if measured < 0:
                return None
            if duration is None:
                duration = measured
            elif abs(measured - duration) > 1.0:  # events.DURATION_TOLERANCE_MS
                return None
        ended = ended.astimezone(UTC)
    except OverflowError:
        return None
    ttft = w.time_to_first_token_ms
    if ttft is not None and ttft > duration:
        return None
    return ended, duration


def _cost(w: Wire, started: datetime, prices: Pricer) -> tuple[Any, ...] | None:
    """(cost, cost source, price version) as ``prepare.priced_record`` picks them."""
    sent = w.cost_usd
    if sent is not None:
        cost = Decimal(repr(sent)) if isinstance(sent, float) else Decimal(sent)
        if not (cost.is_finite() and 0 <= cost <= _MAX_COST):
            return None
        return cost, "event", None
    timed = Timed(w.model, started, w.input_tokens, w.output_tokens,
                  w.cache_read_tokens, w.cache_write_tokens)  # fmt: skip
    priced, version = prices.cost(timed)
    return priced, None if priced is None else "price_table", version


def _record(
    w: Wire, started: datetime, ended: datetime, duration: float, prices: Pricer
) -> RunRecord | None:
    """The ``agent_runs`` row in ``writes.COLUMNS`` order (as ``writes.run_record``)."""
    cost = _cost(w, started, prices)
    if cost is None:
        return None
    message = w.error_message
    if message is not None:
        message = message[:MAX_ERROR_MESSAGE]
    return (
        w.event_id, w.project, w.agent, w.model, started.astimezone(UTC), ended,
        duration, w.status, w.error_type, message, w.input_tokens, w.output_tokens,
        w.cache_read_tokens, w.cache_write_tokens, w.time_to_first_token_ms, *cost,
        w.trace_id, w.session_id, w.user_id, _json_text(w.tags), _json_text(w.metadata),
    )  # fmt: skip
