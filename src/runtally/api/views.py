"""Tally → JSON fields shared by summary, time-series points and breakdown rows.

``figures`` is the one place a point's fields are computed; it reads a tally's fields
(``vars(tally)``) or a rollup row read with the same column names, so a point taken
straight from a row (``api.rollups``: a row alone in its answer bucket) and one merged
from tallies are the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runtally.quantiles import quantiles_of
from runtally.tally import Tally


def tally_fields(tally: Tally) -> dict[str, Any]:
    """runs, successes, failures, success_rate, latency_ms, tokens, cost_usd (float)."""
    return tallies_fields([tally])[0]


def tallies_fields(tallies: Sequence[Tally], rate: bool = True) -> list[dict[str, Any]]:
    """``tally_fields`` of each tally (without ``success_rate`` unless ``rate``: a
    point's fields), the percentiles of all of them in one pass (``runtally.quantiles``;
    the same values as ``Tally.latency_ms``)."""
    percentiles = quantiles_of(
        [t.latency for t in tallies], [(t.duration_min, t.duration_max) for t in tallies]
    )
    out = [figures(vars(t), p) for t, p in zip(tallies, percentiles, strict=True)]
    if rate:
        for fields, tally in zip(out, tallies, strict=True):
            fields["success_rate"] = tally.success_rate
    return out


def figures(values: Mapping[str, Any], percentiles: Mapping[str, float | None]) -> dict[str, Any]:
    """A point's fields (``schemas.Point`` without its bucket) from ``values``, a mapping
    with ``Tally``'s field names (a tally's ``vars`` or a rollup row), and its p50…p99."""
    runs = values["runs"]
    inputs, outputs = values["input_tokens"], values["output_tokens"]
    return {
        "runs": runs,
        "successes": values["successes"],
        "failures": values["failures"],
        "latency_ms": {
            "avg": values["duration_sum"] / runs if runs else None,
            "min": values["duration_min"] if runs else None,
            "max": values["duration_max"] if runs else None,
            **percentiles,
        },
        "tokens": {
            "input": inputs,
            "output": outputs,
            "cache_read": values["cache_read_tokens"],
            "cache_write": values["cache_write_tokens"],
            "total": inputs + outputs,
        },
        "cost_usd": float(values["cost_usd"]),
    }
