"""The ``Stream`` protocol on Redis: one consumer of one group on the run-event stream.

Entry payloads are kept as bytes (the client must not decode responses), so a dead
letter preserves exactly what the publisher sent. Acknowledging and dead-lettering are
each one atomic Redis call (a MULTI, a Lua script).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from runtally.config import Settings
from runtally.stream.entries import DeadLetter, Entry, dead_fields, id_key, next_id

# A claim pass scans the PEL in pages (XPENDING); it stops after this many pages so a huge
# backlog of idle entries is taken over batch by batch, not all at once.
CLAIM_PAGES = 4


# KEYS: stream, dead stream, stats hash. ARGV: group, then per entry: id, n, n name/value.
DEAD_LETTER_LUA = """
local group = ARGV[1]
local i, dead = 2, 0
while i <= #ARGV do
    local id, n = ARGV[i], tonumber(ARGV[i + 1])
    local fields = {}
    for j = 1, 2 * n do fields[j] = ARGV[i + 1 + j] end
    if redis.call('XACK', KEYS[1], group, id) == 1 then
        redis.call('XADD', KEYS[2], '*', unpack(fields))
        dead = dead + 1
    end
    i = i + 2 + 2 * n
end
if dead > 0 then redis.call('HINCRBY', KEYS[3], 'dead', dead) end
return dead
"""

# KEYS: stream, stats hash. ARGV: group, rows stored, the ids joined by spaces: one
# argument instead of one per id, as redis-py packs each argument in Python (~5% of
# ingest's CPU with 2000 ids per batch). XACK takes the ids in chunks (Lua's unpack limit).
ACK_LUA = """
local acked, ids = 0, {}
for id in string.gmatch(ARGV[3], '%S+') do
    ids[#ids + 1] = id
    if #ids == 1000 then
        acked = acked + redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
        ids = {}
    end
end
if #ids > 0 then acked = acked + redis.call('XACK', KEYS[1], ARGV[1], unpack(ids)) end
local stored = tonumber(ARGV[2])
if stored > 0 then redis.call('HINCRBY', KEYS[2], 'ingested', stored) end
return acked
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class EventStream:
    """The run-event stream seen by one consumer (``settings.consumer``) of the group.

    ``client`` is a ``redis.asyncio.Redis`` created with ``decode_responses=False``.
    """

    def __init__(self, client: Redis, settings: Settings) -> None:
        self.client = client
        self.stream = settings.stream
        self.dead_stream = settings.dead_stream
        self.group = settings.group
        self.consumer = settings.consumer
        self.stats_key = settings.stats_key
        self._dead_letter_script = client.register_script(DEAD_LETTER_LUA)
        self._ack_script = client.register_script(ACK_LUA)

    async def ensure_group(self) -> bool:
        """Create the consumer group (and the stream) unless it exists; True if created.

        A new group starts at ``0`` so entries published before the first worker ran are
        ingested too.
        """
        try:
            await self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" in str(exc):
                return False
            raise
        return True

    async def read(self, count: int, block_ms: int | None) -> list[Entry]:
        """Up to ``count`` never-delivered entries, waiting at most ``block_ms`` for one."""
        block = () if block_ms is None else ("BLOCK", block_ms)
        # The command named "XREADGROUP GROUP" (redis-py sends the words as separate
        # arguments): redis-py has no reply callback under that name, so the entries come
        # back as hiredis parsed them, [[stream, [[id, [field, value, ...]], ...]]], without
        # the per-entry Python parsing of xreadgroup() (a few % of ingest's CPU).
        reply = await self.client.execute_command(  # type: ignore[no-untyped-call]
            "XREADGROUP GROUP", self.group, self.consumer, "COUNT", count, *block,
            "STREAMS", self.stream, ">",
        )  # fmt: skip
        if not reply:
            return []
        entries = next(iter(reply.values())) if isinstance(reply, dict) else reply[0][1]
        return [
            Entry(i.decode(), {f[0]: f[1]} if f and len(f) == 2 else _field_map(f))
            for i, f in entries
        ]

    async def claim_idle(
        self, min_idle_ms: int, count: int, skip: Collection[str] = ()
    ) -> list[Entry]:
        """Take over entries idle for ``min_idle_ms`` (any consumer's, ours too) but ``skip``.

        XPENDING IDLE lists idle candidates with their delivery counts; XCLAIM then takes
        them, checking the idle time again, so an entry another consumer claimed or
        touched meanwhile is left to it. Claiming counts as a delivery: each entry carries
        its new count so the caller can give up on entries that keep failing.
        """
        counts = await self._idle_candidates(min_idle_ms, count, skip)
        if not counts:
            return []
        reply = await self.client.xclaim(
            self.stream, self.group, self.consumer, min_idle_ms, list(counts)
        )
        # Entries deleted from the stream are not returned (and leave the PEL).
        return [Entry(_text(i), f or {}, counts[_text(i)]) for i, f in reply if i is not None]

    async def _idle_candidates(
        self, min_idle_ms: int, count: int, skip: Collection[str]
    ) -> dict[str, int]:
        """Up to ``count`` idle pending ids not in ``skip`` → their delivery count once claimed."""
        found: dict[str, int] = {}
        start = "-"
        idle = min_idle_ms or None  # every entry is idle 0 ms or more: no filter needed
        for _ in range(CLAIM_PAGES):
            rows = await self.client.xpending_range(
                self.stream, self.group, min=start, max="+", count=count, idle=idle
            )
            for row in rows:
                entry_id = _text(row["message_id"])
                if entry_id not in skip and len(found) < count:
                    found[entry_id] = int(row["times_delivered"]) + 1
            if len(rows) < count or len(found) >= count:
                break
            start = "(" + _text(rows[-1]["message_id"])
        return found

    async def touch(self, ids: Sequence[str]) -> None:
        """Reset the idle time of our pending ``ids`` without counting a delivery.

        Called while a batch waits for Postgres, so other consumers do not take over
        entries this one still holds (XCLAIM JUSTID leaves the delivery count alone).
        """
        if ids:
            await self.client.xclaim(
                self.stream, self.group, self.consumer, 0, list(ids), justid=True
            )

    async def ack(self, ids: Sequence[str], stored: int) -> int:
        """XACK ``ids`` and add ``stored`` to the ``ingested`` counter, atomically (one
        script); how many of ``ids`` were pending."""
        if not ids:
            return 0
        args: list[str | int] = [self.group, stored, " ".join(ids)]
        return int(await self._ack_script([self.stream, self.stats_key], args))

    async def dead_letter(self, letters: Sequence[DeadLetter], now: datetime) -> int:
        """XACK each entry and copy it to the dead stream, atomically; return how many.

        An entry another consumer already acknowledged (it reclaimed the entry while this
        one was slow) is skipped, so an entry is dead-lettered at most once.
        """
        if not letters:
            return 0
        args: list[bytes | str | int] = [self.group]
        for letter in letters:
            fields = dead_fields(letter, self.consumer, now)
            args += [letter.entry.id, len(fields)]
            for name, value in fields.items():
                args += [name, value]
        keys = [self.stream, self.dead_stream, self.stats_key]
        return int(await self._dead_letter_script(keys, args))

    async def safe_trim_id(self) -> str | None:
        """The smallest id some group has not acknowledged yet (None: trim nothing).

        Per group that is its oldest pending entry, else the id after its last-delivered
        id. Read last-delivered first: pending ids only shrink below it meanwhile.
        """
        try:
            groups = await self.client.xinfo_groups(self.stream)
        except ResponseError:
            return None  # no stream yet
        if not groups:
            return None
        bounds: list[str] = []
        for info in groups:
            name = info["name"]
            bound = next_id(_text(info["last-delivered-id"]))
            if int(info["pending"]):
                summary = await self.client.xpending(self.stream, name)
                if summary["pending"]:
                    bound = min(bound, _text(summary["min"]), key=id_key)
            bounds.append(bound)
        return min(bounds, key=id_key)

    async def trim(self) -> int:
        """Remove entries below what every group has acknowledged; returns how many."""
        boundary = await self.safe_trim_id()
        if boundary is None:
            return 0
        removed: int = await self.client.xtrim(self.stream, minid=boundary, approximate=False)
        return removed

    async def lag(self) -> tuple[int | None, int]:
        """(entries not yet delivered to our group or None, entries pending in it)."""
        for info in await self.client.xinfo_groups(self.stream):
            if _text(info["name"]) == self.group:
                lag = info.get("lag")
                return (None if lag is None else int(lag)), int(info["pending"])
        # No group yet (ingest not started): nothing was delivered, every entry is lag.
        return int(await self.client.xlen(self.stream)), 0


def _field_map(flat: list[bytes] | None) -> dict[bytes, bytes]:
    """``[k1, v1, k2, v2, ...]`` (or nil, for an entry deleted meanwhile) as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True)) if flat else {}
