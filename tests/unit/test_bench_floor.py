"""The read benchmark's HTTP floor: each answer's own bytes served as they are by a real
uvicorn child process, fetched and decoded by the bench's client (timing is not tested:
only that what is timed is the very answer, byte for byte)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from bench.apiclient import Answer
from bench.floor import record, serving, time_floor
from bench.harness import BenchContext

# An answer's shape: nested objects, floats, offsets and non-ASCII text.
HOURLY = json.dumps(
    {
        "tz": "Asia/Kolkata",
        "points": [
            {"bucket": f"2026-11-03T{h:02d}:30:00+05:30", "runs": h * 7,
             "latency_ms": {"p50": 1234.5678901234 / (h + 1), "p99": None},
             "tokens": {"input": 10**h, "total": 10**h + 3}, "cost_usd": 0.1 * h}
            for h in range(24)
        ],
        "note": "ünïcode — as sent",
    }  # fmt: skip
).encode()


def test_each_body_is_served_byte_for_byte_and_anything_else_is_a_404(tmp_path: Path) -> None:
    bodies = {"q0": b'{"runs": 3}', "q1": HOURLY}
    with serving(bodies, tmp_path / "bodies") as port, httpx.Client() as client:
        for name, body in bodies.items():
            response = client.get(f"http://127.0.0.1:{port}/{name}")
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json"
            assert response.content == body
        assert client.get(f"http://127.0.0.1:{port}/q2").status_code == 404
        assert client.get(f"http://127.0.0.1:{port}/").status_code == 404
    with pytest.raises(httpx.ConnectError):  # the child is stopped on exit
        httpx.get(f"http://127.0.0.1:{port}/q0")


def test_the_floor_times_and_decodes_each_answer_that_has_bytes(tmp_path: Path) -> None:
    answers = {
        "hourly series": Answer(raw=HOURLY),
        "summary": Answer(raw=b'{"runs": 1}'),
        "not available": Answer(unavailable="422"),
    }
    timed = time_floor(answers, tmp_path / "bodies", repeats=4)
    assert set(timed) == {"hourly series", "summary"}
    for label, floor in timed.items():
        assert floor.body == json.loads(answers[label].raw)
        assert len(floor.times) == 4
        assert all(t > 0 for t in floor.times)


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
