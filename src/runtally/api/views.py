"""Tally → JSON fields shared by summary, time-series points and breakdown rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtally.quantiles import quantiles_of
from runtally.tally import Tally


def tally_fields(tally: Tally) -> dict[str, Any]:
    """runs, successes, failures, success_rate, latency_ms, tokens, cost_usd (float)."""
    return tallies_fields([tally])[0]


def tallies_fields(tallies: Sequence[Tally]) -> list[dict[str, Any]]:
    """``tally_fields`` of each tally, the percentiles of all of them in one pass
    (``runtally.quantiles``; the same values as ``Tally.latency_ms``)."""
    percentiles = quantiles_of(
        [t.latency for t in tallies], [(t.duration_min, t.duration_max) for t in tallies]
    )
    return [_fields(t, p) for t, p in zip(tallies, percentiles, strict=True)]


def _fields(tally: Tally, percentiles: dict[str, float | None]) -> dict[str, Any]:
    runs = tally.runs
    latency = {
        "avg": tally.duration_sum / runs if runs else None,
        "min": tally.duration_min if runs else None,
        "max": tally.duration_max if runs else None,
        **percentiles,
    }
    return {
        "runs": runs,
        "successes": tally.successes,
        "failures": tally.failures,
        "success_rate": tally.success_rate,
        "latency_ms": latency,
        "tokens": tally.tokens(),
        "cost_usd": float(tally.cost_usd),
    }
