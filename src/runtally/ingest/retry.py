"""Calls to the stream retried with backoff until Redis answers; the loop never dies of it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import RedisError, ResponseError

from runtally.backoff import Backoff
from runtally.ingest.metrics import IngestMetrics
from runtally.stream import Stream

log = logging.getLogger("runtally.ingest")
T = TypeVar("T")


class RedisRetry:
    """Runs stream operations, retrying on ``RedisError`` and re-creating a vanished group."""

    def __init__(self, stream: Stream, backoff_max_s: float, metrics: IngestMetrics) -> None:
        self.stream = stream
        self.backoff_max_s = backoff_max_s
        self.metrics = metrics

    async def __call__(self, op: Callable[[], Awaitable[T]]) -> T:
        """The result of ``op()``, once Redis answers it."""
        backoff = Backoff(self.backoff_max_s)
        while True:
            try:
                return await op()
            except RedisError as exc:
                problem: RedisError | None = exc
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    # The stream or group vanished (e.g. Redis restarted without persistence).
                    log.warning("consumer group missing; creating it again")
                    problem = await self._recreate_group()
            if problem is not None:
                delay = backoff.next_delay()
                self.metrics.retries.labels("redis").inc()
                log.warning("redis unavailable (%s); retrying in %.2fs", problem, delay)
                await asyncio.sleep(delay)

    async def _recreate_group(self) -> RedisError | None:
        try:
            await self.stream.ensure_group()
        except RedisError as exc:
            return exc
        return None
