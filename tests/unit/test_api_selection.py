"""The one selection value (``store.selection``) and the known query parameters of a
route (``api.params.declared``): pure, tested by tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import pytest
from fastapi import Query
from fastapi.routing import APIRoute

from runtally.api.params import RunSelectionDep, SelectionDep, declared
from runtally.api.rollups import Read, rollup_parts
from runtally.cube import AGENT, ERROR_TYPE, FULL, MODEL
from runtally.store.selection import Selection, bucket_clause, equals

A = datetime(2026, 4, 2, 10, tzinfo=UTC)
B = datetime(2026, 4, 2, 12, tzinfo=UTC)
BASE = "project = $1 AND started_at >= $2 AND started_at < $3"


@pytest.mark.parametrize(
    ("pairs", "before", "clauses", "args"),
    [
        ([], [], [], []),
        ([("agent", "a")], [], ["agent = $1"], ["a"]),
        ([("agent", "a"), ("model", "m")], ["p", B], ["agent = $3", "model = $4"],
         ["p", B, "a", "m"]),
    ],
)  # fmt: skip
def test_equals_numbers_parameters_after_those_given(
    pairs: list[tuple[str, Any]], before: list[Any], clauses: list[str], args: list[Any]
) -> None:
    assert equals(pairs, before) == clauses
    assert before == args


@pytest.mark.parametrize(
    ("filters", "where", "values"),
    [
        ({}, BASE, []),
        ({"agent": "planner"}, f"{BASE} AND agent = $4", ["planner"]),
        ({"model": "m", "agent": "a"}, f"{BASE} AND agent = $4 AND model = $5", ["a", "m"]),
        ({"trace_id": "t", "status": "error"}, f"{BASE} AND status = $4 AND trace_id = $5",
         ["error", "t"]),
    ],
)  # fmt: skip
def test_raw_where_selects_project_range_and_every_filter(
    filters: dict[str, str], where: str, values: list[str]
) -> None:
    assert Selection("demo", A, B, filters).raw_where() == (where, ["demo", A, B, *values])


@pytest.mark.parametrize(
    ("filters", "rolled_up", "dims", "dims_by_model"),
    [
        ({}, True, 0, MODEL),
        ({"agent": "a"}, True, AGENT, AGENT | MODEL),
        ({"agent": "a", "error_type": "timeout"}, True, AGENT | ERROR_TYPE, FULL),
        ({"user_id": "u"}, False, None, None),
    ],
)
def test_rollup_reach_and_grouping_set(
    filters: dict[str, str], rolled_up: bool, dims: int | None, dims_by_model: int | None
) -> None:
    selection = Selection("demo", A, B, filters)
    assert selection.rolled_up() is rolled_up
    if dims is None:
        with pytest.raises(KeyError):
            selection.dims()
    else:
        assert selection.dims() == dims
        assert selection.dims("model") == dims_by_model


def test_of_narrowed_and_during_keep_the_rest() -> None:
    base = Selection.of("demo", A, B, agent="a", model=None)
    assert base.filters == {"agent": "a"}
    assert base.narrowed(status=None) is base
    more = base.narrowed(status="error", agent="b")
    assert more.filters == {"agent": "b", "status": "error"}
    assert base.filters == {"agent": "a"}  # unchanged
    later = more.during(B, B.replace(hour=13))
    assert (later.project, later.start, later.filters) == ("demo", B, more.filters)


@pytest.mark.parametrize("column", ["colour", "project", "agent; DROP TABLE x", "started_at"])
def test_only_known_columns_can_be_filtered(column: str) -> None:
    with pytest.raises(ValueError, match="cannot filter"):
        Selection("demo", A, B, {column: "x"})
    with pytest.raises(ValueError, match="cannot filter"):
        Selection("demo", A, B).narrowed(**{column: "x"})


async def _summary_like(selection: SelectionDep) -> None: ...


async def _with_extra(
    selection: SelectionDep, extra: Annotated[str | None, Query()] = None
) -> None: ...


async def _runs_like(selection: RunSelectionDep, limit: int = 1) -> None: ...


async def _by_alias(
    from_: Annotated[str | None, Query(alias="from")] = None, event_id: str = ""
) -> None: ...


@pytest.mark.parametrize(
    ("endpoint", "path", "names"),
    [
        (_summary_like, "/x", {"from", "to", "tz", "agent", "model", "tag"}),
        (_with_extra, "/x", {"from", "to", "tz", "agent", "model", "tag", "extra"}),
        (_runs_like, "/x", {"from", "to", "tz", "agent", "model", "tag", "status", "error_type",
                            "user_id", "session_id", "trace_id", "limit"}),
        (_by_alias, "/x/{event_id}", {"from"}),
    ],
)  # fmt: skip
def test_a_route_knows_exactly_the_query_parameters_it_declares(
    endpoint: Any, path: str, names: set[str]
) -> None:
    route = APIRoute(path, endpoint)
    assert declared(route) == names
    assert declared(route) is declared(route)  # computed once per route


class _NoQueries:
    async def fetch(self, query: str, *args: Any) -> list[Any]:
        raise AssertionError(f"no query expected: {query}")


@pytest.mark.parametrize(
    ("table", "filters", "dims", "words"),
    [
        ("rollup_hourly", {"user_id": "u"}, FULL, "rollups cannot answer"),
        ("rollup_daily", {"agent": "a"}, MODEL, "lacks a filtered column"),
        ("agent_runs", {}, FULL, "not a rollup table"),
    ],
)
async def test_rollup_reads_refuse_what_rollups_cannot_answer(
    table: str, filters: dict[str, str], dims: int, words: str
) -> None:
    selection = Selection("demo", A, B, filters)
    reads = [Read(table, [A])]
    with pytest.raises(ValueError, match=words):
        await rollup_parts(_NoQueries(), selection, reads, True, dims)  # type: ignore[arg-type]


H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("table", "buckets", "clause", "added"),
    [
        # Every hour from A to A + 3 h, in any order: a range over the index.
        ("rollup_hourly", [A, A + H, A + 2 * H, A + 3 * H], "bucket >= $2 AND bucket <= $3",
         [A, A + 3 * H]),
        ("rollup_hourly", [A + 2 * H, A, A + H], "bucket >= $2 AND bucket <= $3", [A, A + 2 * H]),
        ("rollup_daily", [A, A + 24 * H], "bucket >= $2 AND bucket <= $3", [A, A + 24 * H]),
        ("rollup_q15", [A, A + H / 4], "bucket >= $2 AND bucket <= $3", [A, A + H / 4]),
        # A gap (a dirty hour, or every other hour), one bucket, or local days: each listed.
        ("rollup_hourly", [A, A + H, A + 3 * H], "bucket = ANY($2::timestamptz[])",
         [[A, A + H, A + 3 * H]]),
        ("rollup_hourly", [A, A + 2 * H], "bucket = ANY($2::timestamptz[])", [[A, A + 2 * H]]),
        ("rollup_daily", [A, A + H], "bucket = ANY($2::timestamptz[])", [[A, A + H]]),
        ("rollup_hourly", [A], "bucket = ANY($2::timestamptz[])", [[A]]),
        ("rollup_zone_daily", [A, A + 24 * H], "bucket = ANY($2::timestamptz[])",
         [[A, A + 24 * H]]),
    ],
)  # fmt: skip
def test_bucket_clause_reads_a_range_only_when_it_holds_exactly_the_buckets(
    table: str, buckets: list[datetime], clause: str, added: list[Any]
) -> None:
    args: list[Any] = ["p"]
    assert bucket_clause(table, buckets, args) == clause
    assert args == ["p", *added]
