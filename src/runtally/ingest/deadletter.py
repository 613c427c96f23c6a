"""Dead letters: list them, and replay them (re-publish the original payload) after a fix.

A dead entry holds the original ``data`` bytes and why it died (see
``stream.dead_fields``). Replaying XADDs ``data`` to the main stream and deletes the
dead entry in one MULTI, so an entry is never both replayed and still dead, nor lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from runtally.config import Settings
from runtally.errors import UserError

PAGE = 500


@dataclass(frozen=True)
class DeadEntry:
    """One entry of the dead-letter stream."""

    id: str
    data: bytes | None
    reason: str
    source_id: str
    deliveries: int
    dead_at: str
    consumer: str
    other_fields: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reason": self.reason,
            "source_id": self.source_id,
            "deliveries": self.deliveries,
            "dead_at": self.dead_at,
            "consumer": self.consumer,
            "data": None if self.data is None else self.data.decode("utf-8", "replace"),
            "other_fields": self.other_fields,
        }


def _s(fields: dict[bytes, bytes], key: bytes) -> str:
    return fields.get(key, b"").decode("utf-8", "replace")


def parse_dead(entry_id: bytes | str, fields: dict[bytes, bytes]) -> DeadEntry:
    """A ``DeadEntry`` from a raw XRANGE item."""
    others = {
        k.decode("utf-8", "replace").removeprefix("orig:"): v.decode("utf-8", "replace")
        for k, v in fields.items()
        if k.startswith(b"orig:")
    }
    deliveries = _s(fields, b"deliveries")
    return DeadEntry(
        id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        data=fields.get(b"data"),
        reason=_s(fields, b"reason"),
        source_id=_s(fields, b"source_id"),
        deliveries=int(deliveries) if deliveries.isdigit() else 0,
        dead_at=_s(fields, b"dead_at"),
        consumer=_s(fields, b"consumer"),
        other_fields=others,
    )


async def list_dead(client: Redis, settings: Settings, limit: int | None = None) -> list[DeadEntry]:
    """Dead entries, oldest first (at most ``limit``)."""
    out: list[DeadEntry] = []
    start = "-"
    while limit is None or len(out) < limit:
        count = PAGE if limit is None else min(PAGE, limit - len(out))
        page = await client.xrange(settings.dead_stream, min=start, max="+", count=count)
        out += [parse_dead(i, f) for i, f in page]
        if len(page) < count:
            break
        last = out[-1].id
        start = "(" + last
    return out


@dataclass(frozen=True)
class ReplayResult:
    replayed: list[str]
    skipped: dict[str, str]  # dead id → why it could not be replayed


async def select_dead(
    client: Redis,
    settings: Settings,
    ids: Sequence[str],
    everything: bool,
    reason_contains: str | None,
) -> list[DeadEntry]:
    """The dead entries chosen by ids (all must exist) or ``everything``, filtered by reason."""
    if bool(ids) == everything:
        raise UserError("give dead entry IDs or --all (not both)")
    if everything:
        chosen = await list_dead(client, settings)
    else:
        chosen = []
        for dead_id in ids:
            found = await client.xrange(settings.dead_stream, min=dead_id, max=dead_id)
            if not found:
                raise UserError(f"no dead entry {dead_id} in {settings.dead_stream}")
            chosen.append(parse_dead(*found[0]))
    if reason_contains:
        needle = reason_contains.lower()
        chosen = [d for d in chosen if needle in d.reason.lower()]
    return chosen


async def replay(client: Redis, settings: Settings, entries: Sequence[DeadEntry]) -> ReplayResult:
    """Re-publish each entry's original ``data`` to the main stream and delete it from the dead one.

    Entries without a ``data`` field cannot be replayed and are left in place.
    """
    replayed: list[str] = []
    skipped: dict[str, str] = {}
    for dead in entries:
        if dead.data is None:
            skipped[dead.id] = "it has no 'data' field to re-publish"
            continue
        pipe = client.pipeline(transaction=True)
        pipe.xadd(settings.stream, {b"data": dead.data})
        pipe.xdel(settings.dead_stream, dead.id)
        await pipe.execute()
        replayed.append(dead.id)
    return ReplayResult(replayed, skipped)
