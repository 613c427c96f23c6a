"""Top users or sessions by cost, exactly, from raw rows (``api.top`` says when)."""

from __future__ import annotations

from typing import Any

from runtally.store.protocols import Connection, Record
from runtally.store.selection import Selection

TOP_USERS_SQL = """
SELECT {column} AS key, count(*) AS runs,
       count(*) FILTER (WHERE status = 'success') AS successes,
       avg(duration_ms) AS avg, min(duration_ms) AS min, max(duration_ms) AS max,
       percentile_disc(ARRAY[0.5, 0.75, 0.9, 0.95, 0.99]) WITHIN GROUP (ORDER BY duration_ms)
           AS pcts,
       coalesce(sum(input_tokens), 0) AS input, coalesce(sum(output_tokens), 0) AS output,
       coalesce(sum(cache_read_tokens), 0) AS cache_read,
       coalesce(sum(cache_write_tokens), 0) AS cache_write,
       coalesce(sum(cost_usd), 0) AS cost_usd
FROM agent_runs WHERE {where} AND {column} IS NOT NULL
GROUP BY {column}
ORDER BY cost_usd DESC, runs DESC, {column} COLLATE "C"
LIMIT {limit}
"""
PERCENTILES = ("p50", "p75", "p90", "p95", "p99")


def _user_row(r: Record) -> dict[str, Any]:
    return {
        "key": r["key"],
        "runs": r["runs"],
        "successes": r["successes"],
        "failures": r["runs"] - r["successes"],
        "success_rate": r["successes"] / r["runs"],
        "latency_ms": {
            "avg": r["avg"],
            "min": r["min"],
            "max": r["max"],
            **dict(zip(PERCENTILES, list(r["pcts"]), strict=True)),
        },
        "tokens": {
            "input": r["input"],
            "output": r["output"],
            "cache_read": r["cache_read"],
            "cache_write": r["cache_write"],
            "total": r["input"] + r["output"],
        },
        "cost_usd": r["cost_usd"],
    }


COLUMNS = {"user": "user_id", "session": "session_id"}


async def top_users(
    conn: Connection, selection: Selection, limit: int, kind: str = "user"
) -> list[dict[str, Any]]:
    """Users (``kind="session"``: sessions) with the highest cost in ``selection``, from
    raw rows (ties: more runs, then the smaller id, as the top-K rollup ranks them).

    Cost: one scan of the range's raw rows plus a sort per user for the exact
    percentiles, so it grows with the range (unlike rollup-backed answers) and only sees
    raw retention. Rows: key, runs, successes, failures, success_rate, latency_ms,
    tokens, cost_usd (Decimal).
    """
    where, args = selection.raw_where()
    sql = TOP_USERS_SQL.format(where=where, limit=int(limit), column=COLUMNS[kind])
    rows = await conn.fetch(sql, *args)
    return [_user_row(r) for r in rows]
