"""The HTTP floor of each answer: its very bytes, served as they are, timed by the same client.

runtally's time for a question covers computing the answer, sending it over HTTP and the
client decoding its JSON (the ClickHouse peer's covers decoding its rows too). The floor
is the last two alone: a trivial ASGI app (``app``) serves each answer's bytes as
``runtally api`` sent them, under uvicorn in its own process with the same loop, parser
and access log (one worker), and the bench's client fetches and decodes them exactly as
it times runtally. What is left of runtally's time above the floor is the server's work;
a ratio target that the floor alone would miss cannot be met by a faster server.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from bench import procs
from bench.apiclient import Answer, Beside, get_json
from bench.harness import BenchContext, Figure, percentile
from runtally.devstack.servers import free_port, wait_port

FOLDER_ENV = "BENCH_FLOOR_DIR"  # where ``app`` finds the bodies it serves, one file each


def _bodies() -> dict[str, bytes]:
    folder = os.environ.get(FOLDER_ENV)
    if not folder:
        return {}
    return {f"/{path.name}": path.read_bytes() for path in Path(folder).iterdir()}


_SERVED = _bodies()  # read once, at import: serving costs no file I/O


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """ASGI: ``GET /<name>`` answers the file ``<name>`` of ``$BENCH_FLOOR_DIR`` as
    JSON, anything else a 404 (uvicorn's lifespan probe is ignored)."""
    if scope["type"] != "http":
        return
    found = _SERVED.get(scope["path"])
    body = found if found is not None else b""
    # A length, as FastAPI's ``Response`` sends: without one uvicorn would send chunks.
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    status = 200 if found is not None else 404
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextlib.contextmanager
def serving(bodies: Mapping[str, bytes], folder: Path) -> Iterator[int]:
    """``bodies`` (name → bytes; a name is one path segment) served by ``app`` under
    uvicorn in a child process, as ``runtally api`` runs (log level info); yields its
    port, and stops it on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in bodies.items():
        (folder / name).write_bytes(body)
    port = free_port()
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, FOLDER_ENV: str(folder), "PYTHONPATH": str(root)}
    command = [sys.executable, "-m", "uvicorn", "bench.floor:app", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "info", "--lifespan", "off"]  # fmt: skip
    with open(folder.parent / "floor.log", "wb") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_port(port, 30)
            yield port
        finally:
            procs.stop([proc], 10)


@contextlib.contextmanager
def floor_side(found: Mapping[str, Answer], folder: Path) -> Iterator[Beside]:
    """A side for ``apiclient.ask_all``: each answer's bytes (``found``; a question
    without is not asked) served by ``serving``, fetched and decoded as runtally's are."""
    named = {label: f"q{i}" for i, label in enumerate(a for a in found if found[a].raw)}
    bodies = {name: found[label].raw for label, name in named.items()}
    with serving(bodies, folder) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
        yield lambda q: partial(get_json, c, f"/{named[q.label]}", {}) if q.label in named else None


def record(ctx: BenchContext, bench: str, label: str, answer: Answer, floor: Answer) -> None:
    """The floor of ``answer`` (question ``label``) as a figure of benchmark ``bench``."""
    f50, f95 = (percentile(floor.times, x) * 1000 for x in (0.5, 0.95))
    note = f"p95 {f95:,.1f} ms; its {len(answer.raw) / 1000:,.1f} kB sent as-is and decoded"
    ctx.record(Figure(bench, f"{label}: HTTP floor p50", f50, "ms", note=note))
