"""Helpers shared by the ingest tests: valid run events, a fixed price table, polling."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from runtally.events import RunEvent

MODELS = ("gpt-4o", "claude-sonnet-4", "mystery-model")


class FixedPrices:
    """A price table stand-in: $0.001 per 1k input tokens for known models, version 'test-1'."""

    version = "test-1"

    def cost(self, event: RunEvent) -> tuple[Decimal | None, str | None]:
        if event.model == "mystery-model" or event.input_tokens is None:
            return None, self.version
        return Decimal(event.input_tokens) / 1_000_000, self.version


class NoPool:
    """A pool for stores whose ``commit`` a test replaces: any use of it fails the test."""

    def acquire(self, *, timeout: float | None = None) -> Any:
        raise AssertionError("no database in this test")

    async def close(self) -> None:
        pass


def event_dict(i: int, now: datetime | None = None, **overrides: Any) -> dict[str, Any]:
    """A valid event, varied by ``i``, started within the last hour."""
    now = now or datetime.now(UTC)
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "project": f"p{i % 3}",
        "agent": f"agent-{i % 5}",
        "model": MODELS[i % len(MODELS)],
        "started_at": (now - timedelta(seconds=5 + i % 3000)).isoformat(),
        "duration_ms": float(10 + (i * 37) % 5000),
        "input_tokens": 100 + i % 900,
        "output_tokens": i % 300,
        "user_id": f"user-{i % 50}",
    }
    if i % 4 == 0:
        event["status"] = "error"
        event["error_type"] = "TimeoutError"
    if i % 7 == 0:
        event["cost_usd"] = 0.25
    if i % 5 == 0:
        event["tags"] = {"env": "prod", "i": str(i)}
        event["metadata"] = {"nested": {"n": i}}
    event.update(overrides)
    return event


def payload(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


async def xadd_all(client: Any, stream: str, entries: Iterable[dict[Any, Any]]) -> list[str]:
    """XADD every field mapping (pipelined); the new ids in order."""
    ids: list[str] = []
    pipe = client.pipeline(transaction=False)
    for n, fields in enumerate(entries, 1):
        pipe.xadd(stream, fields)
        if n % 2000 == 0:
            ids += [i.decode() for i in await pipe.execute()]
    ids += [i.decode() for i in await pipe.execute()]
    return ids


async def wait_until(
    check: Callable[[], Awaitable[Any]], timeout: float, what: str, interval: float = 0.1
) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


# A corpus of entries that must be dead-lettered, with a word their reason must contain.
def malformed_corpus(now: datetime) -> list[tuple[dict[bytes, bytes], str]]:
    good = event_dict(1, now)

    def with_(**kw: Any) -> dict[bytes, bytes]:
        return {b"data": payload({**good, "event_id": str(uuid.uuid4()), **kw})}

    def without(key: str) -> dict[bytes, bytes]:
        event = {**good, "event_id": str(uuid.uuid4())}
        del event[key]
        return {b"data": payload(event)}

    far_future = (now + timedelta(hours=2)).isoformat()
    too_old = (now - timedelta(days=45)).isoformat()
    return [
        ({b"payload": payload(good)}, "no 'data' field"),
        ({b"data": payload(good), b"extra": b"1"}, "only the 'data' field"),
        ({b"data": b"\xff\xfe{}"}, "not UTF-8"),
        ({b"data": b"{not json"}, "invalid event"),
        ({b"data": b""}, "invalid event"),
        ({b"data": b"[]"}, "invalid event"),
        ({b"data": b"null"}, "invalid event"),
        ({b"data": b'"a string"'}, "invalid event"),
        (without("event_id"), "event_id"),
        (without("agent"), "agent"),
        (without("model"), "model"),
        (without("started_at"), "started_at"),
        (with_(event_id="not-a-uuid"), "event_id"),
        (with_(agent=""), "agent"),
        (with_(agent="x" * 101), "agent"),
        (with_(project="bad project!"), "project"),
        (with_(started_at="2026-01-01T00:00:00"), "started_at"),
        (with_(duration_ms=-1), "duration_ms"),
        (with_(duration_ms="12"), "duration_ms"),
        (with_(status="maybe"), "status"),
        (with_(status="error"), "error_type"),
        (with_(error_type="Boom"), "error_type"),
        (with_(input_tokens=-5), "input_tokens"),
        (with_(input_tokens=1.5), "input_tokens"),
        (with_(input_tokens=10, cache_read_tokens=20), "cache_read_tokens"),
        (with_(cost_usd=-1), "cost_usd"),
        (with_(cost_usd="1.0"), "cost_usd"),
        (with_(unknown_field=1), "unknown_field"),
        (with_(tags={"k": 1}), "tags"),
        (with_(tags={f"k{i}": "v" for i in range(21)}), "tags"),
        (with_(metadata={"blob": "x" * 17000}), "metadata"),
        (with_(user_id="u" * 129), "user_id"),
        (with_(time_to_first_token_ms=1e9), "time_to_first_token_ms"),
        (with_(started_at=far_future), "in the future"),
        (with_(started_at=too_old), "older than raw retention"),
    ]


def ingest_env(settings: Any, **extra: str) -> dict[str, str]:
    """Environment of a ``runtally ingest`` child on this test's servers, fast timings."""
    from runtally.devstack.children import child_env

    env = child_env(
        {
            "RUNTALLY_REDIS_URL": settings.redis_url,
            "RUNTALLY_DATABASE_URL": settings.database_url,
            "RUNTALLY_BATCH_TIMEOUT_MS": "20",
            "RUNTALLY_CLAIM_IDLE_MS": "1000",
            "RUNTALLY_CLAIM_INTERVAL_S": "0.3",
            "RUNTALLY_RETRY_BACKOFF_MAX_S": "0.5",
            "RUNTALLY_TRIM_INTERVAL_S": "1",
            "RUNTALLY_SHUTDOWN_GRACE_S": "10",
            **extra,
        }
    )
    env.pop("RUNTALLY_CONSUMER", None)  # each process names itself host-pid
    return env


async def group_state(client: Any, settings: Any) -> tuple[int, int]:
    """(entries pending in the group, entries never delivered to it)."""
    for info in await client.xinfo_groups(settings.stream):
        if info["name"] in (settings.group, settings.group.encode()):
            return int(info["pending"]), int(info.get("lag") or 0)
    return 0, 0


async def row_count(pool: Any) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM agent_runs"))


async def assert_exactly(pool: Any, events: Iterable[dict[str, Any]]) -> None:
    """Stored rows are exactly ``events``: each event id once, nothing else."""
    rows = await pool.fetch("SELECT event_id FROM agent_runs")
    stored = [str(r["event_id"]) for r in rows]
    expected = {e["event_id"] for e in events}
    assert len(stored) == len(set(stored)), "duplicate rows"
    assert set(stored) == expected


# Wire validation refuses every value we know Postgres would reject, so a "poison" row
# (valid on the wire, refused by storage) is made by constraints the tests add.
POISON_AGENT = "poison-agent"
POISON_CHECKS = {
    "test_poison_agent": f"CHECK (agent <> '{POISON_AGENT}')",
    "test_poison_metadata": "CHECK (metadata IS NULL OR NOT metadata ? 'poison')",
}


async def install_poison_checks(db: Any) -> None:
    """Make Postgres refuse agent ``POISON_AGENT`` and metadata with a ``poison`` key."""
    for name, check in POISON_CHECKS.items():
        await db.execute(f"ALTER TABLE agent_runs ADD CONSTRAINT {name} {check}")
