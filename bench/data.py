"""Synthetic run events: wire payloads for the stream and the same rows for a plain COPY.

Generated up front (never timed) from a seeded RNG, so the ingest figure and its COPY
limit store exactly the same rows.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from runtally.events import parse_event
from runtally.store.writes import COLUMNS

PROJECT = "bench"
AGENTS = tuple(f"agent-{i}" for i in range(8))
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet-20241022", "claude-3-5-haiku", "o3-mini")
ERRORS = ("timeout", "rate_limited", "tool_error")
# Distinct users and sessions of the generated runs (issue 14 asks for 100k users).
USERS = 100_000
SESSIONS = 500_000

# The agent_runs columns a writer fills (ingested_at takes its default): ingest's own list.
COPY_COLUMNS = COLUMNS


def fast_uuid() -> uuid.UUID:
    return uuid.UUID(bytes=os.urandom(16), version=4)


def event_dict(rng: random.Random, started_at: datetime, **extra: Any) -> dict[str, Any]:
    """One realistic run event (about 450 bytes on the wire)."""
    failed = rng.random() < 0.05
    input_tokens = rng.randint(200, 8000)
    event: dict[str, Any] = {
        "event_id": str(fast_uuid()),
        "project": PROJECT,
        "agent": rng.choice(AGENTS),
        "model": rng.choice(MODELS),
        "started_at": started_at.isoformat(),
        "duration_ms": round(rng.lognormvariate(7.0, 0.8), 3),
        "status": "error" if failed else "success",
        "input_tokens": input_tokens,
        "output_tokens": rng.randint(20, 1500),
        "cache_read_tokens": rng.randint(0, input_tokens // 2),
        "time_to_first_token_ms": round(rng.uniform(50, 400), 3),
        "trace_id": uuid.UUID(int=rng.getrandbits(128)).hex,
        "session_id": f"s-{rng.randrange(SESSIONS)}",
        "user_id": f"u-{rng.randrange(USERS)}",
        "tags": {"env": "prod", "region": rng.choice(("eu", "us"))},
    }
    if event["time_to_first_token_ms"] > event["duration_ms"]:
        event["time_to_first_token_ms"] = event["duration_ms"]
    if failed:
        event["error_type"] = rng.choice(ERRORS)
        event["error_message"] = "upstream said no"
    event.update(extra)
    return event


@dataclass(frozen=True)
class Batch:
    """``n`` events: their wire payloads and their agent_runs records."""

    payloads: list[bytes]
    records: list[tuple[Any, ...]]


def make_events(n: int, end: datetime, spread_s: float, seed: int = 7) -> Batch:
    """``n`` events started within ``spread_s`` seconds before ``end``."""
    rng = random.Random(seed)
    payloads = []
    for _ in range(n):
        started = end - timedelta(seconds=rng.uniform(0, spread_s))
        payloads.append(json.dumps(event_dict(rng, started), separators=(",", ":")).encode())
    return Batch(payloads, [record_of(p) for p in payloads])


def record_of(payload: bytes) -> tuple[Any, ...]:
    """The agent_runs record of a valid payload (cost left NULL: no pricing here)."""
    e = parse_event(payload)
    return (
        e.event_id, e.project, e.agent, e.model, e.started_at, e.ended, e.duration,
        e.status, e.error_type, e.error_message, e.input_tokens, e.output_tokens,
        e.cache_read_tokens, e.cache_write_tokens, e.time_to_first_token_ms, e.cost_usd,
        None, None, e.trace_id, e.session_id, e.user_id, _json(e.tags), _json(e.metadata),
    )  # fmt: skip


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))
