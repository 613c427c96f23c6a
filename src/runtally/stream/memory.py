"""The ``Stream`` protocol in memory, for fast tests of everything above the Redis edge.

``MemoryLog`` plays one Redis stream with its consumer groups, dead stream and counters;
each ``MemoryStream`` is one consumer of one group on it, like ``EventStream``. The idle
time of pending entries follows an injected monotonic clock. Behaviour matches Redis
where ingest relies on it (the contract tests run the same cases on both).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from redis.exceptions import ResponseError

from runtally.config import Settings
from runtally.stream.entries import DeadLetter, Entry, dead_fields, id_key, next_id


@dataclass
class Pending:
    """One delivered, unacknowledged entry of a group."""

    consumer: str
    delivered_at: float
    deliveries: int = 1


@dataclass
class Group:
    """A consumer group: the last id delivered, and its pending entries by id."""

    last_delivered: str = "0-0"
    pending: dict[str, Pending] = field(default_factory=dict)


@dataclass
class MemoryLog:
    """One stream in memory: entries in id order, groups, dead letters, counters."""

    monotonic: Callable[[], float] = time.monotonic
    entries: dict[str, dict[bytes, bytes]] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    dead: list[dict[bytes, bytes]] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    added: asyncio.Event = field(default_factory=asyncio.Event)
    _seq: int = 0

    def add(self, fields: dict[bytes, bytes]) -> str:
        """XADD: append ``fields``; the new entry's id."""
        self._seq += 1
        entry_id = f"1-{self._seq}"
        self.entries[entry_id] = dict(fields)
        self.added.set()
        return entry_id

    def group(self, name: str) -> Group:
        """The group ``name``; a missing one is Redis' NOGROUP error."""
        if name not in self.groups:
            raise ResponseError(f"NOGROUP No such consumer group '{name}'")
        return self.groups[name]


class MemoryStream:
    """The stream of ``log`` seen by ``settings.consumer`` of ``settings.group``."""

    def __init__(self, log: MemoryLog, settings: Settings) -> None:
        self.log = log
        self.group = settings.group
        self.consumer = settings.consumer

    async def ensure_group(self) -> bool:
        if self.group in self.log.groups:
            return False
        self.log.groups[self.group] = Group()
        return True

    async def read(self, count: int, block_ms: int | None) -> list[Entry]:
        entries = self._deliver_new(count)
        if not entries and block_ms:
            self.log.added.clear()
            try:
                await asyncio.wait_for(self.log.added.wait(), block_ms / 1000)
            except TimeoutError:
                return []
            entries = self._deliver_new(count)
        return entries

    def _deliver_new(self, count: int) -> list[Entry]:
        group = self.log.group(self.group)
        last = id_key(group.last_delivered)
        fresh = [i for i in self.log.entries if id_key(i) > last][:count]
        now = self.log.monotonic()
        for entry_id in fresh:
            group.pending[entry_id] = Pending(self.consumer, now)
            group.last_delivered = entry_id
        return [Entry(i, self.log.entries[i]) for i in fresh]

    async def claim_idle(
        self, min_idle_ms: int, count: int, skip: Collection[str] = ()
    ) -> list[Entry]:
        group = self.log.group(self.group)
        now = self.log.monotonic()
        claimed: list[Entry] = []
        for entry_id in sorted(group.pending, key=id_key):
            info = group.pending[entry_id]
            if len(claimed) >= count or entry_id in skip:
                continue
            if (now - info.delivered_at) * 1000 < min_idle_ms:
                continue
            if entry_id not in self.log.entries:  # deleted from the stream: leaves the PEL
                del group.pending[entry_id]
                continue
            group.pending[entry_id] = Pending(self.consumer, now, info.deliveries + 1)
            claimed.append(Entry(entry_id, self.log.entries[entry_id], info.deliveries + 1))
        return claimed

    async def touch(self, ids: Sequence[str]) -> None:
        group = self.log.group(self.group)
        for entry_id in ids:
            if entry_id in group.pending:
                group.pending[entry_id].consumer = self.consumer
                group.pending[entry_id].delivered_at = self.log.monotonic()

    async def ack(self, ids: Sequence[str], stored: int) -> int:
        if not ids:
            return 0
        pending = self.log.group(self.group).pending
        acked = sum(pending.pop(i, None) is not None for i in set(ids))
        if stored:
            self._count("ingested", stored)
        return acked

    async def dead_letter(self, letters: Sequence[DeadLetter], now: datetime) -> int:
        pending = self.log.group(self.group).pending
        dead = 0
        for letter in letters:
            if pending.pop(letter.entry.id, None) is not None:
                self.log.dead.append(dead_fields(letter, self.consumer, now))
                dead += 1
        if dead:
            self._count("dead", dead)
        return dead

    def _count(self, name: str, n: int) -> None:
        self.log.stats[name] = self.log.stats.get(name, 0) + n

    async def trim(self) -> int:
        if not self.log.groups:
            return 0
        bound = min(map(_acked_below, self.log.groups.values()), key=id_key)
        below = [i for i in self.log.entries if id_key(i) < id_key(bound)]
        for entry_id in below:
            del self.log.entries[entry_id]
        return len(below)

    async def lag(self) -> tuple[int | None, int]:
        group = self.log.groups.get(self.group)
        if group is None:
            return None, 0
        last = id_key(group.last_delivered)
        return sum(id_key(i) > last for i in self.log.entries), len(group.pending)


def _acked_below(group: Group) -> str:
    """The smallest id ``group`` has not acknowledged (as ``EventStream.safe_trim_id``)."""
    bound = next_id(group.last_delivered)
    if group.pending:
        bound = min(bound, min(group.pending, key=id_key), key=id_key)
    return bound
