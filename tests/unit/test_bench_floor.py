"""The read benchmark's HTTP floor: each answer's own bytes served as they are by a real
uvicorn child process, fetched and decoded by the bench's client (timing is not tested:
only that what is timed is the very answer, byte for byte)."""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from bench import apiclient
from bench.apiclient import Answer, ask_all, frozen_heap, timed
from bench.floor import floor_side, record, serving
from bench.harness import BenchContext
from bench.questions import QUESTIONS

BY_LABEL = {q.label: q for q in QUESTIONS}
LABELS = ("hourly series", "summary", "breakdown by tag:environment")

# An answer's shape: nested objects, floats, offsets and non-ASCII text.
HOURLY = json.dumps(
    {
        "tz": "Asia/Kolkata",
        "points": [
            {
                "bucket": f"2026-11-03T{h:02d}:30:00+05:30",
                "runs": h * 7,
                "latency_ms": {"p50": 1234.5678901234 / (h + 1), "p99": None},
                "tokens": {"input": 10**h, "total": 10**h + 3},
                "cost_usd": 0.1 * h,
            }
            for h in range(24)
        ],
        "note": "ünïcode — as sent",
    },
    ensure_ascii=False,
).encode()


def test_each_body_is_served_byte_for_byte_and_anything_else_is_a_404(tmp_path: Path) -> None:
    bodies = {"q0": b'{"runs": 3}', "q1": HOURLY}
    with serving(bodies, tmp_path / "bodies") as port, httpx.Client() as client:
        for name, body in bodies.items():
            response = client.get(f"http://127.0.0.1:{port}/{name}")
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json"
            # sent whole with its length, as runtally's answers are: not chunked
            assert response.headers["content-length"] == str(len(body))
            assert "transfer-encoding" not in response.headers
            assert response.content == body
        assert client.get(f"http://127.0.0.1:{port}/q2").status_code == 404
        assert client.get(f"http://127.0.0.1:{port}/").status_code == 404
    with pytest.raises(httpx.ConnectError):  # the child is stopped on exit
        httpx.get(f"http://127.0.0.1:{port}/q0")


def test_the_floor_side_asks_each_question_that_has_bytes_for_those_bytes(
    tmp_path: Path,
) -> None:
    hourly, summary, tagged = (BY_LABEL[x] for x in LABELS)
    found = {
        hourly.label: Answer(raw=HOURLY),
        summary.label: Answer(raw=b'{"runs": 1}'),
        tagged.label: Answer(unavailable="by: answered 422"),
    }
    with floor_side(found, tmp_path / "bodies") as side:
        assert side(tagged) is None  # nothing to serve: not asked
        for q in (hourly, summary):
            ask = side(q)
            assert ask is not None
            answer = timed(ask, repeats=4)
            assert answer.body == json.loads(found[q.label].raw)
            assert len(answer.times) == 4


def test_the_floor_is_recorded_beside_the_question_with_the_answer_size() -> None:
    ctx = BenchContext(quick=True)
    answer = Answer(raw=b"x" * 292_873)
    record(ctx, "api", "hourly series", answer, Answer(times=[0.004, 0.002, 0.003, 0.010]))
    (figure,) = ctx.figures
    assert figure.bench == "api"
    assert figure.name == "hourly series: HTTP floor p50"
    assert figure.unit == "ms"
    assert figure.value == pytest.approx(3.5)  # the median of 2, 3, 4 and 10 ms
    assert "292.9 kB" in figure.note


class _Clock:
    """``time.perf_counter`` stand-in: each answer takes what its side says."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_answers_are_warmed_up_then_timed_until_the_repeats_or_the_budget_run_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bench.apiclient as client

    clock = _Clock()
    monkeypatch.setattr(client.time, "perf_counter", clock)
    calls: list[float] = []

    def side(*seconds: float) -> Callable[[], int]:
        def ask() -> int:
            took = seconds[min(len(calls), len(seconds) - 1)]
            calls.append(took)
            clock.now += took
            return len(calls)

        return ask

    quick = client.timed(side(0.01), repeats=5)
    assert len(calls) == client.WARMUP + 5  # the warm-up answers are not timed
    assert quick.times == pytest.approx([0.01] * 5)
    assert quick.body == client.WARMUP + 5  # the last answer
    calls.clear()
    # 3 s answers spend the 20 s budget in 7; at least MIN_ANSWERS are timed all the same.
    slow = client.timed(side(3.0), repeats=50)
    assert slow.times == pytest.approx([3.0] * client.MIN_ANSWERS)
    calls.clear()
    # Once an answer takes SLOW_S or more, one warm-up answer was enough.
    lone = client.timed(side(0.01, client.SLOW_S), repeats=2)
    assert calls == [0.01, client.SLOW_S, client.SLOW_S]
    assert lone.times == pytest.approx([client.SLOW_S] * 2)


class _Cycle:
    """An object in a reference cycle: only the cyclic GC frees it."""

    def __init__(self) -> None:
        self.me = self


def test_the_heap_alive_before_timing_is_frozen_while_timing_and_released_after() -> None:
    old = _Cycle()
    older = weakref.ref(old)
    with frozen_heap():
        del old  # garbage now, but frozen: no collection while timing walks or frees it
        new = _Cycle()
        newer = weakref.ref(new)
        del new  # garbage made while timing: collected as usual
        gc.collect()
        assert newer() is None
        assert older() is not None
    gc.collect()
    assert older() is None


def test_every_side_is_timed_with_the_heap_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    answered = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    monkeypatch.setattr(
        apiclient,
        "_client",
        lambda port, key: httpx.Client(transport=answered, base_url="http://x"),
    )
    frozen: list[int] = []
    asked = lambda q: lambda: frozen.append(gc.get_freeze_count())  # noqa: E731
    found = {q.label: Answer(unavailable="not this build") for q in QUESTIONS}
    start = datetime(2026, 11, 1, tzinfo=UTC)
    ask_all(1, "k", start, start + timedelta(days=30), 2, found, {"elsewhere": asked})
    assert len(frozen) >= 2 * len(QUESTIONS)
    assert min(frozen) > 0
    assert gc.get_freeze_count() == 0
