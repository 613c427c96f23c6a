"""Aggregate raw runs per tag value, in SQL, with the cardinality cap applied there.

The hourly tag rollup needs, per tag key of ``keys`` and value, the ``Tally`` of the
runs carrying it, per (agent, model, error_type). ONE statement (``store.tagged_sql``)
ranks each key's values by runs (ties: the smaller value, ``COLLATE "C"`` = Python's str
order) and groups the runs of values beyond ``cap`` under ``__other__``, so a runaway
key (a request id sent as a tag) returns at most ``cap + 1`` values per key, not one per
run.

With ``min_runs`` (the rollup), a (bucket, key) whose capped (value, agent, model, error
type) groups hold on average fewer than ``min_runs`` runs each comes back collapsed to
one row per value (``dims == 0``, agent/model/error type ''): a key with hundreds of
values (a customer id) crossed with those columns has about one row per run in a quiet
hour, rows that would cost more to keep and read than the raw rows they stand for. The
rollup keeps such a bucket's key at set ``0`` only (``tags.derive_sets``) and the API
reads its other questions from raw rows (``store.tag_raw``: uncapped, one key, no
expansion). Sums are those of ``store.aggregate`` and latency bins use the same SQL key,
so tag rows and rollup rows agree exactly.

The statement groups runs by their kept tag values before expanding them per key, and
returns each run's ids and latency bin once, with its fine group; ``aggregate_tagged``
merges each final group's fine groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from runtally.cube import FULL
from runtally.sketch import LatencySketch, hll_from_values
from runtally.store.intarrays import int_arrays
from runtally.store.protocols import Connection
from runtally.store.scoped import HASHED, fetch_with
from runtally.store.selection import Selection
from runtally.store.tagged_sql import MERGED, tagged_sql
from runtally.tags import TagKey
from runtally.tally import Tally

# The statement's settings (``scoped.fetch_with``). Sorts and nested loops are priced
# as disabled: Postgres cannot estimate the groups of ``date_bin``, the bin or a tag's
# values and expects a handful of rows where there are thousands, so it would sort
# every run (``store.aggregate``'s planner note) and join the groups in nested loops
# (seen to take minutes); the tag expansion, a lateral call, stays a loop as it must.
# JIT off: with those prices Postgres would JIT-compile the statement for about a
# second even when it finds no row. Custom plans only: asyncpg prepares the statement,
# and from its sixth run on a connection Postgres may pick a generic plan, blind to
# the time range.
SETTINGS = {**HASHED, "enable_nestloop": "off", "jit": "off",
            "plan_cache_mode": "force_custom_plan"}  # fmt: skip


async def aggregate_tagged(
    conn: Connection,
    raw: Selection,
    keys: Sequence[str],
    cap: int,
    bucket: str | None = None,
    min_runs: int | None = None,
) -> dict[TagKey, Tally]:
    """Full-key tag tallies of the raw rows ``raw`` selects: per bucket (``bucket``
    ``"hour"``/``"day"``, or ``None``: one bucket at ``raw.start``) and key of ``keys``,
    its ``cap`` most-run values and ``__other__``. With ``min_runs``, the (bucket, key)
    groups averaging fewer runs come back at ``dims == 0`` (see the module)."""
    keys = list(dict.fromkeys(keys))  # a key listed twice would count its runs twice
    where, args = raw.raw_where()
    n = len(args)
    params = [*args, keys, cap] + ([] if min_runs is None else [min_runs])
    sql = tagged_sql(where, f"${n + 1}", len(keys), f"${n + 2}", bucket,
                     None if min_runs is None else f"${n + 3}")  # fmt: skip
    rows = await fetch_with(conn, sql, params, SETTINGS) if keys else []
    fine = _fine_groups([row for row in rows if row["fid"] is not None])
    finals = [row for row in rows if row["fid"] is None]
    out: dict[TagKey, Tally] = {}
    for row, members in zip(finals, int_arrays([row["members"] for row in finals]), strict=True):
        key = TagKey(row["b"], row["tag_key"], row["tag_value"], row["agent"], row["model"],
                     row["err"], FULL if row["full_key"] else 0)  # fmt: skip
        out[key] = _tally(row, [fine[fid] for fid in members.tolist()])
    return out


class _Fine(NamedTuple):
    """A fine group's runs: the bin key of each with a positive duration, the number of
    the others, and their user and session ids."""

    keys: npt.NDArray[np.int64]
    zero: int
    users: Sequence[str]
    sessions: Sequence[str]


def _fine_groups(rows: Sequence[Any]) -> dict[int, _Fine]:
    keys = int_arrays([row["lat_keys"] for row in rows])
    return {
        row["fid"]: _Fine(ks, row["lat_zero"], row["users"] or (), row["sessions"] or ())
        for row, ks in zip(rows, keys, strict=True)
    }


def _tally(row: Any, members: Sequence[_Fine]) -> Tally:
    """One final group's tally: sums as merged in SQL, bins counted from its fine groups'
    bin keys, ids sketched from their ids."""
    keys = members[0].keys if len(members) == 1 else np.concatenate([m.keys for m in members])
    tally = Tally(
        failures=row["runs"] - row["successes"],
        latency=LatencySketch.from_keys(sum(m.zero for m in members), keys),
    )
    sums = vars(tally)
    for name in MERGED:
        sums[name] = row[name]
    tally.price_versions = set(row["price_versions"] or ())
    for ids, target in (((m.users for m in members), tally.users),
                        ((m.sessions for m in members), tally.sessions)):  # fmt: skip
        sketch = hll_from_values(chain.from_iterable(ids))
        if sketch is not None:
            target.append(sketch)
    return tally
