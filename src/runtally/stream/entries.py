"""What travels on the run-event stream: entries, dead letters, and stream-id arithmetic.

Entry payloads are bytes as the publisher sent them, so a dead letter preserves them
exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Entry:
    """One stream entry as delivered to this consumer.

    ``deliveries`` is how many times the group has delivered it (1 for a first read).
    """

    id: str
    fields: dict[bytes, bytes]
    deliveries: int = 1


@dataclass(frozen=True)
class DeadLetter:
    """An entry given up on, with the reason written next to its original payload."""

    entry: Entry
    reason: str


def next_id(stream_id: str) -> str:
    """The smallest stream id greater than ``stream_id`` (``"5-3"`` → ``"5-4"``)."""
    ms, _, seq = stream_id.partition("-")
    return f"{ms}-{int(seq or 0) + 1}"


def id_key(stream_id: str) -> tuple[int, int]:
    """Sort key of a stream id (ids compare numerically, not as text)."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def dead_fields(letter: DeadLetter, consumer: str, now: datetime) -> dict[bytes, bytes]:
    """Fields of the dead-letter entry: original payload (bytes as sent), reason, origin.

    ``data`` is the original ``data`` field when there was one; any other original field
    ``k`` is kept as ``orig:k`` so nothing the publisher sent is lost.
    """
    fields: dict[bytes, bytes] = {}
    for key, value in letter.entry.fields.items():
        fields[key if key == b"data" else b"orig:" + key] = value
    fields.update(
        {
            b"reason": letter.reason.encode(),
            b"source_id": letter.entry.id.encode(),
            b"deliveries": str(letter.entry.deliveries).encode(),
            b"dead_at": now.isoformat().encode(),
            b"consumer": consumer.encode(),
        }
    )
    return fields
