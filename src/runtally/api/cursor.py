"""Keyset cursors of ``/v1/runs``: an opaque token for the last row's position."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from uuid import UUID


class BadCursor(ValueError):
    """A cursor that this API did not make."""


def encode_cursor(started_at: datetime, event_id: UUID) -> str:
    """Opaque keyset position: the last row's (started_at, event_id)."""
    raw = json.dumps({"t": started_at.isoformat(), "id": str(event_id)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """Inverse of ``encode_cursor``; ``BadCursor`` for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        started = datetime.fromisoformat(data["t"])
        event_id = UUID(data["id"])
    except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error) as exc:
        raise BadCursor("cursor is not one this API returned") from exc
    if started.tzinfo is None:
        raise BadCursor("cursor is not one this API returned")
    return started, event_id
