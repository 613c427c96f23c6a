"""Measure a rule's window through the read API's own exact path.

The whole project (or one group per agent or model) is answered by
``api.gather.gather`` — daily and hourly rollups for clean buckets, raw rows for dirty
hours and the window's edges, all inside the caller's one snapshot — exactly as
``/v1/summary`` and ``/v1/breakdown`` answer. Per-user groups come from
``api.users.top_users`` (raw rows, top users by cost), as ``/v1/breakdown?by=user``.
This module is the only place alerts touch the read path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runtally.alerts.rules import RuleSpec, finite
from runtally.api.gather import gather
from runtally.api.parts import fold
from runtally.api.users import top_users
from runtally.store.protocols import Connection
from runtally.store.selection import Selection
from runtally.tally import Tally

WHOLE = ""  # the group key of an ungrouped rule


@dataclass(frozen=True)
class Reading:
    """One group's measured value over the window (``None``: undefined, e.g. no runs)."""

    group: str
    value: float | None
    runs: int


def tally_value(measure: str, tally: Tally) -> float | None:
    """``measure`` of a tally, as the API reports it (tokens = input + output)."""
    if measure == "cost_usd":
        return float(tally.cost_usd)
    if measure == "runs":
        return float(tally.runs)
    if measure == "failures":
        return float(tally.failures)
    if measure == "tokens":
        return float(tally.input_tokens + tally.output_tokens)
    if measure == "error_rate":
        return tally.failures / tally.runs if tally.runs else None
    return tally.latency_ms()["p95" if measure == "p95_latency_ms" else "p99"]


def user_value(measure: str, row: dict[str, Any]) -> float | None:
    """``measure`` of a ``top_users`` row (its percentiles are exact)."""
    if measure == "cost_usd":
        return float(row["cost_usd"])
    if measure in ("runs", "failures"):
        return float(row[measure])
    if measure == "tokens":
        return float(row["tokens"]["total"])
    if measure == "error_rate":
        return float(row["failures"] / row["runs"])
    latency = row["latency_ms"]["p95" if measure == "p95_latency_ms" else "p99"]
    return finite(float(latency)) if latency is not None else None


def _selection(project: str, spec: RuleSpec, start: datetime, end: datetime) -> Selection:
    return Selection.of(project, start, end, agent=spec.filters.agent, model=spec.filters.model)


async def read_groups(
    conn: Connection, project: str, spec: RuleSpec, start: datetime, end: datetime
) -> list[Reading]:
    """The readings of ``spec`` over ``[start, end)``: one for an ungrouped rule, else
    the top ``top_n`` groups (most runs for agent/model, highest cost for users)."""
    selection = _selection(project, spec, start, end)
    if spec.group_by == "user":
        rows = await top_users(conn, selection, spec.top_n)
        return [Reading(r["key"], user_value(spec.measure, r), r["runs"]) for r in rows]
    parts = (await gather(conn, selection, None, distinct=False, group_by=spec.group_by)).parts
    if spec.group_by is None:
        total = Tally.merged(t for _, t in parts)
        return [Reading(WHOLE, tally_value(spec.measure, total), total.runs)]
    column = spec.group_by
    groups = fold(parts, lambda g: getattr(g, column) or None)
    top = sorted(groups, key=lambda k: (-groups[k].runs, k))[: spec.top_n]
    return [Reading(k, tally_value(spec.measure, groups[k]), groups[k].runs) for k in top]
