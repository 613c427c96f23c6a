"""``SyncPublisher``: a ``Publisher`` for synchronous code, on its own loop in a thread.

It uses only the ``Publisher``'s public methods. ``publish`` is thread-safe; everything
accepted is flushed by ``close()``, which also runs at interpreter exit, so a short-lived
script loses nothing it published.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from redis.asyncio import Redis

from runtally import constants
from runtally.sdk.options import PublisherOptions
from runtally.sdk.publisher import Publisher

if TYPE_CHECKING:
    from runtally.config import Settings

T = TypeVar("T")


async def _started(redis: str | Redis, options: PublisherOptions) -> Publisher:
    publisher = Publisher(redis, options)
    await publisher.start()
    return publisher


class SyncPublisher:
    """A ``Publisher`` running on an event loop in a daemon thread (see module doc)."""

    def __init__(
        self, redis: str | Redis = constants.REDIS_URL, options: PublisherOptions | None = None
    ) -> None:
        self.options = options = options or PublisherOptions()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="runtally-publisher", daemon=True
        )
        self._thread.start()
        self._publisher = self._call(_started(redis, options))
        self._closed = False
        atexit.register(self.close)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SyncPublisher:
        """A publisher to ``settings.redis_url`` / ``settings.stream``; ``overrides`` are
        ``PublisherOptions`` fields."""
        return cls(settings.redis_url, PublisherOptions.from_settings(settings, **overrides))

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def publisher(self) -> Publisher:
        """The asynchronous publisher running in the background thread."""
        return self._publisher

    def publish(self, event: Any) -> bool:
        """Accept ``event``; True when accepted. Blocks only with ``on_full="block"``."""
        return self._publisher.publish_blocking(event)

    async def apublish(self, event: Any) -> bool:
        """``publish`` for async callers: waits for room without blocking their loop."""
        publisher = self._publisher
        if self.options.on_full == "drop":
            return publisher.publish_nowait(event)
        accepted = publisher.try_publish(event)
        if accepted is not None:
            return accepted
        return await asyncio.to_thread(publisher.publish_blocking, event)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything accepted so far is in Redis; False on timeout."""
        if self._closed:
            return self._publisher.buffered == 0
        return self._call(self._publisher.flush(timeout))

    def close(self, timeout: float | None = None) -> None:
        """Flush (up to ``timeout``, default ``close_timeout_s``), then stop the thread."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        wait = self.options.close_timeout_s if timeout is None else timeout
        try:
            self._call(self._publisher.aclose(wait))
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            if not self._thread.is_alive():
                self._loop.close()

    def __enter__(self) -> SyncPublisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Counters of the underlying publisher.
    @property
    def published(self) -> int:
        return self._publisher.published

    @property
    def retried(self) -> int:
        return self._publisher.retried

    @property
    def dropped(self) -> int:
        return self._publisher.dropped

    @property
    def buffered(self) -> int:
        return self._publisher.buffered

    @property
    def pressure(self) -> float:
        return self._publisher.pressure

    def stats(self) -> dict[str, float]:
        return self._publisher.stats()
