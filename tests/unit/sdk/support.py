"""Helpers of the SDK unit tests: events, a quickly retrying publisher, a list sink."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import fakeredis

from runtally.events import RunEvent, parse_event
from runtally.sdk.options import PublisherOptions
from runtally.sdk.publisher import Publisher

STREAM = "runtally:events"


def event_dict(i: int = 0) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "agent": f"agent-{i % 3}",
        "model": "gpt-4o",
        "started_at": "2026-01-01T00:00:00+00:00",
        "duration_ms": float(i),
    }


def fast(client: fakeredis.FakeAsyncRedis, **options: Any) -> Publisher:
    """A publisher that retries quickly (``options``: ``PublisherOptions`` fields)."""
    options.setdefault("backoff_initial_s", 0.005)
    options.setdefault("backoff_max_s", 0.02)
    return Publisher(client, PublisherOptions(**options))


async def stream_payloads(client: fakeredis.FakeAsyncRedis) -> list[bytes]:
    return [fields[b"data"] for _, fields in await client.xrange(STREAM)]


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


class ListSink:
    """Collects published payloads (a ``track()`` sink with a plain sync ``publish``)."""

    def __init__(self) -> None:
        self.payloads: list[str] = []

    def publish(self, payload: str) -> bool:
        self.payloads.append(payload)
        return True

    def events(self) -> list[RunEvent]:
        return [parse_event(p) for p in self.payloads]
