"""Timing answers: runtally's over HTTP, beside the same question asked elsewhere.

Each question: up to ``WARMUP`` warm-up answers (fewer when each is slow anyway), then
answers one at a time until ``repeats`` are timed or ``BUDGET_S`` is spent (at least
``MIN_ANSWERS``), on each side right after the other, so the sides of a question meet
the shared machine's spells seconds apart rather than minutes (timed all runtally first,
then all ClickHouse, the same code's ratio moved by 2x between runs). Not interleaved
answer by answer: tried in one run, the small answers' HTTP floors, each timed right
after a ClickHouse scan, came out 1.2–2.9x those of the next run (BENCHMARKS.md, runs J
and K). The harness's own objects are frozen out of the cyclic GC while answers are
timed (``frozen_heap``). A question whose parameter this build does not know is probed
first: a 422 answer, or a ``tz`` the answer ignored, marks it unavailable instead of
timing it (the other sides are still timed).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import httpx

from bench.clickhouse import Peer
from bench.questions import API_ONLY, QUESTIONS, Question, local_buckets

BUDGET_S = 20.0
MIN_ANSWERS = 10
WARMUP = 3
SLOW_S = 1.0  # one warm-up is enough when an answer takes longer than this


@dataclass
class Answer:
    """Timed seconds and the last answer, or why the question was not asked."""

    times: list[float] = field(default_factory=list)
    body: Any = None
    unavailable: str = ""
    raw: bytes = b""  # the answer's bytes as sent, for ``bench.floor``


def timed(ask: Callable[[], Any], repeats: int) -> Answer:
    """Warm up, then time ``ask()`` ``repeats`` times (or until the budget is spent)."""
    out = Answer()
    warm = 0
    while len(out.times) < repeats:
        if len(out.times) >= MIN_ANSWERS and sum(out.times) > BUDGET_S:
            break
        began = time.perf_counter()
        out.body = ask()
        elapsed = time.perf_counter() - began
        if (warm < WARMUP and elapsed < SLOW_S) or warm < 1:
            warm += 1
        else:
            out.times.append(elapsed)
    return out


def _probe(client: httpx.Client, q: Question, params: dict[str, str]) -> str:
    """Why this build cannot answer ``q`` (empty when it can)."""
    response = client.get(q.path, params=params)
    if response.status_code == 422:
        return f"{q.feature}: {q.path} answered 422: {response.text[:200]}"
    response.raise_for_status()
    if not local_buckets(q, response.json()):
        return f"{q.feature}: {q.path} ignored tz={q.params['tz']} and answered UTC days"
    return ""


def get_json(client: httpx.Client, path: str, params: dict[str, str]) -> Any:
    response = client.get(path, params=params)
    response.raise_for_status()
    return response.json()


Beside = Callable[[Question], Callable[[], Any] | None]  # a question asked elsewhere


def answer_bytes(port: int, key: str, start: datetime, end: datetime) -> dict[str, Answer]:
    """Each question's answer from ``runtally api`` on ``port``, as sent (``raw``), or
    why this build cannot answer it (``unavailable``)."""
    span = {"from": start.isoformat(), "to": end.isoformat()}
    out = {}
    with _client(port, key) as client:
        for q in QUESTIONS:
            params = {**span, **q.params}
            why = _probe(client, q, params) if q.feature else ""
            raw = b"" if why else client.get(q.path, params=params).raise_for_status().content
            out[q.label] = Answer(unavailable=why, raw=raw)
    return out


@contextmanager
def frozen_heap() -> Iterator[None]:
    """The objects alive on entry (the harness's, chdb's: ~10^5) kept out of the cyclic
    GC until exit. A full collection over them took ~70 ms in this process and fell on
    whichever answer was being timed, on any side alike: a p95 of 50 answers is their
    third slowest. Garbage made while timing is still collected."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def ask_all(port: int, key: str, start: datetime, end: datetime, repeats: int,
            found: Mapping[str, Answer], beside: Mapping[str, Beside]
            ) -> dict[str, dict[str, Answer]]:  # fmt: skip
    """Every question of ``bench.questions`` asked of ``runtally api`` on ``port``
    (``found``: ``answer_bytes``, which says which it can answer) and of each side of
    ``beside`` (name → how it asks a question; ``None``: not at all), one question
    after the other and its sides right after each other; answers by side
    (``"runtally"`` and ``beside``'s names), then label."""
    span = {"from": start.isoformat(), "to": end.isoformat()}
    out: dict[str, dict[str, Answer]] = {name: {} for name in ["runtally", *beside]}
    with _client(port, key) as client, frozen_heap():
        for q in QUESTIONS:
            ours = found[q.label]
            params = {**span, **q.params}
            sides = {"runtally": None if ours.unavailable else partial(get_json, client, q.path,
                                                                       params)}  # fmt: skip
            sides.update((name, ask(q)) for name, ask in beside.items())
            asked = {name: ask for name, ask in sides.items() if ask is not None}
            for name, ask in asked.items():  # side by side: seconds apart, not minutes
                out[name][q.label] = timed(ask, repeats)
            out["runtally"].setdefault(q.label, ours).raw = ours.raw  # timed, or why not
        for extra in API_ONLY:
            params = {**span, **extra.params}
            out["runtally"][extra.label] = timed(partial(get_json, client, extra.path, params),
                                                 repeats)  # fmt: skip
    return out


def _client(port: int, key: str) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{port}",
                        headers={"Authorization": f"Bearer {key}"}, timeout=120)  # fmt: skip


def peer_side(peer: Peer, start: datetime, end: datetime) -> Beside:
    """How the ClickHouse peer asks a question (the rows decoded, as a client would)."""
    return lambda q: partial(peer.ask, q, start, end)
