"""Timing answers: runtally's over HTTP, the ClickHouse peer's in-process.

Each question: up to ``WARMUP`` warm-up answers (fewer when each is slow anyway), then
answers one at a time until ``repeats`` are timed or ``BUDGET_S`` is spent (at least
``MIN_ANSWERS``). A question whose parameter this build does not know is probed first:
a 422 answer, or a ``tz`` the answer ignored, marks it unavailable instead of timing it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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


def ask_all(port: int, key: str, start: datetime, end: datetime, repeats: int) -> dict[str, Answer]:
    """Every question of ``bench.questions`` asked of ``runtally api`` on ``port``."""
    span = {"from": start.isoformat(), "to": end.isoformat()}
    out = {}
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=120
    ) as client:
        for q in QUESTIONS:
            params = {**span, **q.params}
            why = _probe(client, q, params) if q.feature else ""
            if why:
                out[q.label] = Answer(unavailable=why)
                continue
            out[q.label] = timed(partial(get_json, client, q.path, params), repeats)
            out[q.label].raw = client.get(q.path, params=params).content
        for extra in API_ONLY:
            params = {**span, **extra.params}
            out[extra.label] = timed(partial(get_json, client, extra.path, params), repeats)
    return out


def time_peer(peer: Peer, q: Question, start: datetime, end: datetime, repeats: int) -> Answer:
    """``q`` asked of the ClickHouse peer (the rows decoded, as a client would)."""
    return timed(partial(peer.ask, q, start, end), repeats)
