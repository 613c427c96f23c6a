"""Each hourly, daily and zone-day rollup row's point as JSON: ``point``, generated.

A row alone in its answer bucket (each of an hourly 30-day series' 720 points, a clean
UTC day of a daily series, a registered zone's local day) is shown as its point's fields
(``views.figures``: runs, latency, tokens, cost). Those were rendered on every request,
2-4 ms of Postgres time for an hourly series. ``point`` is rendered once, whenever the
row is written or changed (a late event's re-roll, a repricing), by Postgres itself: no
writer can leave it stale. It is ``NULL`` where the row has no stored percentiles
(``lat_pcts``, migration 0007); readers then take the row's bins.

The values are those ``views.figures`` makes of the row, floats exact: the same division
of the same doubles, ``numeric`` to ``float8`` correctly rounded, doubles printed in
their shortest exact form. That last needs ``extra_float_digits`` > 0 in the writing
session: the default, set by every runtally connection (``constants``) and here for the
rewrite. Only immutable operators make the text (``||`` of explicit casts), as a
generated column requires.

Revision ID: 0010_point_json
Revises: 0009_zone_days
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0010_point_json"
down_revision: str | None = "0009_zone_days"
branch_labels = None
depends_on = None

# Not ``rollup_q15``: a quarter hour is alone in its answer bucket only where a range's
# edge clips a bucket to it, and its rows are the most (the column adds ~355 bytes a row).
TABLES = ("rollup_hourly", "rollup_daily", "rollup_zone_daily")
PERCENTILES = ("p50", "p75", "p90", "p95", "p99")  # ``lat_pcts`` order (migration 0007)


def _nullable(sql: str) -> str:
    return f"coalesce(({sql})::text, 'null')"


def _ran(sql: str) -> str:
    return _nullable(f"CASE WHEN runs > 0 THEN {sql} END")


Node = list[tuple[str, "str | Node"]]  # a JSON object: (name, SQL text or object)

POINT: Node = [
    ("runs", "runs::text"),
    ("successes", "successes::text"),
    ("failures", "failures::text"),
    ("latency_ms", [
        ("avg", _ran("duration_sum / runs")),
        ("min", _ran("duration_min")),
        ("max", _ran("duration_max")),
        *((name, _nullable(f"lat_pcts[{i}]")) for i, name in enumerate(PERCENTILES, start=1)),
    ]),
    ("tokens", [
        ("input", "input_tokens::text"),
        ("output", "output_tokens::text"),
        ("cache_read", "cache_read_tokens::text"),
        ("cache_write", "cache_write_tokens::text"),
        ("total", "(input_tokens + output_tokens)::text"),
    ]),
    ("cost_usd", "(cost_usd::float8)::text"),
]  # fmt: skip


def _object(node: Node) -> str:
    """``node`` as one ``||`` chain of text."""
    parts = []
    for i, (name, value) in enumerate(node):
        opener = "{" if i == 0 else ","
        parts += [f"'{opener}\"{name}\":'", value if isinstance(value, str) else _object(value)]
    return " || ".join([*parts, "'}'"])


EXPRESSION = f"CASE WHEN lat_pcts IS NOT NULL THEN {_object(POINT)} END"


def upgrade() -> None:
    op.execute("SET LOCAL extra_float_digits = 1")
    for table in TABLES:
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN point text GENERATED ALWAYS AS ({EXPRESSION}) STORED"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN point")
