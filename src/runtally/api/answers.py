"""Answer assembly shared by the aggregate routes: tag answers, top-id rows, the basis.

``tag_answer`` routes a question that involves tags to the tag rollups or raw rows
(``api.tagged``); ``top_answer`` routes ``by=user``/``by=session`` to the exact raw path
or the merged top-K rows (``api.top``). Both return what the answer came from
(``schemas.Basis``).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from runtally.api.schemas import Basis, BreakdownRow, Latency, Tokens
from runtally.api.tagged import TagAnswer, clip, gather_rolled, rollup_key
from runtally.api.top import exact_path, top_from_rollups
from runtally.api.users import top_users
from runtally.config import Settings
from runtally.localtime import DEFAULT_ZONE, zone_name
from runtally.rollup.maintenance import retention_cutoff
from runtally.store.protocols import Connection
from runtally.store.selection import Selection
from runtally.store.tag_raw import aggregate_by_tag
from runtally.topk import Item


def cutoff(settings: Settings) -> datetime:
    """Where raw rows start (retention drops whole UTC days before it)."""
    return retention_cutoff(datetime.now(UTC), settings.raw_retention_days)


async def tag_answer(conn: Connection, selection: Selection, settings: Settings,
                     group_tag: str | None, dims: int, granularity: str | None,
                     tz: tzinfo = UTC, distinct: bool = True) -> TagAnswer | None:  # fmt: skip
    """Parts of a question with tag filters or a tag grouping; ``None`` without tags.

    Tag rows are cut at UTC hours and days, so a time series in another zone is answered
    from raw rows (clipped to retention) at UTC quarter hours, which every zone's local
    hours and days are made of; totals (``granularity`` ``None``) need no buckets.
    """
    if not selection.tags and group_tag is None:
        return None
    edge = cutoff(settings)
    key = rollup_key(selection, group_tag, settings.tag_keys, dims)
    utc_buckets = granularity is None or _is_utc(tz)
    if key is not None and utc_buckets:
        return await gather_rolled(conn, selection, key, dims, granularity, edge, distinct)
    clipped, note = clip(selection, edge)
    read = group_tag if group_tag is not None else sorted(selection.tags)[0]
    grain = granularity if utc_buckets else "q15"
    parts = await aggregate_by_tag(conn, clipped, read, dims, grain, distinct)
    return TagAnswer(parts, "raw", note)


def _is_utc(tz: tzinfo) -> bool:
    """``tz`` is UTC (its buckets are the tag rows' UTC hours and days)."""
    return tz is UTC or zone_name(tz) == DEFAULT_ZONE


def _item_row(key: str, f: Item) -> BreakdownRow:
    runs = f.runs
    return BreakdownRow(
        key=key, runs=runs, successes=f.successes, failures=runs - f.successes,
        success_rate=f.successes / runs if runs else None,
        latency_ms=Latency(avg=f.duration_sum / runs if runs else None, min=None, max=None,
                           p50=None, p75=None, p90=None, p95=None, p99=None),
        tokens=Tokens(input=f.input_tokens, output=f.output_tokens,
                      cache_read=f.cache_read_tokens, cache_write=f.cache_write_tokens,
                      total=f.input_tokens + f.output_tokens),
        cost_usd=float(f.cost), cost_usd_max=float(f.cost + f.cost_error),
    )  # fmt: skip


async def top_answer(conn: Connection, selection: Selection, settings: Settings, kind: str,
                     limit: int) -> tuple[list[BreakdownRow], Basis]:  # fmt: skip
    """The top ``limit`` ids of ``kind`` and where they came from."""
    edge = cutoff(settings)
    if exact_path(selection, edge):
        clipped, note = clip(selection, edge)
        rows = await top_users(conn, clipped, limit, kind)
        shown = note if selection.start < edge else None
        return [BreakdownRow.model_validate(u) for u in rows], Basis(source="raw", note=shown)
    answer = await top_from_rollups(conn, selection, kind, limit, edge)
    ranking = answer.ranking
    basis = Basis(
        source="top_k", approximate=ranking.approximate, note=answer.note,
        error_bound_usd=float(ranking.error_bound_cost), error_bound_runs=ranking.error_bound_runs,
    )  # fmt: skip
    return [_item_row(key, figures) for key, figures in ranking.rows], basis
