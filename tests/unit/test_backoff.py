"""The shared Backoff (publisher sender and ingest): delays by table, jitter pinned."""

from __future__ import annotations

import pytest

from runtally.backoff import Backoff


@pytest.mark.parametrize(
    ("base_s", "cap_s", "jitter", "delays"),
    [
        (0.05, 5.0, 1.0, [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]),
        (0.05, 5.0, 0.0, [0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.5, 2.5]),
        (0.005, 0.02, 0.5, [0.00375, 0.0075, 0.015, 0.015]),
        (1.0, 1.0, 1.0, [1.0, 1.0, 1.0]),
    ],
)
def test_delays_double_up_to_the_cap_scaled_by_jitter(
    base_s: float, cap_s: float, jitter: float, delays: list[float]
) -> None:
    backoff = Backoff(cap_s=cap_s, base_s=base_s, jitter=lambda: jitter)
    assert [backoff.next_delay() for _ in delays] == pytest.approx(delays)
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(delays[0])


def test_many_attempts_stay_at_the_cap() -> None:
    backoff = Backoff(cap_s=2.0, base_s=0.1, jitter=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(2000)][-1] == 2.0
