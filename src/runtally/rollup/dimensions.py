"""Tag rows and top users/sessions of a rolled bucket (called by the hourly and daily rollups).

An hour's rows come from its raw rows (``store.tagged``, ``store.top``), a day's from
its hours' rows: tag rows merged (a key's agent/model/error type combinations only when
every hour kept them, ``tags.complete_combos``) and capped again (``tags.fold``:
``__other__`` stays exact, it is a sum), top-K lists merged with their bounds
(``topk.merge_top``). Both are written in the rollup's transaction, replacing the
bucket's rows, so a re-roll gives identical rows (every merge follows key order).
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime

from runtally import constants
from runtally.config import Settings
from runtally.grid import DAY, HOUR
from runtally.rollup.tag_rows import read_tag_rows, replace_tag_rows
from runtally.rollup.top_rows import read_top_rows, replace_top_rows
from runtally.store.protocols import Connection
from runtally.store.selection import Selection
from runtally.store.tagged import aggregate_tagged
from runtally.store.top import KINDS, top_ids
from runtally.tags import TagKey, complete_combos, derive_sets, fold, rebucket
from runtally.tally import Tally
from runtally.topk import merge_top

TagRows = dict[TagKey, Tally]


@dataclass(frozen=True)
class Dimensions:
    """What a rollup keeps of tags and ids: the rolled-up keys, values per key and
    bucket, ids per kind and bucket, and the runs per row below which a bucket keeps a
    key without its agent/model/error type combinations (``store.tagged``)."""

    keys: tuple[str, ...] = constants.TAG_KEYS_ALWAYS
    cap: int = constants.TAG_VALUE_CAP
    top_k: int = constants.TOP_K
    combo_min_runs: int = constants.TAG_COMBO_MIN_RUNS

    @classmethod
    def from_settings(cls, settings: Settings) -> Dimensions:
        return cls(settings.tag_keys, settings.tag_value_cap, settings.rollup_top_k,
                   settings.tag_combo_min_runs)  # fmt: skip


async def hour_tags(conn: Connection, raw: Selection, dims: Dimensions) -> TagRows:
    """The tag rows of the raw rows ``raw`` selects (one hour), every grouping set."""
    full = await aggregate_tagged(conn, raw, dims.keys, dims.cap, min_runs=dims.combo_min_runs)
    return derive_sets(full)


async def roll_hour_dimensions(
    conn: Connection, raw: Selection, dims: Dimensions, tags: Awaitable[TagRows] | None = None
) -> int:
    """Replace the tag and top-K rows of the hour ``raw`` selects from its raw rows; rows
    written. ``tags``: its tag rows being computed elsewhere (``rollup.side``), else
    computed here."""
    tops = await top_ids(conn, raw, dims.top_k)
    rows = await tags if tags is not None else await hour_tags(conn, raw, dims)
    span = (raw.start, raw.end)
    written = await replace_tag_rows(conn, "rollup_tag_hourly", raw.project, span, rows)
    return written + await replace_top_rows(conn, "rollup_top_hourly", raw.project, span, tops)


async def roll_day_dimensions(
    conn: Connection, project: str, day: datetime, dims: Dimensions
) -> int:
    """Replace ``day``'s tag and top-K rows from its hourly ones; rows written."""
    span = (day, day + DAY)
    hourly = await read_tag_rows(conn, "rollup_tag_hourly", project, *span)
    tags = fold(rebucket(complete_combos(hourly), day), dims.cap)
    written = await replace_tag_rows(conn, "rollup_tag_daily", project, span, tags)
    hours = [day + HOUR * n for n in range(24)]
    tops = {}
    for kind in KINDS:
        per_hour = await read_top_rows(conn, "rollup_top_hourly", project, hours, kind)
        tops[kind] = merge_top([per_hour[h] for h in sorted(per_hour)], dims.top_k)
    return written + await replace_top_rows(conn, "rollup_top_daily", project, span, tops)
