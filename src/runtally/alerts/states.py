"""The alert state machine (pure): classify a measured value, decide whether to notify.

States: ``ok``, ``warn``, ``alert``, ``no_data``. A notification goes out only when the
state changes — never once per evaluation — and, when the rule sets a quiet period,
again while the state stays firing (``warn``/``alert``) once that period has passed
since the last notification. A group seen for the first time notifies only if it
starts out firing (there is no earlier state to have changed from).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from runtally.alerts.rules import fires


class State(StrEnum):
    OK = "ok"
    WARN = "warn"
    ALERT = "alert"
    NO_DATA = "no_data"


FIRING = frozenset({State.WARN, State.ALERT})


@dataclass(frozen=True)
class Limits:
    """The parts of a rule that classify a value."""

    op: str
    threshold: float
    warn_threshold: float | None = None
    min_runs: int = 0


def classify(value: float | None, runs: int, limits: Limits) -> State:
    """The state of one measured ``value`` over ``runs`` runs.

    ``no_data`` when the value is undefined (a rate or percentile of no runs) or there
    are fewer than ``min_runs`` runs; ``alert`` past the threshold; ``warn`` past the
    warning threshold; else ``ok``.
    """
    if value is None or runs < limits.min_runs:
        return State.NO_DATA
    if fires(limits.op, value, limits.threshold):
        return State.ALERT
    if limits.warn_threshold is not None and fires(limits.op, value, limits.warn_threshold):
        return State.WARN
    return State.OK


@dataclass(frozen=True)
class Previous:
    """What is stored about a group: its state, and when it was last notified."""

    state: State
    since: datetime
    last_notified_at: datetime | None = None


@dataclass(frozen=True)
class Step:
    """The outcome of one evaluation of one group."""

    state: State
    previous: State | None
    since: datetime  # when the group entered ``state``
    notify: bool
    repeat: bool = False  # a re-send of an unchanged firing state


def step(
    previous: Previous | None, current: State, now: datetime, repeat_after: timedelta | None
) -> Step:
    """Move a group from ``previous`` to ``current`` at ``now``."""
    if previous is None:
        return Step(current, None, now, notify=current in FIRING)
    if current != previous.state:
        return Step(current, previous.state, now, notify=True)
    due = (
        current in FIRING
        and repeat_after is not None
        and previous.last_notified_at is not None
        and now - previous.last_notified_at >= repeat_after
    )
    return Step(current, previous.state, previous.since, notify=due, repeat=due)


def applied_threshold(state: State, limits: Limits) -> float:
    """The threshold a notification reports: the warning one for ``warn``."""
    if state == State.WARN and limits.warn_threshold is not None:
        return limits.warn_threshold
    return limits.threshold
