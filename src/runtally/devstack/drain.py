"""How much of the stream ingest has not stored yet, and waiting (bounded) for none.

The numbers come from the stream edge's own ``Stream.lag`` (one definition of lag for
ingest metrics and the dev stack).
"""

from __future__ import annotations

import asyncio
import time

from redis.exceptions import RedisError, ResponseError

from runtally.stream import Stream


async def backlog(stream: Stream) -> int:
    """Entries not yet stored: the group's lag plus its pending (unacknowledged) entries.

    0 when there is no stream yet (nothing was published). A lag Redis cannot compute
    (None, after deletions inside the stream) counts as 0: pending entries still count.
    """
    try:
        lag, pending = await stream.lag()
    except ResponseError:
        return 0
    return pending + (lag or 0)


async def drain(stream: Stream, timeout_s: float) -> int:
    """Wait until the backlog is 0 or ``timeout_s`` passed; the entries left.

    Entries left stay in Redis and are stored on the next start; -1 when Redis could not
    be asked.
    """
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            left = await backlog(stream)
            if left == 0 or time.monotonic() > deadline:
                return left
            await asyncio.sleep(0.2)
    except RedisError:
        return -1
