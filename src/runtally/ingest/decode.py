"""Decode step: a stream entry becomes a ``RunEvent`` or a ``Rejection`` with its reason.

Pure (the clock is passed in). An entry must have exactly one field, ``data``, holding
the UTF-8 JSON of one run event (wire format v1) whose ``started_at`` lies in the
storable window. Anything else is rejected at once with a reason precise enough for a
publisher to fix its code: rejections are dead-lettered, never retried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from runtally.events import InvalidEvent, RunEvent, check_window, parse_event
from runtally.stream import Entry

MAX_FIELD_LIST = 5


@dataclass(frozen=True)
class Rejection:
    """Why an entry can never become a row."""

    reason: str


@dataclass(frozen=True)
class Window:
    """The storable time window: ``now`` ± allowed skew / raw retention."""

    now: datetime
    clock_skew_s: float
    retention_days: int
    # Bounds computed once per batch; ``check_window`` is only asked to word the reason.
    earliest: datetime = field(init=False)
    latest: datetime = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "earliest", self.now - timedelta(days=self.retention_days))
        object.__setattr__(self, "latest", self.now + timedelta(seconds=self.clock_skew_s))

    def rejects(self, event: RunEvent) -> str | None:
        """Why ``event`` is outside the window (``events.check_window``), else None."""
        if self.earliest <= event.started_at <= self.latest:
            return None
        return check_window(event, self.now, self.clock_skew_s, self.retention_days)


def _field_problem(fields: dict[bytes, bytes]) -> str | None:
    if list(fields) == [b"data"]:
        return None
    names = sorted(k.decode("utf-8", "replace") for k in fields)
    shown = ", ".join(names[:MAX_FIELD_LIST]) + (", ..." if len(names) > MAX_FIELD_LIST else "")
    if b"data" not in fields:
        return f"entry has no 'data' field (fields: {shown or 'none'})"
    return f"entry must have only the 'data' field, got: {shown}"


def decode_entry(entry: Entry, window: Window) -> RunEvent | Rejection:
    """The run event carried by ``entry``, or why it is not one."""
    problem = _field_problem(entry.fields)
    if problem:
        return Rejection(problem)
    raw = entry.fields[b"data"]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection(f"data is not UTF-8: {exc.reason} at byte {exc.start}")
    try:
        event = parse_event(text)
    except InvalidEvent as exc:
        return Rejection(f"invalid event: {exc.reason}")
    late = window.rejects(event)
    return Rejection(late) if late else event
