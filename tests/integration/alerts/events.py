"""Controlled run events for the alert tests, stored through ingest's write path."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.integration.api.data import Ev, generate, store

_seed = itertools.count(1000)


async def add_runs(
    pool: Any, n: int, start: datetime, span: timedelta = timedelta(minutes=1), **fields: Any
) -> list[Ev]:
    """Store ``n`` runs in ``[start, start + span)`` with ``fields`` overriding the
    generated ones (e.g. ``status="error", error_type="timeout"``, ``agent="a"``)."""
    events = [dataclasses.replace(e, **fields) for e in generate(n, start, span, next(_seed))]
    if fields.get("status") == "success":
        events = [dataclasses.replace(e, error_type=None) for e in events]
    elif fields.get("status") == "error" and "error_type" not in fields:
        events = [dataclasses.replace(e, error_type="boom") for e in events]
    await store(pool, events)
    return events


def cost(value: str) -> Decimal:
    return Decimal(value)
