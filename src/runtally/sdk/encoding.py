"""Any event a caller hands over (``RunEvent``, mapping, wire JSON text) to wire JSON."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from runtally.ids import uuid7


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
