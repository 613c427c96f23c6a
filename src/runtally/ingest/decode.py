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
    # The same bounds as offsets from ``now``. One ``started_at - now`` asks the event's
    # UTC offset once; comparing ``started_at`` with both bounds asked it twice. Aware
    # subtraction and comparison are both exact, so the answer is the same.
    _lowest: timedelta = field(init=False, repr=False)
    _highest: timedelta = field(init=False, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "earliest", self.now - timedelta(days=self.retention_days))
        set_(self, "latest", self.now + timedelta(seconds=self.clock_skew_s))
        set_(self, "_lowest", self.earliest - self.now)
        set_(self, "_highest", self.latest - self.now)

    def accepts(self, started_at: datetime) -> bool:
        """Whether an event started at ``started_at`` (aware) lies in the window."""
        return self._lowest <= started_at - self.now <= self._highest

    def rejects(self, event: RunEvent) -> str | None:
        """Why ``event`` is outside the window (``events.check_window``), else None."""
        if self._lowest <= event.started_at - self.now <= self._highest:
            return None
        return check_window(event, self.now, self.clock_skew_s, self.retention_days)


def _field_problem(fields: dict[bytes, bytes]) -> str:
    """Why ``fields`` are not exactly one ``data`` field (the caller saw they are not)."""
    names = sorted(k.decode("utf-8", "replace") for k in fields)
    shown = ", ".join(names[:MAX_FIELD_LIST]) + (", ..." if len(names) > MAX_FIELD_LIST else "")
    if b"data" not in fields:
        return f"entry has no 'data' field (fields: {shown or 'none'})"
    return f"entry must have only the 'data' field, got: {shown}"


def decode_entry(entry: Entry, window: Window) -> RunEvent | Rejection:
    """The run event carried by ``entry``, or why it is not one."""
    fields = entry.fields
    # The common case, one field named data, without building the field list.
    if len(fields) != 1 or b"data" not in fields:
        return Rejection(_field_problem(fields))
    raw = fields[b"data"]
    try:
        # The bytes as they are: the JSON parser itself refuses malformed UTF-8 (tested),
        # so decoding first only copied the payload into a str. The UTF-8 reason still
        # comes first when a payload fails.
        event = parse_event(raw)
    except InvalidEvent as exc:
        return Rejection(_not_utf8(raw) or f"invalid event: {exc.reason}")
    late = window.rejects(event)
    return Rejection(late) if late else event


def _not_utf8(raw: bytes) -> str | None:
    """Why ``raw`` is not UTF-8, or None. Asked first of a payload that failed to parse."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"data is not UTF-8: {exc.reason} at byte {exc.start}"
    return None
