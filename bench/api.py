"""Read API over 30 days of stored events, beside a ClickHouse peer scanning the raw rows.

Rows are generated in SQL straight into ``agent_runs`` (``bench.sqlgen``), every hour is
marked dirty and ``run_pending`` rolls them up once. The same rows are copied into an
in-process ClickHouse (``bench.clickhouse``, then ``OPTIMIZE FINAL``); Postgres gets its
``VACUUM (ANALYZE)`` before the timing. Then every question of
``bench.questions`` (summary, hourly series, breakdowns by agent, model and tag, daily
series in UTC, America/New_York and Asia/Kolkata) over ``[now − 30 d, now)`` — unaligned
edges, so runtally also reads partial hours of raw rows — is asked:

- of a real ``runtally api`` (uvicorn), timed from an HTTP client on the same machine;
- of ClickHouse, one scan per answer with approximate quantiles and ``uniq``;
- of the HTTP floor (``bench.floor``): runtally's own answer bytes served as they are;
- of Postgres, one exact aggregation of the raw rows: the truth runtally's answer must
  equal (``bench.truth``).

The first three are timed question by question, each side right after the other
(``apiclient.ask_all``), so they meet the machine's spells seconds apart.

Each figure is the ratio ClickHouse p50 / runtally p95 (> 1: runtally ahead), beside the
issue's target for the size. ``--events`` picks the size (default 10M, 300k with
``--quick``); free disk is checked first. A question whose parameter this build does not
know (``by=tag:…`` answered 422, ``tz`` ignored) is reported as not available.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bench import apiclient, floor, procs, sqlgen
from bench.clickhouse import Peer, runs_by_key
from bench.data import PROJECT
from bench.harness import (
    BenchContext,
    Figure,
    Refused,
    Stack,
    Target,
    make_partitions,
    percentile,
    private_stack,
    utc_now,
)
from bench.questions import API_ONLY, P95_TARGETS_MS, QUESTIONS, ZONES, Question, api_rows
from bench.sizes import disk_refusal
from bench.truth import Truth, check, top_errors, top_truth, truth, uniq_errors
from runtally.devstack.servers import free_port, wait_port
from runtally.rollup.jobs import run_pending
from runtally.store.engine import connect

NAME = "api"
TITLE = "Read API over 30 days, beside a ClickHouse scan of the raw rows"
DAYS = 30
CHUNK_HOURS = 6
FILL_BUDGET_S = 180.0  # without --events only: fewer rows rather than a longer run


@dataclass
class Run:
    """What one run measured, question by question, and how long each phase took."""

    events: int
    start: datetime
    end: datetime
    phases: dict[str, float] = field(default_factory=dict)
    truths: dict[str, Truth] = field(default_factory=dict)
    users: dict[str, tuple[Decimal, int]] = field(default_factory=dict)  # exact, ranked
    api: dict[str, apiclient.Answer] = field(default_factory=dict)
    peer: dict[str, apiclient.Answer] = field(default_factory=dict)
    floor: dict[str, apiclient.Answer] = field(default_factory=dict)  # ``bench.floor``


def run(ctx: BenchContext) -> None:
    want = ctx.events or ctx.size(10_000_000, 300_000)
    refusal = disk_refusal(Path(tempfile.gettempdir()), want, peer=True)
    if refusal is not None:
        raise Refused(refusal)
    with private_stack(NAME) as stack:
        asyncio.run(_run(ctx, stack, want, budget=ctx.events is None))


async def _run(ctx: BenchContext, stack: Stack, want: int, budget: bool) -> None:
    end = utc_now()
    start = end - timedelta(days=DAYS)
    await make_partitions(stack.settings, start.date(), end.date() + timedelta(days=1))
    began = time.perf_counter()
    n = await _fill(ctx, stack, start, end, want, budget)
    r = Run(n, start, end, {"generate": time.perf_counter() - began})
    r.phases["roll up"] = await _rollup(ctx, stack, start, end, n)
    peer = await _load_peer(ctx, stack, r)
    try:
        await _truths(stack, r)
        r.phases["settle Postgres"] = await _settle(ctx, stack)
        key = await _create_key(stack)
        _time_all(ctx, stack, r, peer, key)
    finally:
        if peer is not None:
            peer.close()
    _record(ctx, r)


def _time_all(ctx: BenchContext, stack: Stack, r: Run, peer: Peer | None, key: str) -> None:
    """Every question asked of a real ``runtally api``, of ClickHouse and of the HTTP
    floor (``bench.floor``), question by question, side by side (``apiclient.ask_all``)."""
    port = free_port()
    with procs.running(stack, ["api", "--host", "127.0.0.1", "--port", str(port)]):
        wait_port(port, 30)
        found = apiclient.answer_bytes(port, key, r.start, r.end)
        beside = {"ClickHouse": apiclient.peer_side(peer, r.start, r.end)} if peer else {}
        with floor.floor_side(found, stack.root / "floor" / "bodies") as floor_side:
            began = time.perf_counter()
            answers = apiclient.ask_all(port, key, r.start, r.end, ctx.size(50, 15), found,
                                        {**beside, "floor": floor_side})  # fmt: skip
            r.phases["time runtally, ClickHouse and the floor"] = time.perf_counter() - began
    r.api, r.peer, r.floor = answers["runtally"], answers.get("ClickHouse", {}), answers["floor"]
    if peer is not None:
        _check_peer(ctx, r)


async def _fill(
    ctx: BenchContext, stack: Stack, start: datetime, end: datetime, want: int, budget: bool
) -> int:
    """Generate ``want`` rows over [start, end); with ``budget``, fewer if that would take
    longer than ``FILL_BUDGET_S``."""
    chunks = _chunks(start, end, want)
    pilot = chunks[:2]
    rate = await sqlgen.fill(stack.settings, pilot)
    projected = want / rate
    n = want
    if budget and projected > FILL_BUDGET_S:
        n = int(rate * FILL_BUDGET_S) // 1_000_000 * 1_000_000 or int(rate * FILL_BUDGET_S)
        ctx.note(
            NAME,
            f"generating {want:,} rows would take ~{projected:.0f} s at the measured "
            f"{rate:,.0f} rows/s, over the {FILL_BUDGET_S:.0f} s budget: using {n:,} rows "
            "(pass --events to insist).",
        )
        conn = await connect(stack.settings)
        try:
            await conn.execute("TRUNCATE agent_runs")
        finally:
            await conn.close()
        chunks = _chunks(start, end, n)
        pilot = []
    began = time.perf_counter()
    rest = [c for c in chunks if c not in pilot]
    await sqlgen.fill(stack.settings, rest)
    seconds = time.perf_counter() - began + sum(p.n for p in pilot) / rate
    ctx.note(
        NAME,
        f"{n:,} rows over {DAYS} days generated by INSERT … SELECT generate_series with 2 "
        f"connections in {seconds:.0f} s ({n / seconds:,.0f} rows/s).",
    )
    return n


def _chunks(start: datetime, end: datetime, n: int) -> list[sqlgen.Chunk]:
    step = (end - start).total_seconds() / n
    chunk_s = CHUNK_HOURS * 3600
    per_chunk = int(chunk_s / step)
    out = []
    at, made = start, 0
    while made < n:
        rows = min(per_chunk, n - made)
        out.append(sqlgen.Chunk(at, rows, step, made))
        made += rows
        at += timedelta(seconds=rows * step)
    return out


async def _rollup(ctx: BenchContext, stack: Stack, start: datetime, end: datetime, n: int) -> float:
    hours = await sqlgen.mark_dirty(stack.settings, start, end)
    # The zones the daily questions ask in keep local-day rows, as a deployment names them.
    zoned = stack.settings.model_copy(update={"rollup_zones": ",".join(ZONES)})
    began = time.perf_counter()
    await run_pending(zoned)
    seconds = time.perf_counter() - began
    ctx.note(
        NAME,
        f"one `run_pending` rolled the {hours} dirty hours (and {DAYS + 1} UTC days, and the "
        f"local days of RUNTALLY_ROLLUP_ZONES={','.join(ZONES)}) of {n:,} rows in "
        f"{seconds:.1f} s ({n / seconds:,.0f} rows/s).",
    )
    return seconds


async def _load_peer(ctx: BenchContext, stack: Stack, r: Run) -> Peer | None:
    """The ClickHouse peer holding Postgres's rows, or None (with a note) without chDB."""
    try:
        peer = Peer(stack.root / "clickhouse")
    except ImportError:
        ctx.note(
            NAME,
            "ClickHouse peer NOT measured: chDB is not installed (`pip install -e '.[bench]'`; "
            "`make bench` installs it).",
        )
        return None
    conn = await connect(stack.settings)
    try:
        r.phases["load ClickHouse"] = await peer.load(conn, r.start, r.end)
        problems = await peer.check_load(conn)
    finally:
        await conn.close()
    size = peer.disk_bytes()
    pg_size = await _database_bytes(stack)
    ctx.note(
        NAME,
        f"ClickHouse (chDB {_chdb_version()}) loaded the same {r.events:,} rows from Postgres "
        f"in {r.phases['load ClickHouse']:.0f} s (COPY text, one day at a time, then OPTIMIZE "
        f"FINAL); on disk {size / r.events:,.0f} bytes per row (Postgres's database: "
        f"{pg_size / r.events:,.0f} bytes per row with indexes and rollups). "
        + (
            "Row count, token sums, cost and distinct event ids equal Postgres's."
            if not problems
            else "LOAD MISMATCH: " + "; ".join(problems)
        ),
    )
    return peer


async def _database_bytes(stack: Stack) -> int:
    conn = await connect(stack.settings)
    try:
        size: int = await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()
    return size


def _chdb_version() -> str:
    import chdb

    return str(chdb.__version__)


TRUTH_CONNECTIONS = 2  # one per core: the truth is not timed against anything


async def _truths(stack: Stack, r: Run) -> None:
    """Postgres's exact answer to every question, two at a time (also warms its cache)."""
    queue = list(QUESTIONS)

    async def worker() -> None:
        conn = await connect(stack.settings)
        try:
            # A hash join of the rows with their groups' sizes: a nested loop over hundreds
            # of groups (the planner's pick at small sizes) takes minutes at millions of
            # rows. No JIT: the join's estimate is wildly high; compiling took 12 s a query.
            await conn.execute(
                "SET work_mem = '256MB'; SET enable_nestloop = off; "
                "SET enable_mergejoin = off; SET jit = off"
            )
            while queue:
                q = queue.pop(0)
                r.truths[q.label] = await truth(conn, q, r.start, r.end)
            if not r.users:
                r.users = await top_truth(conn, r.start, r.end)
        finally:
            await conn.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(TRUTH_CONNECTIONS)))
    r.phases["exact truth in Postgres"] = time.perf_counter() - began


async def _settle(ctx: BenchContext, stack: Stack) -> float:
    """``VACUUM (ANALYZE)`` the database before timing, as ClickHouse gets ``OPTIMIZE
    FINAL``: right after the bulk load and rollup, autovacuum would otherwise work
    through the new rows on the same cores while the answers are timed."""
    began = time.perf_counter()
    conn = await connect(stack.settings)
    try:
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()
    seconds = time.perf_counter() - began
    ctx.note(NAME, f"Postgres settled by VACUUM (ANALYZE) in {seconds:.0f} s before timing.")
    return seconds


async def _create_key(stack: Stack) -> str:
    from runtally.api.keys import create_key

    conn = await connect(stack.settings)
    try:
        _, key = await create_key(conn, PROJECT, "bench")
    finally:
        await conn.close()
    return key


def _check_peer(ctx: BenchContext, r: Run) -> None:
    """ClickHouse counted the same runs and cost per key as the truth (same rows)."""
    bad = []
    for q in QUESTIONS:
        got = runs_by_key(q, r.peer[q.label].body)
        want = {k: (row["runs"], row["cost"]) for k, row in r.truths[q.label].rows.items()}
        if got != want:
            bad.append(q.label)
    ctx.note(
        NAME,
        "ClickHouse's answers count the same runs and cost per key as the exact truth"
        + ("." if not bad else f", EXCEPT: {', '.join(bad)}."),
    )


def _record(ctx: BenchContext, r: Run) -> None:
    mismatched = 0
    for q in QUESTIONS:
        answer = r.api[q.label]
        if answer.unavailable:
            ctx.note(NAME, f"{q.label}: not available in this build ({answer.unavailable}).")
            continue
        _record_times(ctx, q, r, answer)
        mismatched += _record_exactness(ctx, q, r, answer)
    for extra in API_ONLY:
        p50, p95 = (percentile(r.api[extra.label].times, x) * 1000 for x in (0.5, 0.95))
        target = Target(extra.p95_ms, higher=False)
        name = f"{extra.label}: runtally p95"
        ctx.record(Figure(NAME, name, p95, "ms", target, note=f"p50 {p50:,.1f} ms"))
        mismatched += _record_top(ctx, extra.label, r)
    ctx.record(
        Figure(
            NAME,
            "exactness: answered questions differing from the raw truth",
            mismatched,
            "",
            Target(0, higher=False),
        )
    )
    _record_notes(ctx, r)


def _record_top(ctx: BenchContext, label: str, r: Run) -> int:
    """The top-users answer within its own bounds of the exact per-user sums."""
    body = r.api[label].body
    errors = top_errors(r.users, body)
    if errors:
        ctx.note(NAME, f"{label}: MISMATCH with the raw truth: {'; '.join(errors[:5])}.")
        return 1
    basis = body["basis"]
    ctx.note(
        NAME,
        f"{label}: every row's exact cost (over {len(r.users):,} users) within its "
        f"[cost_usd, cost_usd_max]; source {basis['source']}, "
        + (
            f"approximate (bound ${basis.get('error_bound_usd')}, "
            f"{basis.get('error_bound_runs')} runs)."
            if basis.get("approximate")
            else "exact: the ids and order of the exact ranking."
        ),
    )
    return 0


def _record_times(ctx: BenchContext, q: Question, r: Run, answer: apiclient.Answer) -> None:
    p50, p95 = (percentile(answer.times, x) * 1000 for x in (0.5, 0.95))
    wanted = P95_TARGETS_MS.get(q.label)
    target = Target(wanted, higher=False) if wanted is not None else None
    ctx.record(
        Figure(NAME, f"{q.label}: runtally p95", p95, "ms", target, note=f"p50 {p50:,.1f} ms")
    )
    if q.label in r.floor:
        floor.record(ctx, NAME, q.label, answer, r.floor[q.label])
    peer = r.peer.get(q.label)
    if peer is None:
        return
    c50, c95 = (percentile(peer.times, x) * 1000 for x in (0.5, 0.95))
    ctx.record(
        Figure(NAME, f"{q.label}: ClickHouse scan p50", c50, "ms", note=f"p95 {c95:,.1f} ms")
    )
    ctx.record(
        Figure(
            NAME,
            f"{q.label}: ClickHouse p50 / runtally p95",
            c50 / p95,
            "×",
            q.target(r.events),
            note="" if q.target(r.events) else "no target at this size",
        )
    )


def _record_exactness(ctx: BenchContext, q: Question, r: Run, answer: apiclient.Answer) -> int:
    want = r.truths[q.label]
    errors, worst = check(want, api_rows(q, answer.body))
    if q.distinct:
        errors += uniq_errors(want, answer.body)
    if errors:
        shown = "; ".join(errors[:5]) + (f"; … {len(errors) - 5} more" if len(errors) > 5 else "")
        ctx.note(NAME, f"{q.label}: MISMATCH with the raw truth: {shown}.")
        return 1
    ctx.note(
        NAME,
        f"{q.label}: equals the raw truth over {len(want.rows):,} keys (runs, successes, "
        f"tokens, cost, min/avg/max exact; percentiles within {worst:.2%} of exact"
        + ("; distinct users and sessions within 3%" if q.distinct else "")
        + ").",
    )
    return 0


def _record_peer_wins(ctx: BenchContext, r: Run) -> None:
    """Name every question the ClickHouse scan answered faster than runtally."""
    wins = []
    for q in QUESTIONS:
        ours, theirs = r.api[q.label], r.peer.get(q.label)
        if ours.unavailable or theirs is None:
            continue
        ratio = percentile(theirs.times, 0.5) / percentile(ours.times, 0.95)
        if ratio < 1:
            wins.append(f"{q.label} ({ratio:.2f}x)")
    if r.peer:
        ctx.note(
            NAME,
            f"At {r.events:,} events ClickHouse's scan was faster than runtally's p95 on: "
            + (", ".join(wins) if wins else "no question")
            + ".",
        )


def _record_notes(ctx: BenchContext, r: Run) -> None:
    _record_peer_wins(ctx, r)
    pg = ", ".join(f"{q.label} {r.truths[q.label].seconds * 1000:,.0f} ms" for q in QUESTIONS)
    ctx.note(
        NAME,
        f"Postgres's exact raw aggregations (two scans each, exact percentiles, two queries "
        f"at a time; not a peer, the truth): {pg}.",
    )
    per_m = ", ".join(
        f"{k} {v:,.0f} s ({v / r.events * 1e6:,.1f} s per million)" for k, v in r.phases.items()
    )
    ctx.note(NAME, f"phase times (for planning larger runs): {per_m}.")
    ctx.note(
        NAME,
        "Timing: each question after 1-3 warm-up answers, then up to "
        f"{apiclient.BUDGET_S:g} s of answers (at least {apiclient.MIN_ANSWERS}), one at a "
        "time: runtally over HTTP to a real `runtally api` (uvicorn, one worker), ClickHouse "
        "in-process (no network: the peer's figure is if anything flattered), question by "
        "question, each side right after the other. The ratio is ClickHouse's median over "
        "runtally's p95. The HTTP floor (`bench.floor`, the third side): each "
        "answer's own bytes served as-is by uvicorn in a process of its own and decoded by "
        "the same client, so runtally's time above it is the server's work. The client's "
        "own objects are frozen out of its cyclic GC while it times (`frozen_heap`).",
    )
