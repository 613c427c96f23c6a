"""The bounded buffer and its block/drop policy, pure: tables, a hand-driven clock."""

from __future__ import annotations

import pytest

from runtally.sdk.buffer import (
    ACCEPTED,
    CLOSED,
    FULL,
    WAIT_SLICE_S,
    WAKE,
    WARN,
    DropTally,
    EventBuffer,
    deadline,
    room_wait,
)
from runtally.sdk.options import OnFull

A = ACCEPTED


def play(capacity: int, ops: str, take: int = 5) -> list[int]:
    """Run ``ops`` on a fresh buffer: o offer, t take, c confirm, x close; the offer answers."""
    buffer = EventBuffer(capacity)
    answers = []
    for n, op in enumerate(ops):
        if op == "o":
            answers.append(buffer.offer(f"e{n}"))
        elif op == "t":
            buffer.take(take)
        elif op == "c":
            buffer.confirm()
        else:
            buffer.close()
    return answers


@pytest.mark.parametrize(
    ("capacity", "ops", "answers"),
    [
        pytest.param(10, "o" * 11, [A] * 7 + [A | WARN, A, A, FULL], id="warns at 80% then full"),
        pytest.param(
            10, "o" * 10 + "t" + "o", [A] * 7 + [A | WARN, A, A, FULL], id="in flight counts"
        ),
        pytest.param(
            10, "o" * 10 + "tc" + "o", [A] * 7 + [A | WARN, A, A, A], id="confirm frees room"
        ),
        pytest.param(
            10,
            "o" * 8 + "tc" + "o" * 5,
            [A] * 7 + [A | WARN] + [A] * 4 + [A | WARN],
            id="drained below 50% re-arms the warning",
        ),
        pytest.param(
            10, "o" * 10 + "tc" + "o" * 4, [A] * 7 + [A | WARN] + [A] * 6, id="at 50% stays warned"
        ),
        pytest.param(10, "too", [A | WAKE, A], id="idle sender is woken once"),
        pytest.param(10, "otcto", [A, A | WAKE], id="idle again after the last confirm"),
        pytest.param(10, "oxo", [A, CLOSED], id="closed refuses"),
        pytest.param(10, "x" + "o", [CLOSED], id="closed before any event"),
        pytest.param(1, "too", [A | WAKE | WARN, FULL], id="capacity one"),
    ],
)
def test_offer_answers(capacity: int, ops: str, answers: list[int]) -> None:
    assert play(capacity, ops) == answers


def test_take_resends_the_same_batch_until_confirmed() -> None:
    buffer = EventBuffer(10)
    for n in range(7):
        buffer.offer(f"e{n}")
    first = buffer.take(5)
    assert first == ["e0", "e1", "e2", "e3", "e4"]
    assert buffer.take(5) == first  # a failed send retries exactly this batch
    assert (len(buffer), buffer.pressure) == (7, 0.7)
    assert buffer.confirm() == 5
    assert buffer.take(5) == ["e5", "e6"]
    assert buffer.confirm() == 2
    assert (buffer.confirmed, len(buffer), buffer.take(5)) == (7, 0, [])


def test_clear_discards_waiting_and_in_flight() -> None:
    buffer = EventBuffer(10)
    for n in range(4):
        buffer.offer(f"e{n}")
    buffer.take(3)
    assert buffer.clear() == 4
    assert (len(buffer), buffer.confirmed) == (0, 0)


@pytest.mark.parametrize(
    ("on_full", "until", "now", "wait"),
    [
        ("drop", None, 0.0, 0.0),
        ("drop", 10.0, 0.0, 0.0),
        ("block", None, 123.0, WAIT_SLICE_S),
        ("block", 10.0, 5.0, WAIT_SLICE_S),
        ("block", 10.0, 9.75, 0.25),
        ("block", 10.0, 10.0, 0.0),
        ("block", 10.0, 11.0, -1.0),
    ],
)
def test_room_wait_policy(on_full: OnFull, until: float | None, now: float, wait: float) -> None:
    assert room_wait(on_full, until, now) == pytest.approx(wait)


@pytest.mark.parametrize(
    ("timeout", "now", "until"), [(None, 5.0, None), (0.0, 5.0, 5.0), (0.25, 5.0, 5.25)]
)
def test_deadline(timeout: float | None, now: float, until: float | None) -> None:
    assert deadline(timeout, now) == until


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_drop_tally_reports_once_per_interval() -> None:
    clock = FakeClock()
    tally = DropTally(clock, interval_s=5.0)
    # (time, dropped now, report now?) -> how many to report at that moment
    steps = [
        (0.0, 1, False, 1),  # the first drop is reported at once
        (1.0, 1, False, 0),
        (4.9, 3, False, 0),
        (5.0, 1, False, 5),  # the interval ran: everything since the last report
        (5.1, 2, True, 2),  # forced (close): reported although the interval runs
        (9.0, 1, False, 0),
        (10.2, 1, False, 2),
    ]
    reported = []
    for at, count, now, _ in steps:
        clock.now = at
        reported.append(tally.add(count, report_now=now))
    assert reported == [expected for *_, expected in steps]
    assert tally.total == sum(count for _, count, _, _ in steps) == sum(reported)
