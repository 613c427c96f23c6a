"""The background sender: batches from the buffer to Redis, retried with backoff.

One ``SendLoop`` runs as a task in the publisher's event loop. A batch that fails stays
in flight and is sent again after a jittered, capped exponential delay (``Backoff``), so
nothing accepted is lost while Redis is away; the first failure and the recovery are
logged once each on the ``runtally.publisher`` logger, the retries in between at debug.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from runtally.backoff import Backoff
from runtally.sdk.batches import BatchSender
from runtally.sdk.buffer import EventBuffer
from runtally.sdk.options import PublisherOptions

log = logging.getLogger("runtally.publisher")


class SendLoop:
    """Takes batches from ``buffer`` and sends them with ``batches`` until cancelled.

    Made inside the running loop it sends from; ``wake`` may be called from any thread.
    """

    def __init__(
        self, buffer: EventBuffer, batches: BatchSender, options: PublisherOptions
    ) -> None:
        self._buffer = buffer
        self._batches = batches
        self._batch_size = options.batch_size
        self._linger_s = options.linger_s
        self._backoff = Backoff(cap_s=options.backoff_max_s, base_s=options.backoff_initial_s)
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._wake = asyncio.Event()
        self.room = asyncio.Event()  # set whenever a confirmed batch freed room
        self.retried = 0  # failed attempts in total
        self.failures = 0  # failed attempts since the last success (0: Redis answers)

    def wake(self) -> None:
        """Wake the idle sender (the buffer said ``WAKE``); from any thread."""
        if threading.get_ident() == self._thread:
            self._wake.set()
        else:
            with contextlib.suppress(RuntimeError):  # loop closed: aclose reports the rest
                self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        """Send batches until cancelled; a failed batch is kept and retried with backoff."""
        while True:
            self._wake.clear()
            batch = self._buffer.take(self._batch_size)
            if not batch:
                await self._idle()
                continue
            try:
                await self._batches.send(batch)
            except Exception as exc:  # any failure: keep the batch, back off, retry
                self._failed(exc)
                await asyncio.sleep(self._backoff.next_delay())
            else:
                self._sent()

    async def _idle(self) -> None:
        await self._wake.wait()
        if self._linger_s:
            # Let a burst gather into one batch instead of a wake-up per event.
            await asyncio.sleep(self._linger_s)

    def _sent(self) -> None:
        self._buffer.confirm()
        self.room.set()
        self._backoff.reset()
        if self.failures:
            log.warning(
                "runtally publisher: Redis reachable again after %d failed attempt(s)",
                self.failures,
            )
            self.failures = 0

    def _failed(self, exc: Exception) -> None:
        self.retried += 1
        self.failures += 1
        if self.failures == 1:
            log.warning(
                "runtally publisher cannot send to Redis (%s: %s); keeping %d event(s) "
                "buffered and retrying with backoff",
                type(exc).__name__, exc, len(self._buffer),
            )  # fmt: skip
        else:
            log.debug("runtally publisher retry %d failed: %s", self.failures, exc)
