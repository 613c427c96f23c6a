"""Tally → JSON fields shared by summary, time-series points and breakdown rows."""

from __future__ import annotations

from typing import Any

from runtally.tally import Tally


def tally_fields(tally: Tally) -> dict[str, Any]:
    """runs, successes, failures, success_rate, latency_ms, tokens, cost_usd (float)."""
    return {
        "runs": tally.runs,
        "successes": tally.successes,
        "failures": tally.failures,
        "success_rate": tally.success_rate,
        "latency_ms": tally.latency_ms(),
        "tokens": tally.tokens(),
        "cost_usd": float(tally.cost_usd),
    }
