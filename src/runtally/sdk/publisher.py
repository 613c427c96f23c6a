"""``Publisher``: agent services hand run events to a bounded buffer; a sender streams them.

``publish`` accepts an event into the bounded in-memory buffer (``buffer``) and returns at
once; one background task (``sender``) sends the events in batches by the Lua batch
script (``batches``), exactly once even when a batch is retried. While Redis is
unreachable the events stay buffered and are retried with backoff, so nothing accepted
is lost. When the buffer is full the ``on_full`` policy applies: ``"block"`` makes
``publish`` wait for room, ``"drop"`` refuses the event, counts it in ``dropped`` and logs
a warning: never silently.

Nothing raises into agent code unless ``raise_on_error=True``: problems are counted
(``dropped``, ``retried``) and logged on the ``runtally.publisher`` logger.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from runtally import constants
from runtally.sdk.batches import BatchSender
from runtally.sdk.buffer import (
    ACCEPTED,
    CLOSED,
    FULL,
    WAKE,
    WARN,
    Clock,
    EventBuffer,
    deadline,
    room_wait,
)
from runtally.sdk.encoding import encode_event
from runtally.sdk.notices import Notices
from runtally.sdk.options import PublisherOptions
from runtally.sdk.sender import SendLoop

if TYPE_CHECKING:
    from runtally.config import Settings

FLUSH_POLL_S = 0.002


class Publisher:
    """Asynchronous, buffered, retrying publisher of run events (see module doc).

    Use it as ``async with Publisher(url) as pub: await pub.publish(event)`` or call
    ``aclose()``; the sender task starts on the first publish inside a running loop.
    ``redis``: a URL (the publisher makes and closes its client) or a client (left open).
    ``clock`` (monotonic seconds) times the block timeout and the drop reports; ``flush``
    and ``aclose`` wait on the event loop's own clock.
    """

    def __init__(
        self,
        redis: str | Redis = constants.REDIS_URL,
        options: PublisherOptions | None = None,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.options = options = options or PublisherOptions()
        self._owns_client = isinstance(redis, str)
        self._client = _connect(redis, options.socket_timeout_s)
        self._clock = clock
        self._buffer = EventBuffer(options.max_buffer)
        self._notices = Notices(options, clock)
        self._batches = BatchSender(self._client, options.stream, options.marker_ttl_s)
        self._sender: SendLoop | None = None
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Publisher:
        """A publisher to ``settings.redis_url`` / ``settings.stream``; ``overrides`` are
        ``PublisherOptions`` fields."""
        return cls(settings.redis_url, PublisherOptions.from_settings(settings, **overrides))

    # --- state ---------------------------------------------------------------------------

    @property
    def client(self) -> Redis:
        """The Redis client the batches go through."""
        return self._client

    @property
    def buffered(self) -> int:
        """Events accepted and not yet confirmed by Redis (waiting or in flight)."""
        return len(self._buffer)

    @property
    def pressure(self) -> float:
        """Fill ratio of the buffer, 0.0 (empty) to 1.0 (full: the policy applies)."""
        return self._buffer.pressure

    @property
    def closed(self) -> bool:
        return self._buffer.closed

    @property
    def published(self) -> int:
        """Events confirmed by Redis."""
        return self._buffer.confirmed

    @property
    def retried(self) -> int:
        """Failed attempts to send a batch (each was retried)."""
        return 0 if self._sender is None else self._sender.retried

    @property
    def dropped(self) -> int:
        """Events refused or lost (buffer full, cannot encode, closed), all logged."""
        return self._notices.dropped

    def stats(self) -> dict[str, float]:
        """Counters for metrics and logs."""
        return {
            "published": self.published,
            "retried": self.retried,
            "dropped": self.dropped,
            "buffered": self.buffered,
            "pressure": self.pressure,
        }

    # --- accepting -----------------------------------------------------------------------

    async def __aenter__(self) -> Publisher:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start the sender task in the running loop (publish does it on first use)."""
        self._ensure_started()

    async def publish(self, event: Any) -> bool:
        """Accept ``event`` (``RunEvent``, dict or wire JSON). True when accepted.

        With ``on_full="block"`` a full buffer makes this wait for room (up to
        ``block_timeout_s``, then the event is dropped and counted).
        """
        payload = self._encode(event)
        if payload is None:
            return False
        self._ensure_started()
        accepted = self._offer(payload)
        if accepted is None:
            return await self._when_full(payload)
        return accepted

    def publish_nowait(self, event: Any) -> bool:
        """Accept ``event`` without ever waiting: a full buffer drops it (counted).

        Safe from any thread and from synchronous code running inside the event loop.
        """
        payload = self._encode(event)
        if payload is None:
            return False
        self._ensure_started()
        accepted = self._offer(payload)  # not via try_publish: this is track()'s hot path
        if accepted is None:
            return self._notices.drop(1, "buffer full")
        return accepted

    def try_publish(self, event: Any) -> bool | None:
        """Accept ``event`` if there is room now: True. False: refused and counted as
        dropped (cannot encode, closed). None: the buffer is full, nothing was counted and
        the caller decides. Safe from any thread."""
        payload = self._encode(event)
        if payload is None:
            return False
        self._ensure_started()
        return self._offer(payload)

    def publish_blocking(self, event: Any) -> bool:
        """Accept ``event`` from a thread other than the loop's, applying ``on_full`` by
        blocking the calling thread (never call it on the publisher's loop)."""
        payload = self._encode(event)
        if payload is None:
            return False
        accepted = self._offer(payload)
        if accepted is not None:
            return accepted
        until = deadline(self.options.block_timeout_s, self._clock())
        while (wait := room_wait(self.options.on_full, until, self._clock())) > 0:
            self._buffer.wait_for_room(wait)
            accepted = self._offer(payload)
            if accepted is not None:
                return accepted
        return self._notices.drop(1, self._full_reason())

    async def _when_full(self, payload: str) -> bool:
        """Apply ``on_full`` in the loop: wait for a confirmed batch to make room, or drop."""
        assert self._sender is not None  # publish started it (or the buffer is closed)
        room = self._sender.room
        until = deadline(self.options.block_timeout_s, self._clock())
        while (wait := room_wait(self.options.on_full, until, self._clock())) > 0:
            room.clear()
            accepted = self._offer(payload)
            if accepted is not None:
                return accepted
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(room.wait(), wait)
        return self._notices.drop(1, self._full_reason())

    def _full_reason(self) -> str:
        if self.options.on_full == "drop":
            return "buffer full"
        return f"buffer full for {self.options.block_timeout_s:g}s"

    def _encode(self, event: Any) -> str | None:
        try:
            return encode_event(event)
        except (TypeError, ValueError) as exc:
            self._notices.drop(1, f"cannot encode event: {exc}")
            return None

    def _offer(self, payload: str) -> bool | None:
        """Into the buffer: True; closed: False (dropped); full: None."""
        answer = self._buffer.offer(payload)
        if answer == ACCEPTED:
            return True
        if answer == FULL:
            return None
        if answer == CLOSED:
            return self._notices.drop(1, "publisher is closed")
        if answer & WAKE and self._sender is not None:
            self._sender.wake()
        if answer & WARN:
            self._notices.pressure(len(self._buffer), self._sender)
        return True

    # --- running and draining ------------------------------------------------------------

    def _ensure_started(self) -> None:
        if self._task is not None or self._buffer.closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop here (yet): events wait in the buffer until one runs us
        self._sender = SendLoop(self._buffer, self._batches, self.options)
        self._task = loop.create_task(self._sender.run(), name="runtally-publisher")

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything accepted so far is in Redis; False on timeout."""
        self._ensure_started()
        loop = asyncio.get_running_loop()
        until = deadline(timeout, loop.time())
        while len(self._buffer):
            if self._task is not None and self._task.done():
                return False
            if until is not None and loop.time() >= until:
                return False
            await asyncio.sleep(FLUSH_POLL_S)
        return True

    async def aclose(self, timeout: float | None = 10.0) -> None:
        """Stop accepting, deliver what is buffered (up to ``timeout``), release Redis.

        Events still undelivered at the timeout are counted as dropped and logged.
        """
        if self._buffer.closed:
            return
        self._ensure_started()  # events accepted before any loop ran still get sent
        self._buffer.close()  # refuse new events from here on
        drained = await self.flush(timeout)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if drained:  # confirmed batches need no marker any more: leave Redis tidy
            await self._batches.tidy()
        lost = self._buffer.clear()
        if self._owns_client:
            with contextlib.suppress(Exception):
                await self._client.aclose()
        if lost:
            self._notices.drop(lost, "closed while Redis was unreachable", report_now=True)


def _connect(redis: str | Redis, socket_timeout_s: float) -> Redis:
    """The client for ``redis``: made from a URL, or the given one."""
    if isinstance(redis, Redis):
        return redis
    client: Redis = Redis.from_url(
        redis, socket_timeout=socket_timeout_s, socket_connect_timeout=socket_timeout_s
    )
    return client
