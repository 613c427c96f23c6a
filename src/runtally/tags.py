"""Tag rollup rows: their key, the grouping sets kept, the value cap and fold (pure).

A tag row aggregates the runs of one bucket that carry tag ``key`` = ``value``, at one
grouping set of (agent, model, error_type) (``runtally.cube``). Only the sets a tag
answer needs are kept, so a key costs at most ``len(TAG_GROUPING_SETS)`` rows per value
and combination seen, not the whole cube:

- ``0``: a tag filter alone, a breakdown by tag, a time series grouped by tag;
- ``AGENT``, ``MODEL``, ``AGENT | MODEL``: the same with agent/model filters, or a
  breakdown by agent or model under a tag filter;
- ``ERROR_TYPE``: a breakdown by error type under a tag filter.

Cardinality guard: per (bucket, key) at most ``cap`` values are kept, the ones with the
most runs (ties: the smaller value); every other value's runs are folded into one
``OTHER`` row, so the sums over a key's rows stay exact and a runaway key (a request id
sent as a tag) costs at most ``cap + 1`` values per bucket. ``OTHER`` itself is never
a kept value (it already holds folded runs). Folds follow key order, so equal input
gives equal rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from runtally.constants import TAG_OTHER
from runtally.cube import AGENT, ERROR_TYPE, FULL, MODEL, project
from runtally.tally import Tally

OTHER = TAG_OTHER
TAG_GROUPING_SETS = (0, AGENT, MODEL, ERROR_TYPE, AGENT | MODEL)


@dataclass(frozen=True)
class TagKey:
    """Key of one tag row (the project aside). Columns outside ``dims`` hold ''."""

    bucket: datetime
    key: str
    value: str
    agent: str
    model: str
    error_type: str
    dims: int = FULL

    def order(self) -> tuple[datetime, str, int, str, str, str, str]:
        return (self.bucket, self.key, self.dims, self.value, self.agent, self.model,
                self.error_type)  # fmt: skip


def project_tag(key: TagKey, dims: int) -> TagKey:
    """``key`` at grouping set ``dims``: the columns outside it blanked (``cube.project``)."""
    return project(key, dims)


def kept_values(runs: Mapping[str, int], cap: int) -> set[str]:
    """The at most ``cap`` values with the most runs (ties: smaller value first);
    ``OTHER`` is never kept."""
    ranked = sorted((v for v in runs if v != OTHER), key=lambda v: (-runs[v], v))
    return set(ranked[:cap])


def _merge_into(out: dict[TagKey, Tally], key: TagKey, tally: Tally) -> None:
    if key in out:
        out[key].merge(tally)
    else:
        out[key] = Tally.merged([tally])


def value_runs(rows: Mapping[TagKey, Tally]) -> dict[tuple[datetime, str], dict[str, int]]:
    """Runs per value of each (bucket, key), counted on one grouping set per row set:
    the ``dims`` of the first row seen for that (bucket, key) (all sets hold every run)."""
    dims_of: dict[tuple[datetime, str], int] = {}
    out: dict[tuple[datetime, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, tally in rows.items():
        group = (key.bucket, key.key)
        if dims_of.setdefault(group, key.dims) == key.dims:
            out[group][key.value] += tally.runs
    return out


def fold(rows: Mapping[TagKey, Tally], cap: int) -> dict[TagKey, Tally]:
    """``rows`` with every (bucket, key)'s values beyond the ``cap`` most-run ones
    merged into one ``OTHER`` row per grouping set and combination.

    ``rows`` may hold several grouping sets, each covering all runs of its (bucket,
    key); kept rows are copied, never modified.
    """
    kept = {group: kept_values(runs, cap) for group, runs in value_runs(rows).items()}
    out: dict[TagKey, Tally] = {}
    for key in sorted(rows, key=TagKey.order):
        if key.value not in kept[(key.bucket, key.key)]:
            _merge_into(out, replace(key, value=OTHER), rows[key])
        else:
            _merge_into(out, key, rows[key])
    return out


def derive_sets(rows: Mapping[TagKey, Tally]) -> dict[TagKey, Tally]:
    """The ``TAG_GROUPING_SETS`` rows of full-key tag rows (``dims == FULL``) and the set
    ``0`` rows of collapsed ones (``dims == 0``: a (bucket, key) kept without its
    combinations, ``store.tagged``), merged in key order. ``ValueError`` for a row at
    another set."""
    out: dict[TagKey, Tally] = {}
    for key in sorted(rows, key=TagKey.order):
        if key.dims not in (FULL, 0):
            raise ValueError(f"derive_sets takes full-key or set-0 rows, got dims={key.dims}")
        for dims in TAG_GROUPING_SETS if key.dims == FULL else (0,):
            _merge_into(out, project_tag(key, dims), rows[key])
    return out


def complete_combos(rows: Iterable[tuple[TagKey, Tally]]) -> list[tuple[TagKey, Tally]]:
    """``rows`` (several buckets) without the combination rows of a key that some bucket
    lacks: a merge of those buckets (hours into a day) would hold only part of the key's
    runs in its combination rows. Every bucket with runs of a key has ``0`` rows of it."""
    listed = list(rows)
    with_zero = {(k.bucket, k.key) for k, _ in listed if k.dims == 0}
    with_combos = {(k.bucket, k.key) for k, _ in listed if k.dims != 0}
    partial = {key for _, key in with_zero - with_combos}
    return [(k, t) for k, t in listed if k.dims == 0 or k.key not in partial]


def rebucket(rows: Iterable[tuple[TagKey, Tally]], bucket: datetime) -> dict[TagKey, Tally]:
    """Rows merged at ``bucket`` per (key, value, dims, combination): hours into a day."""
    out: dict[TagKey, Tally] = {}
    for key, tally in sorted(rows, key=lambda item: item[0].order()):
        _merge_into(out, replace(key, bucket=bucket), tally)
    return out
