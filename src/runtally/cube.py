"""Grouping sets of rollup rows: every bucket is kept at each subset of its key (pure).

A rollup bucket holds one row per (agent, model, error_type) — the full key — and one
row per *grouping set*: the same runs merged over the key columns a set leaves out,
like SQL's ``GROUP BY CUBE (agent, model, error_type)``. ``dims`` is the bitmask of the
key columns a row keeps (``AGENT | MODEL | ERROR_TYPE`` = ``FULL`` for the full key);
the columns it leaves out hold ``''``.

Why: a reader needs only the columns it filters or groups by, so it reads the coarsest
set that has them. A summary over 30 days reads one row per day instead of one per
(agent, model, error type, day) — the cost of an answer stops growing with the number
of agents × models × error types. The price is about 1.7× the rollup rows (8 sets).

Every grouping-set row is derived from the full-key rows of the same bucket by
``cube``, so they always agree with them exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol, TypeVar

from runtally.tally import Tally

AGENT = 1
MODEL = 2
ERROR_TYPE = 4
FULL = AGENT | MODEL | ERROR_TYPE
DIMS = {"agent": AGENT, "model": MODEL, "error_type": ERROR_TYPE}
GROUPING_SETS = tuple(range(FULL + 1))


@dataclass(frozen=True)
class GroupKey:
    """Key of one aggregate: the rollup key without the project.

    ``dims`` is the bitmask of key columns the aggregate is grouped by (``FULL``: all
    three); a column outside it holds ``''``.
    """

    bucket: datetime
    agent: str
    model: str
    error_type: str  # '' for successful runs
    dims: int = FULL


def dims_of(columns: Iterable[str | None]) -> int:
    """The smallest grouping set that keeps every named key column (``None`` ignored).

    Raises ``KeyError`` for a name that is not a key column.
    """
    dims = 0
    for column in columns:
        if column is not None:
            dims |= DIMS[column]
    return dims


class Keyed(Protocol):
    """A frozen dataclass key with the cube's columns (``GroupKey``, ``tags.TagKey``)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def agent(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def error_type(self) -> str: ...


K = TypeVar("K", bound=Keyed)


def project(key: K, dims: int) -> K:
    """``key`` with the columns outside ``dims`` blanked, tagged with ``dims``."""
    # A copy of the instance dict, not ``dataclasses.replace``: the rollups project
    # every full-key row into several sets, and ``replace`` (which re-runs ``__init__``
    # through keyword arguments) was a tenth of a tag rollup's time.
    fields = dict(vars(key))
    fields.update(
        agent=key.agent if dims & AGENT else "",
        model=key.model if dims & MODEL else "",
        error_type=key.error_type if dims & ERROR_TYPE else "",
        dims=dims,
    )
    out = object.__new__(type(key))
    vars(out).update(fields)
    return out


def _order(key: GroupKey) -> tuple[datetime, str, str, str]:
    return key.bucket, key.agent, key.model, key.error_type


def cube(full: Mapping[GroupKey, Tally]) -> dict[GroupKey, Tally]:
    """Every grouping set of full-key tallies: the full rows themselves plus the merges.

    ``full`` must hold full-key tallies only (``dims == FULL``); they are returned as
    they are (not copied), the merged tallies are new. ``ValueError`` otherwise.
    Merges follow key order, so equal input gives equal rows (HLL unions and float sums
    depend on the order they are made in).
    """
    out: dict[GroupKey, Tally] = {}
    for key in sorted(full, key=_order):
        tally = full[key]
        if key.dims != FULL:
            raise ValueError(f"cube takes full-key tallies, got dims={key.dims}")
        out[key] = tally
        for dims in GROUPING_SETS[:-1]:
            coarse = project(key, dims)
            if coarse in out:
                out[coarse].merge(tally)
            else:
                out[coarse] = Tally.merged([tally])
    return out
