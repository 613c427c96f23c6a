"""Runs priced at ingest with an old table, a new table with effective dates, and the
ground truth of every cost computed here in Decimal from the price documents."""

from __future__ import annotations

import json
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from runtally.pricing import PriceTable, parse_price_document
from runtally.store.dirty import mark_hours

PROJECTS = ("p1", "p2")
AGENTS = ("planner", "coder")
MODELS = ("m-a", "m-b", "m-c")
FIRST_DAY = datetime(2026, 6, 1, tzinfo=UTC)
DAYS = 4
OLD: dict[str, Any] = {
    "version": "old",
    "models": {
        "m-a": {"input": 1, "output": 2},
        "m-b": {"input": 3, "output": 4, "cache_read": 0.5},
    },
}
# m-a: no price before 2026-06-02, another from 06-03; m-b unchanged; m-c newly priced.
NEW: dict[str, Any] = {
    "version": "new",
    "models": {
        "m-a": [
            {"effective_from": "2026-06-03", "input": 2, "output": 3, "cache_read": 0.25,
             "cache_write": 1.2},
            {"effective_from": "2026-06-02", "input": 1.5, "output": 2.5},
        ],
        "m-b": {"input": 3, "output": 4, "cache_read": 0.5},
        "m-c": {"input": 0.7, "output": 0.9},
    },
}  # fmt: skip
COLUMNS = (
    "event_id", "project", "agent", "model", "started_at", "ended_at", "duration_ms",
    "status", "error_type", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "cost_usd", "cost_source", "price_version",
)  # fmt: skip


def table(document: dict[str, Any]) -> PriceTable:
    return parse_price_document(json.dumps(document))


@dataclass(frozen=True)
class Run:
    event_id: uuid.UUID
    project: str
    agent: str
    model: str
    started_at: datetime
    error_type: str | None
    tokens: tuple[int | None, int | None, int | None, int | None]
    event_cost: Decimal | None  # a cost the event carried

    def cost(self, document: dict[str, Any]) -> Decimal | None:
        """This run's cost under ``document``, by the definition (independent of runtally)."""
        if self.event_cost is not None:
            return self.event_cost
        inp, out, read, write = self.tokens
        if inp is None and out is None:
            return None
        entry = _entry(document["models"].get(self.model), self.started_at.date())
        if entry is None:
            return None
        p_in, p_out = Decimal(str(entry["input"])), Decimal(str(entry["output"]))
        p_read = Decimal(str(entry["cache_read"])) if entry.get("cache_read") is not None else p_in
        p_write = (
            Decimal(str(entry["cache_write"])) if entry.get("cache_write") is not None else p_in
        )
        read, write = read or 0, write or 0
        uncached = (inp or 0) - read - write
        micro = uncached * p_in + (out or 0) * p_out + read * p_read + write * p_write
        return micro / Decimal(1_000_000)

    def record(self, document: dict[str, Any], version: str) -> tuple[Any, ...]:
        """The row ingest stores when it prices with ``document``."""
        cost = self.cost(document)
        if self.event_cost is not None:
            source: str | None = "event"
        else:
            source = None if cost is None else "price_table"
        return (
            self.event_id, self.project, self.agent, self.model, self.started_at,
            self.started_at + timedelta(milliseconds=5), 5.0,
            "error" if self.error_type else "success", self.error_type, *self.tokens, cost,
            source, None if self.event_cost is not None else version,
        )  # fmt: skip


def _entry(prices: Any, day: date) -> dict[str, Any] | None:
    if prices is None:
        return None
    if isinstance(prices, dict):
        return prices
    dated = sorted(prices, key=lambda e: e["effective_from"])
    found = [e for e in dated if date.fromisoformat(e["effective_from"]) <= day]
    return found[-1] if found else None


def make_runs(n: int, seed: int) -> list[Run]:
    rng = random.Random(seed)
    runs = []
    for _ in range(n):
        tokenless = rng.random() < 0.08
        inp = rng.randrange(20_000)
        read = rng.randrange(inp // 2 + 1)
        write = None if rng.random() < 0.4 else rng.randrange((inp - read) // 2 + 1)
        tokens = (None, None, None, None) if tokenless else (inp, rng.randrange(4_000), read, write)
        runs.append(
            Run(
                event_id=uuid.UUID(int=rng.getrandbits(128)),
                project=rng.choice(PROJECTS),
                agent=rng.choice(AGENTS),
                model=rng.choice(MODELS),
                started_at=FIRST_DAY + timedelta(seconds=rng.randrange(DAYS * 86_400)),
                error_type=rng.choice([None, None, None, "timeout"]),
                tokens=tokens,
                event_cost=Decimal(rng.randrange(10**9)) / 10**9 if rng.random() < 0.15 else None,
            )
        )
    return runs


async def insert(conn: Any, runs: list[Run], document: dict[str, Any]) -> None:
    """Store ``runs`` as ingest priced them with ``document``, marking their hours."""
    version = table(document).version
    async with conn.transaction():
        await conn.copy_records_to_table(
            "agent_runs", records=[r.record(document, version) for r in runs], columns=COLUMNS
        )
        await mark_hours(conn, {(r.project, hour(r.started_at)) for r in runs})


def hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def day(moment: datetime) -> datetime:
    return hour(moment).replace(hour=0)


Key = tuple[str, datetime, int, str, str, str]  # project, bucket, dims, agent, model, error


# "zone": local days of the one registered zone, ZONE (``rollup.zones``).
TABLES = {"q15": "rollup_q15", "hour": "rollup_hourly", "day": "rollup_daily",
          "zone": "rollup_zone_daily"}  # fmt: skip
ZONE = "Asia/Kolkata"  # days from 18:30 UTC: quarter-hour rows at both edges


def zone_day(moment: datetime) -> datetime:
    """Midnight of ``moment``'s local date in ``ZONE`` (UTC)."""
    local = moment.astimezone(ZoneInfo(ZONE))
    return datetime(local.year, local.month, local.day, tzinfo=local.tzinfo).astimezone(UTC)


def quarter(moment: datetime) -> datetime:
    """The UTC quarter hour ``moment`` falls in."""
    utc = moment.astimezone(UTC)
    return utc.replace(minute=utc.minute - utc.minute % 15, second=0, microsecond=0)


def rollup_truth(runs: list[Run], cost_of: Any, level: str) -> dict[Key, tuple[Decimal, int, int]]:
    """(cost, unpriced runs, runs) per rollup key of every grouping set at ``level``."""
    cut = {"q15": quarter, "hour": hour, "day": day, "zone": zone_day}[level]
    out: dict[Key, list[Any]] = defaultdict(lambda: [Decimal(0), 0, 0])
    for run in runs:
        cost = cost_of(run)
        for dims in range(8):
            key = (
                run.project, cut(run.started_at), dims, run.agent if dims & 1 else "",
                run.model if dims & 2 else "", (run.error_type or "") if dims & 4 else "",
            )  # fmt: skip
            cell = out[key]
            cell[0] += cost or 0
            cell[1] += cost is None
            cell[2] += 1
    return {key: (c[0], c[1], c[2]) for key, c in out.items()}


async def rollup_rows(conn: Any, level: str) -> dict[Key, tuple[Decimal, int, int]]:
    rows = await conn.fetch(
        f"SELECT project, bucket, dims, agent, model, error_type, cost_usd, unpriced_runs, runs "
        f"FROM {TABLES[level]}"
    )
    return {
        (r["project"], r["bucket"], r["dims"], r["agent"], r["model"], r["error_type"]): (
            r["cost_usd"],
            r["unpriced_runs"],
            r["runs"],
        )
        for r in rows
    }


async def raw_costs(conn: Any) -> dict[uuid.UUID, tuple[Decimal | None, str | None, str | None]]:
    rows = await conn.fetch("SELECT event_id, cost_usd, cost_source, price_version FROM agent_runs")
    return {r["event_id"]: (r["cost_usd"], r["cost_source"], r["price_version"]) for r in rows}
