"""A rollup row's point fields as JSON, rendered by Postgres in the statement that reads it.

``POINT_JSON`` is a SQL expression over a rollup row with stored percentiles: the UTF-8
bytes of the JSON object ``views.figures`` makes of that row (without ``bucket``). A
row alone in its answer bucket then reaches the answer as bytes, with no Python object
per field. Decoding 13 columns per row and building each point's dicts had been about a
third of the server's time on an hourly 30-day series (720 points).

Equal values, not equal text: Postgres prints ``12`` where pydantic prints ``12.0``.
Floats are the same IEEE values: the average is the same division of the same doubles,
``numeric`` goes to ``float8`` correctly rounded as ``float(Decimal)`` does, and Postgres
12+ prints doubles in their shortest exact form whenever ``extra_float_digits`` > 0
(``constants.PG_SERVER_SETTINGS``, which ``store.engine`` sets on every connection).
"""

from __future__ import annotations

from runtally.stored_quantiles import NAMES

Node = list[tuple[str, "str | Node"]]  # a JSON object: (name, SQL value or object)


def _nullable(sql: str) -> str:
    """``sql`` as JSON number text, ``null`` when NULL (``format`` prints NULL as '')."""
    return f"coalesce(({sql})::text, 'null')"


def _ran(sql: str) -> str:
    return _nullable(f"CASE WHEN runs > 0 THEN {sql} END")


POINT: Node = [
    ("runs", "runs"),
    ("successes", "successes"),
    ("failures", "failures"),
    ("latency_ms", [
        ("avg", _ran("duration_sum / runs")),
        ("min", _ran("duration_min")),
        ("max", _ran("duration_max")),
        *((name, _nullable(f"lat_pcts[{i}]")) for i, name in enumerate(NAMES, start=1)),
    ]),
    ("tokens", [
        ("input", "input_tokens"),
        ("output", "output_tokens"),
        ("cache_read", "cache_read_tokens"),
        ("cache_write", "cache_write_tokens"),
        ("total", "input_tokens + output_tokens"),
    ]),
    ("cost_usd", "cost_usd::float8"),
]  # fmt: skip


def _template(node: Node) -> tuple[str, list[str]]:
    """A ``format`` template of ``node`` (one ``%s`` per value) and its values."""
    parts, values = [], []
    for name, value in node:
        if isinstance(value, str):
            parts.append(f'"{name}":%s')
            values.append(value)
        else:
            inner, more = _template(value)
            parts.append(f'"{name}":{inner}')
            values += more
    return "{" + ",".join(parts) + "}", values


def point_json() -> str:
    """The SQL expression (see the module docstring): one ``format`` call (compact
    text, unlike ``json_build_object``'s, and no faster to build by nested ``concat``)."""
    template, values = _template(POINT)
    return f"convert_to(format('{template}', {', '.join(values)}), 'UTF8')"


POINT_JSON = point_json()
