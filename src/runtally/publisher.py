"""Publisher SDK: agent services hand run events to a bounded buffer; a sender streams them.

``Publisher`` (asyncio) accepts events into a bounded in-memory buffer and returns at
once; one background task sends them as ``XADD <stream> * data <json>`` in pipelined
batches. While Redis is unreachable the entries stay buffered and the sender retries
with capped exponential backoff, so nothing accepted is lost. When the buffer is full
the ``on_full`` policy applies: ``"block"`` makes ``publish`` wait for room, ``"drop"``
refuses the event, counts it in ``dropped`` and logs a warning — never silently.

Each batch is sent by one Lua script call (``BATCH_SCRIPT``): a single command with the
batch as arguments is about 3x cheaper for the client than pipelining one XADD per event,
and it is atomic. The entries are the same as ``XADD <stream> * data <json>`` makes, so
any other Redis client publishes alike. The script also writes a marker key named after
the batch and skips a batch whose marker exists: when a connection breaks after a batch
was sent, nobody knows whether it was applied, and the retry of the same batch is then a
no-op if it was. So a batch lands in the stream exactly once (storage is idempotent on
``event_id`` anyway; this keeps the stream itself free of duplicates). Markers of
confirmed batches are deleted by the next batch and expire after ``marker_ttl_s``.

Nothing raises into agent code unless ``raise_on_error=True``: problems are counted
(``dropped``, ``retried``) and logged on the ``runtally.publisher`` logger.

``SyncPublisher`` runs a ``Publisher`` on its own event loop in a daemon thread for
synchronous code, and flushes at interpreter exit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Coroutine, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import redis.asyncio as aioredis

from runtally import constants
from runtally.ids import uuid7

if TYPE_CHECKING:
    from runtally.config import Settings

log = logging.getLogger("runtally.publisher")

OnFull = Literal["block", "drop"]
T = TypeVar("T")

PRESSURE_WARN = 0.8  # warn when the buffer is this full...
PRESSURE_REARM = 0.5  # ...and again only after it drained below this
DROP_LOG_INTERVAL_S = 5.0  # drops are summarised at most this often
DEFAULT_REDIS_URL = constants.REDIS_URL
DEFAULT_STREAM = constants.STREAM
MAX_STALE_MARKERS = 64  # markers deleted per batch (normally just the previous one)

# KEYS: stream, this batch's marker, markers of confirmed batches to delete.
# ARGV: marker TTL in seconds, then the payloads. The marker is checked first and written
# last, so a batch Redis refuses (e.g. WRONGTYPE at the first XADD) leaves no marker.
BATCH_SCRIPT = """
if #KEYS > 2 then redis.call('DEL', unpack(KEYS, 3)) end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
for i = 2, #ARGV do redis.call('XADD', KEYS[1], '*', 'data', ARGV[i]) end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
return #ARGV - 1
"""


class PublishError(Exception):
    """Raised into agent code only when the publisher has ``raise_on_error=True``."""


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode_event(event: Any) -> str:
    """The wire JSON of ``event``: a ``RunEvent``, a mapping, or wire JSON text as is.

    A mapping without ``event_id`` gets a UUIDv7 one. Datetimes become RFC 3339 text,
    UUIDs strings, Decimals numbers. Raises ``TypeError``/``ValueError`` when the event
    cannot be encoded (NaN, unsupported value types). Validation is left to ingest,
    which dead-letters an invalid event with its reason.
    """
    if isinstance(event, str):
        return event
    if isinstance(event, Mapping):
        data = event if "event_id" in event else {"event_id": uuid7(), **event}
        return json.dumps(
            data, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
            default=_json_default,
        )  # fmt: skip
    to_wire = getattr(event, "to_wire", None)  # RunEvent, without importing pydantic here
    if callable(to_wire):
        return str(to_wire())
    raise TypeError(f"cannot publish a {type(event).__name__}; pass a RunEvent or a dict")


class Publisher:
    """Asynchronous, buffered, retrying publisher of run events (see module doc).

    Use it as ``async with Publisher(url) as pub: await pub.publish(event)`` or call
    ``aclose()``; the sender task starts on the first publish inside a running loop.
    """

    def __init__(
        self,
        redis: str | aioredis.Redis = DEFAULT_REDIS_URL,
        *,
        stream: str = DEFAULT_STREAM,
        max_buffer: int = 100_000,
        batch_size: int = 500,
        on_full: OnFull = "block",
        block_timeout_s: float | None = None,
        raise_on_error: bool = False,
        backoff_initial_s: float = 0.05,
        backoff_max_s: float = 5.0,
        marker_ttl_s: int = 86_400,
        socket_timeout_s: float = 10.0,
        linger_s: float = 0.002,
    ) -> None:
        if max_buffer < 1 or batch_size < 1:
            raise ValueError("max_buffer and batch_size must be >= 1")
        if on_full not in ("block", "drop"):
            raise ValueError(f"on_full must be 'block' or 'drop', not {on_full!r}")
        self._owns_client = isinstance(redis, str)
        self._client: aioredis.Redis = (
            aioredis.Redis.from_url(
                redis, socket_timeout=socket_timeout_s, socket_connect_timeout=socket_timeout_s
            )
            if isinstance(redis, str)
            else redis
        )
        self._script = self._client.register_script(BATCH_SCRIPT)
        self.stream = stream
        self.max_buffer = max_buffer
        self.batch_size = batch_size
        self.on_full: OnFull = on_full
        self.block_timeout_s = block_timeout_s
        self.raise_on_error = raise_on_error
        self.linger_s = linger_s
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._marker_ttl_s = marker_ttl_s
        # The buffer is shared with other threads (SyncPublisher, track() in threads).
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._buffer: deque[str] = deque()
        self._inflight: list[str] = []
        self._batch_id = ""
        self._stale_markers: list[str] = []
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._room_event: asyncio.Event | None = None
        self._idle = False
        self._pressure_warned = False
        self._failures = 0
        self._drop_log_at = 0.0
        self._drops_unlogged = 0
        self.published = 0
        self.retried = 0
        self.dropped = 0

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Publisher:
        """A publisher to ``settings.redis_url`` / ``settings.stream``; ``options`` override."""
        options.setdefault("stream", settings.stream)
        options.setdefault("backoff_max_s", settings.retry_backoff_max_s)
        return cls(settings.redis_url, **options)

    # --- state ---------------------------------------------------------------------------

    @property
    def buffered(self) -> int:
        """Events accepted and not yet confirmed by Redis (waiting or in flight)."""
        return len(self._buffer) + len(self._inflight)

    @property
    def pressure(self) -> float:
        """Fill ratio of the buffer, 0.0 (empty) to 1.0 (full: the policy applies)."""
        return self.buffered / self.max_buffer

    @property
    def closed(self) -> bool:
        return self._closed

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
        if accepted is not None:
            return accepted
        if self.on_full == "drop":
            return self._drop(1, "buffer full")
        return await self._wait_for_room(payload)

    def publish_nowait(self, event: Any) -> bool:
        """Accept ``event`` without ever waiting: a full buffer drops it (counted).

        Safe from any thread and from synchronous code running inside the event loop.
        """
        payload = self._encode(event)
        if payload is None:
            return False
        self._ensure_started()
        accepted = self._offer(payload)
        if accepted is not None:
            return accepted
        return self._drop(1, "buffer full")

    def put_threadsafe(self, payload: str, block: bool, timeout: float | None) -> bool:
        """Accept encoded ``payload`` from a thread other than the loop's; may block."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            accepted = self._offer(payload)
            if accepted is not None:
                return accepted
            if not block:
                return self._drop(1, "buffer full")
            with self._room:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                if self.buffered >= self.max_buffer:
                    self._room.wait(0.5 if remaining is None else min(remaining, 0.5))
        return self._drop(1, f"buffer full for {timeout:g}s")

    async def _wait_for_room(self, payload: str) -> bool:
        assert self._room_event is not None
        loop = asyncio.get_running_loop()
        deadline = None if self.block_timeout_s is None else loop.time() + self.block_timeout_s
        while True:
            self._room_event.clear()
            accepted = self._offer(payload)
            if accepted is not None:
                return accepted
            wait = 0.5 if deadline is None else min(deadline - loop.time(), 0.5)
            if wait <= 0:
                return self._drop(1, f"buffer full for {self.block_timeout_s:g}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room_event.wait(), wait)

    def _encode(self, event: Any) -> str | None:
        try:
            return encode_event(event)
        except (TypeError, ValueError) as exc:
            self._drop(1, f"cannot encode event: {exc}")
            return None

    def _offer(self, payload: str) -> bool | None:
        """Append when there is room: True; closed: False (dropped); full: None."""
        if self._closed:
            return self._drop(1, "publisher is closed")
        with self._lock:
            size = len(self._buffer) + len(self._inflight)
            if size >= self.max_buffer:
                return None
            self._buffer.append(payload)
            wake = self._idle
            self._idle = False
        if wake:
            self._wake_sender()
        if size + 1 >= self.max_buffer * PRESSURE_WARN and not self._pressure_warned:
            self._pressure_warned = True
            log.warning(
                "runtally publisher buffer %.0f%% full (%d of %d events): Redis is slow or "
                "unreachable; at 100%% new events are %s",
                100 * (size + 1) / self.max_buffer, size + 1, self.max_buffer,
                "dropped" if self.on_full == "drop" else "blocked",
            )  # fmt: skip
        return True

    def _drop(self, count: int, reason: str) -> bool:
        """Count and log dropped events (summarised); raise if configured. Returns False."""
        with self._lock:
            self.dropped += count
            self._drops_unlogged += count
            now = time.monotonic()
            due = now >= self._drop_log_at
            if due:
                unlogged, self._drops_unlogged = self._drops_unlogged, 0
                self._drop_log_at = now + DROP_LOG_INTERVAL_S
        if due:
            log.warning(
                "runtally publisher dropped %d event(s) (%s); %d dropped in total",
                unlogged, reason, self.dropped,
            )  # fmt: skip
        if self.raise_on_error:
            raise PublishError(f"event dropped: {reason}")
        return False

    # --- sending -------------------------------------------------------------------------

    def _ensure_started(self) -> None:
        if self._task is not None or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop here (yet): events wait in the buffer until one runs us
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()
        self._room_event = asyncio.Event()
        self._task = loop.create_task(self._run(), name="runtally-publisher")

    def _wake_sender(self) -> None:
        if self._wake is None or self._loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._wake.set()
        else:
            with contextlib.suppress(RuntimeError):  # loop closed: close() reports the rest
                self._loop.call_soon_threadsafe(self._wake.set)

    def _take_batch(self) -> bool:
        """Move up to ``batch_size`` events to the in-flight batch; False when idle."""
        with self._lock:
            if self._inflight:
                return True
            if not self._buffer:
                self._idle = True
                return False
            count = min(self.batch_size, len(self._buffer))
            self._inflight = [self._buffer.popleft() for _ in range(count)]
        self._batch_id = uuid.uuid4().hex
        return True

    async def _run(self) -> None:
        """The sender: send batches until closed; retry failures with backoff."""
        assert self._wake is not None
        initial, cap = self._backoff
        delay = initial
        while True:
            self._wake.clear()
            if not self._take_batch():
                await self._wake.wait()
                if self.linger_s:
                    # Let a burst gather into one batch instead of a wake-up per event.
                    await asyncio.sleep(self.linger_s)
                continue
            try:
                await self._send_batch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: keep the batch, back off, retry
                self._note_failure(exc)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, cap)
            else:
                delay = initial

    def _marker(self, batch_id: str) -> str:
        return f"{self.stream}{constants.BATCH_MARKER_INFIX}{batch_id}"

    async def _send_batch(self) -> None:
        """Run the batch script once; it appends the batch unless its marker says done."""
        marker = self._marker(self._batch_id)
        stale = self._stale_markers[:MAX_STALE_MARKERS]
        await self._script(
            keys=[self.stream, marker, *stale], args=[self._marker_ttl_s, *self._inflight]
        )
        # 0 means a previous attempt whose reply was lost had applied it: also confirmed.
        del self._stale_markers[: len(stale)]
        self._confirm(marker)

    def _confirm(self, marker: str) -> None:
        self._stale_markers.append(marker)
        with self._lock:
            self.published += len(self._inflight)
            self._inflight = []
            self._room.notify_all()
            size = len(self._buffer)
        if self._room_event is not None:
            self._room_event.set()
        if size < self.max_buffer * PRESSURE_REARM:
            self._pressure_warned = False
        if self._failures:
            log.warning(
                "runtally publisher: Redis reachable again after %d failed attempt(s)",
                self._failures,
            )
            self._failures = 0

    def _note_failure(self, exc: Exception) -> None:
        self.retried += 1
        self._failures += 1
        if self._failures == 1:
            log.warning(
                "runtally publisher cannot send to Redis (%s: %s); keeping %d event(s) "
                "buffered and retrying with backoff",
                type(exc).__name__, exc, self.buffered,
            )  # fmt: skip
        else:
            log.debug("runtally publisher retry %d failed: %s", self._failures, exc)

    # --- draining ------------------------------------------------------------------------

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything accepted so far is in Redis; False on timeout."""
        self._ensure_started()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self.buffered:
            if self._task is not None and self._task.done():
                return False
            if deadline is not None and loop.time() >= deadline:
                return False
            await asyncio.sleep(0.002)
        return True

    async def aclose(self, timeout: float | None = 10.0) -> None:
        """Stop accepting, deliver what is buffered (up to ``timeout``), release Redis.

        Events still undelivered at the timeout are counted as dropped and logged.
        """
        if self._closed:
            return
        self._ensure_started()  # events accepted before any loop ran still get sent
        self._closed = True  # refuse new events from here on
        drained = await self.flush(timeout)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if drained and self._stale_markers:
            # Confirmed batches need no marker any more; leave Redis tidy (TTL otherwise).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.delete(*self._stale_markers), 2.0)
        lost = self.buffered
        with self._lock:
            self._buffer.clear()
            self._inflight = []
        if self._owns_client:
            with contextlib.suppress(Exception):
                await self._client.aclose()
        if not drained and lost:
            self._drop_log_at = 0.0
            self._drop(lost, "closed while Redis was unreachable")


class SyncPublisher:
    """A ``Publisher`` for synchronous code: its own event loop in a daemon thread.

    ``publish`` is thread-safe. Everything accepted is flushed by ``close()``, which
    also runs at interpreter exit, so a short-lived script loses nothing it published.
    """

    def __init__(
        self,
        redis: str | aioredis.Redis = DEFAULT_REDIS_URL,
        *,
        close_timeout_s: float = 10.0,
        **options: Any,
    ) -> None:
        self.close_timeout_s = close_timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="runtally-publisher", daemon=True
        )
        self._thread.start()
        self._publisher = self._call(self._make(redis, options))
        self._closed = False
        atexit.register(self.close)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> SyncPublisher:
        options.setdefault("stream", settings.stream)
        options.setdefault("backoff_max_s", settings.retry_backoff_max_s)
        return cls(settings.redis_url, **options)

    @staticmethod
    async def _make(redis: str | aioredis.Redis, options: dict[str, Any]) -> Publisher:
        publisher = Publisher(redis, **options)
        await publisher.start()
        return publisher

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def publisher(self) -> Publisher:
        """The asynchronous publisher running in the background thread."""
        return self._publisher

    def publish(self, event: Any) -> bool:
        """Accept ``event``; True when accepted. Blocks only with ``on_full="block"``."""
        pub = self._publisher
        payload = pub._encode(event)
        if payload is None:
            return False
        return pub.put_threadsafe(payload, pub.on_full == "block", pub.block_timeout_s)

    async def apublish(self, event: Any) -> bool:
        """``publish`` for async callers: waits for room without blocking their loop."""
        pub = self._publisher
        payload = pub._encode(event)
        if payload is None:
            return False
        if pub.on_full == "drop":
            return pub.put_threadsafe(payload, False, None)
        accepted = pub._offer(payload)
        if accepted is not None:
            return accepted
        return await asyncio.to_thread(pub.put_threadsafe, payload, True, pub.block_timeout_s)

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
        wait = self.close_timeout_s if timeout is None else timeout
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
