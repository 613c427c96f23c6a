"""The Lua batch sender: one script call appends a batch to the stream, exactly once.

A single command with the batch as arguments is about 3x cheaper for the client than
pipelining one XADD per event, and it is atomic. The entries are what
``XADD <stream> * data <json>`` makes, so any other Redis client publishes alike.

The script also writes a marker key named after the batch and skips a batch whose marker
exists: when a connection breaks after a batch was sent, nobody knows whether it was
applied, and the retry of the same batch is then a no-op if it was. So a batch lands in
the stream exactly once (storage is idempotent on ``event_id`` anyway; this keeps the
stream itself free of duplicates). Markers of confirmed batches are deleted by the next
batch (or ``tidy``) and expire after ``marker_ttl_s`` otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from redis.asyncio import Redis

from runtally import constants

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


def marker_key(stream: str, batch_id: str) -> str:
    """The marker of one batch: ``<stream>:batch:<id>``."""
    return f"{stream}{constants.BATCH_MARKER_INFIX}{batch_id}"


class BatchSender:
    """Sends batches to ``stream`` by the batch script; a batch keeps its id (and marker)
    until it is confirmed, so sending it again after a failure is a retry, not a copy."""

    __slots__ = ("_batch_id", "_client", "_script", "_stale", "_ttl_s", "stream")

    def __init__(self, client: Redis, stream: str, marker_ttl_s: int) -> None:
        self.stream = stream
        self._client = client
        self._script = client.register_script(BATCH_SCRIPT)
        self._ttl_s = marker_ttl_s
        self._batch_id: str | None = None
        self._stale: list[str] = []

    async def send(self, batch: list[str]) -> None:
        """Append ``batch`` unless its marker says an earlier attempt did; raises on any
        failure, and then the caller must send the same batch again before any other."""
        if self._batch_id is None:
            self._batch_id = uuid.uuid4().hex
        marker = marker_key(self.stream, self._batch_id)
        stale = self._stale[:MAX_STALE_MARKERS]
        await self._script(keys=[self.stream, marker, *stale], args=[self._ttl_s, *batch])
        # 0 means a previous attempt whose reply was lost had applied it: also confirmed.
        del self._stale[: len(stale)]
        self._stale.append(marker)
        self._batch_id = None

    async def tidy(self, timeout: float = 2.0) -> None:
        """Delete the markers of confirmed batches (best effort: they expire anyway)."""
        if self._stale:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.delete(*self._stale), timeout)
            self._stale.clear()
