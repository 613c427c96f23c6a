"""The alert state machine by tables: classification, and when a notification goes out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runtally.alerts.states import Limits, Previous, State, applied_threshold, classify, step

OK, WARN, ALERT, NO_DATA = State.OK, State.WARN, State.ALERT, State.NO_DATA
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
MIN = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("value", "runs", "limits", "expected"),
    [
        (10.0, 5, Limits(">", 5), ALERT),
        (5.0, 5, Limits(">", 5), OK),
        (5.0, 5, Limits(">=", 5), ALERT),
        (4.0, 5, Limits(">=", 5, 3), WARN),
        (3.0, 5, Limits(">=", 5, 3), WARN),
        (2.9, 5, Limits(">=", 5, 3), OK),
        (1.0, 5, Limits("<", 2), ALERT),
        (2.0, 5, Limits("<", 2), OK),
        (2.0, 5, Limits("<=", 2), ALERT),
        (2.5, 5, Limits("<", 2, 3), WARN),
        (3.0, 5, Limits("<", 2, 3), OK),
        (3.0, 5, Limits("<=", 2, 3), WARN),
        (None, 5, Limits(">", 0), NO_DATA),  # a rate of no runs
        (99.0, 4, Limits(">", 5, None, 5), NO_DATA),  # below min_runs
        (99.0, 5, Limits(">", 5, None, 5), ALERT),  # exactly min_runs
        (0.0, 0, Limits("<", 1), ALERT),  # a volume drop to nothing with min_runs 0
    ],
)
def test_classify(value: float | None, runs: int, limits: Limits, expected: State) -> None:
    assert classify(value, runs, limits) == expected


@pytest.mark.parametrize(
    ("previous", "current", "repeat", "notify", "repeated", "since"),
    [
        (None, OK, None, False, False, T0),  # first sight, quiet
        (None, NO_DATA, None, False, False, T0),
        (None, WARN, None, True, False, T0),  # first sight, already firing
        (None, ALERT, None, True, False, T0),
        (Previous(OK, T0 - MIN), OK, None, False, False, T0 - MIN),
        (Previous(OK, T0 - MIN), ALERT, None, True, False, T0),
        (Previous(ALERT, T0 - MIN, T0 - MIN), ALERT, None, False, False, T0 - MIN),
        (Previous(ALERT, T0 - MIN, T0 - MIN), OK, None, True, False, T0),
        (Previous(ALERT, T0 - MIN, T0 - MIN), WARN, None, True, False, T0),
        (Previous(WARN, T0 - MIN, T0 - MIN), ALERT, None, True, False, T0),
        (Previous(OK, T0 - MIN), NO_DATA, None, True, False, T0),
        (Previous(NO_DATA, T0 - MIN), OK, None, True, False, T0),
        # re-send while firing, once the quiet period has passed since the last notice
        (Previous(ALERT, T0 - 60 * MIN, T0 - 60 * MIN), ALERT, 60 * MIN, True, True, T0 - 60 * MIN),
        (
            Previous(ALERT, T0 - 60 * MIN, T0 - 59 * MIN),
            ALERT,
            60 * MIN,
            False,
            False,
            T0 - 60 * MIN,
        ),
        (Previous(WARN, T0 - 90 * MIN, T0 - 61 * MIN), WARN, 60 * MIN, True, True, T0 - 90 * MIN),
        (Previous(OK, T0 - 90 * MIN, T0 - 90 * MIN), OK, 60 * MIN, False, False, T0 - 90 * MIN),
        (
            Previous(NO_DATA, T0 - 90 * MIN, T0 - 90 * MIN),
            NO_DATA,
            MIN,
            False,
            False,
            T0 - 90 * MIN,
        ),
    ],
)
def test_step(
    previous: Previous | None,
    current: State,
    repeat: timedelta | None,
    notify: bool,
    repeated: bool,
    since: datetime,
) -> None:
    result = step(previous, current, T0, repeat)
    assert result.state == current
    assert result.previous == (previous.state if previous else None)
    assert (result.notify, result.repeat, result.since) == (notify, repeated, since)


def test_a_sequence_notifies_once_per_change() -> None:
    states = [OK, OK, ALERT, ALERT, ALERT, WARN, WARN, OK, OK, NO_DATA, NO_DATA, OK]
    previous: Previous | None = None
    notified = []
    for i, current in enumerate(states):
        now = T0 + i * MIN
        result = step(previous, current, now, None)
        if result.notify:
            notified.append(current)
        last = now if result.notify else (previous.last_notified_at if previous else None)
        previous = Previous(result.state, result.since, last)
    assert notified == [ALERT, WARN, OK, NO_DATA, OK]


@pytest.mark.parametrize(
    ("state", "limits", "expected"),
    [(WARN, Limits(">", 10, 5), 5), (ALERT, Limits(">", 10, 5), 10), (OK, Limits(">", 10), 10)],
)
def test_applied_threshold(state: State, limits: Limits, expected: float) -> None:
    assert applied_threshold(state, limits) == expected
