"""Cumulative business figures per (project, agent, model), for ``/metrics``.

All-time totals — runs by status, tokens by kind, cost — are read through the read
API's exact path (``api.gather``: daily and hourly rollups for clean buckets, raw
rows for dirty hours and the current edge), grouped by (agent, model), so a scrape reads
about one rollup row per pair and day, never the raw table. Totals only grow as runs
arrive, which is what Prometheus counters need (``rate()`` works on them).

Label cardinality is bounded: per project the ``max_pairs`` (agent, model) pairs with
the most runs keep their labels; the others are summed into agent=model=``other``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from runtally import constants
from runtally.api.gather import gather
from runtally.api.parts import fold
from runtally.grid import DAY, floor_to
from runtally.store.protocols import Connection
from runtally.store.selection import Selection
from runtally.tally import Tally

# Where each project's data starts: the earliest rollup bucket or dirty hour.
STARTS_SQL = """
SELECT project, min(start) AS start FROM (
    SELECT project, min(bucket) AS start FROM rollup_daily WHERE dims = 0 GROUP BY project
    UNION ALL
    SELECT project, min(bucket) FROM rollup_hourly WHERE dims = 0 GROUP BY project
    UNION ALL
    SELECT project, min(hour) FROM rollup_dirty GROUP BY project
) s GROUP BY project ORDER BY project
"""


@dataclass(frozen=True)
class PairTotals:
    """All-time figures of one (project, agent, model) label set."""

    project: str
    agent: str
    model: str
    successes: int
    failures: int
    tokens: dict[str, int]  # input, output, cache_read, cache_write
    cost_usd: Decimal


def _pair(project: str, agent: str, model: str, t: Tally) -> PairTotals:
    tokens = {
        "input": t.input_tokens,
        "output": t.output_tokens,
        "cache_read": t.cache_read_tokens,
        "cache_write": t.cache_write_tokens,
    }
    return PairTotals(project, agent, model, t.successes, t.failures, tokens, t.cost_usd)


def capped(project: str, pairs: dict[tuple[str, str], Tally], max_pairs: int) -> list[PairTotals]:
    """The ``max_pairs`` pairs with most runs (ties by name), the rest as ``other``."""
    order = sorted(pairs, key=lambda k: (-pairs[k].runs, k))
    out = [_pair(project, a, m, pairs[(a, m)]) for a, m in order[:max_pairs]]
    rest = order[max_pairs:]
    if rest:
        other = Tally.merged(pairs[k] for k in rest)
        out.append(_pair(project, constants.METRICS_OTHER, constants.METRICS_OTHER, other))
    return out


async def project_totals(
    conn: Connection, project: str, start: datetime, now: datetime, max_pairs: int
) -> list[PairTotals]:
    """All-time totals of ``project`` up to ``now``, per capped (agent, model)."""
    selection = Selection(project, floor_to(start, DAY), now)
    parts = (await gather(conn, selection, None, distinct=False, group_by=("agent", "model"))).parts
    return capped(project, fold(parts, lambda g: (g.agent, g.model)), max_pairs)


async def read_totals(conn: Connection, now: datetime, max_pairs: int) -> list[PairTotals]:
    """Totals of every project (call inside one read-only snapshot transaction)."""
    out: list[PairTotals] = []
    for row in await conn.fetch(STARTS_SQL):
        if row["start"] < now:
            out += await project_totals(conn, row["project"], row["start"], now, max_pairs)
    return out
