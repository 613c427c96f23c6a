"""The sweeper: decides staged traces whose time has come (root settled, or timed out).

Every API process runs one (``Sweeper`` in the app's lifespan). Running several is
safe: a trace is published by one atomic script that checks the trace did not change
since it was read, so concurrent sweepers at worst repeat a read. While Redis is
unreachable the sweeper logs and tries again at its next tick; nothing is lost, the
traces stay staged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from runtally.otel.staging import Staging

log = logging.getLogger("runtally.otel")

BATCH = 200  # traces read from the due set per round
MAX_ROUNDS = 50  # rounds per tick, so one tick cannot spin on traces that keep changing


async def sweep_once(staging: Staging, now: float) -> int:
    """Decide every trace due at ``now`` (up to ``BATCH * MAX_ROUNDS``); events published."""
    published = 0
    for _ in range(MAX_ROUNDS):
        keys = await staging.due(now, BATCH)
        published += await staging.decide(keys)
        if len(keys) < BATCH:
            break
    return published


class Sweeper:
    """A background task that runs ``sweep_once`` every ``interval_s`` until stopped."""

    def __init__(
        self, staging: Staging, interval_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.staging = staging
        self.interval_s = interval_s
        self.clock = clock
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="runtally-otel-sweeper")

    async def stop(self, grace_s: float) -> None:
        """Let a running sweep finish within ``grace_s``, then cancel it."""
        self._stop.set()
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=grace_s)
        if not done:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await sweep_once(self.staging, self.clock())
            except (RedisError, OSError) as exc:
                log.warning("otel sweep failed, retrying: %s: %s", type(exc).__name__, exc)
            except Exception:  # a bug must not stop later sweeps; it is logged
                log.exception("otel sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_s)
