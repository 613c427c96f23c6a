"""A rollup row's ``point`` (migration 0010): the point fields Postgres generates for a
row are the values ``views.figures`` makes of the same row read by asyncpg, floats bit
for bit, for edge values and generated rows; and connections print exact floats even
where the database's own default would round them."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest

from runtally.api.views import figures
from runtally.config import Settings
from runtally.store.engine import connect, create_pool
from runtally.stored_quantiles import NAMES
from tests.integration.test_migration_point_json import POINTED

pytestmark = pytest.mark.integration

COLUMNS = (
    "runs", "successes", "failures", "duration_sum", "duration_min", "duration_max",
    "lat_pcts", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "cost_usd",
)  # fmt: skip
# Doubles whose shortest text needs 17 digits, exponents, or is a whole number.
EDGE_FLOATS = [0.1 + 0.2, 1e-7, 5e-324, 2.0**53, 1e16, 123456.789, 7.0, 1 / 3, 2.5e-5]
EDGE_COSTS = ["0", "0.000000000001", "123456789012345678.123456789012", "0.1", "2.000000000001"]


def _row(rng: random.Random, duration: float, cost: str) -> tuple[Any, ...]:
    runs = rng.randint(0, 10**6)
    successes = rng.randint(0, runs)
    pcts = [rng.choice([None, duration, rng.uniform(0, 1e5)]) for _ in NAMES]
    tokens = [rng.randint(0, 2**40) for _ in range(4)]
    low, high = sorted([duration, rng.uniform(0, 1e6)])
    return (runs, successes, runs - successes, duration * max(runs, 1) + rng.random(), low,
            high, pcts, *tokens, Decimal(cost))  # fmt: skip


def _rows(seed: int, n: int) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    edges = [_row(rng, f, c) for f in EDGE_FLOATS for c in EDGE_COSTS]
    edges[0] = (*edges[0][:6], None, *edges[0][7:])  # no stored percentiles
    costs = [str(Decimal(rng.randint(0, 10**15)).scaleb(-12)) for _ in range(n)]
    return edges + [_row(rng, rng.expovariate(1e-3), c) for c in costs]


async def test_postgres_renders_exactly_the_fields_views_figures_makes(
    settings: Settings,
) -> None:
    rows = _rows(seed=17, n=300)
    conn = await connect(settings)
    try:
        await conn.execute(
            f"CREATE TEMP TABLE points AS SELECT {', '.join(COLUMNS)} FROM rollup_hourly"
            " WITH NO DATA"
        )
        # The very expression of the rollup tables' ``point``: one, the same in all three.
        found = await conn.fetch(
            "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d"
            " JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum"
            " WHERE a.attname = 'point' AND d.adrelid::regclass::text = ANY($1::text[])",
            list(POINTED),
        )
        assert len(found) == len(POINTED)
        (expression,) = {r[0] for r in found}
        await conn.execute(
            f"ALTER TABLE points ADD COLUMN point text GENERATED ALWAYS AS ({expression}) STORED"
        )
        await conn.copy_records_to_table("points", records=rows, columns=COLUMNS)
        read = await conn.fetch("SELECT * FROM points")
    finally:
        await conn.close()
    assert len(read) == len(rows)
    for row in read:
        if row["lat_pcts"] is None:
            assert row["point"] is None  # such a row is read from its bins
            continue
        expected = figures(row, dict(zip(NAMES, row["lat_pcts"], strict=True)))
        assert json.loads(row["point"]) == expected, dict(row)
    # The edge values did reach the answer as themselves, not rounded to 15 digits.
    mins = [json.loads(r["point"])["latency_ms"]["min"] for r in read if r["point"]]
    assert 0.1 + 0.2 in mins


async def test_connections_print_exact_floats_whatever_the_database_default(
    settings: Settings,
) -> None:
    admin = await connect(settings)
    try:
        name = await admin.fetchval("SELECT current_database()")
        await admin.execute(f'ALTER DATABASE "{name}" SET extra_float_digits = 0')
        await admin.execute("SET extra_float_digits = 0")  # what the default now does
        assert await admin.fetchval("SELECT (0.1::float8 + 0.2::float8)::text") == "0.3"
    finally:
        await admin.close()
    pool = await create_pool(settings, min_size=1, max_size=1, stateless=True)
    conn = await connect(settings)
    try:
        async with pool.acquire() as pooled:
            for c in (pooled, conn):
                text = await c.fetchval("SELECT (0.1::float8 + 0.2::float8)::text")
                assert float(text) == 0.1 + 0.2
    finally:
        await conn.close()
        await pool.close()
