"""Query parameters shared by the /v1 routes, and the range rules.

Timestamps must be RFC 3339 with an offset (naive ones are refused) and are used in UTC.
When ``from``/``to`` are omitted the range is the last 24 hours (``to`` = now).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator, AwareDatetime

from runtally.api.errors import invalid
from runtally.config import Settings

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
DEFAULT_SPAN = timedelta(hours=24)
NO_NUL = r"^[^\x00]*$"  # Postgres text cannot hold NUL


def _utc(value: datetime) -> datetime:
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp out of range") from None
    if not EARLIEST <= value < LATEST:
        raise ValueError("timestamp must be within 1970-01-01 and 9000-01-01")
    return value


Timestamp = Annotated[AwareDatetime, AfterValidator(_utc)]
From = Annotated[
    Timestamp | None,
    Query(alias="from", description="inclusive, RFC 3339 with offset; default `to` − 24 h"),
]
To = Annotated[Timestamp | None, Query(description="exclusive, RFC 3339 with offset; default now")]
Name = Annotated[
    str | None, Query(min_length=1, max_length=100, pattern=NO_NUL, description="exact match")
]
Ident = Annotated[
    str | None, Query(min_length=1, max_length=128, pattern=NO_NUL, description="exact match")
]


def resolve_range(
    start: datetime | None, end: datetime | None, settings: Settings, now: datetime
) -> tuple[datetime, datetime]:
    """``[from, to)`` with defaults applied; 422 when empty, reversed or too long."""
    end = end if end is not None else now.astimezone(UTC)
    start = start if start is not None else max(end - DEFAULT_SPAN, EARLIEST)
    if start >= end:
        raise invalid("`from` must be before `to`")
    if end - start > timedelta(days=settings.api_max_range_days):
        raise invalid(f"range is longer than {settings.api_max_range_days} days")
    return start, end
