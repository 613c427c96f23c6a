"""``runtally api`` hands uvicorn its app with the start-up heap frozen out of the
cyclic GC (full collections would otherwise walk it during answers)."""

from __future__ import annotations

import gc
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from runtally.api.cli import serve


def test_serve_freezes_the_heap_before_uvicorn_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def run(app: Any, **options: Any) -> None:
        seen.update(app=app, frozen=gc.get_freeze_count(), **options)

    monkeypatch.setattr(uvicorn, "run", run)
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        serve(host="127.0.0.1", port=8123)
    finally:
        gc.unfreeze()  # give the test process its collector back
    assert isinstance(seen["app"], FastAPI)
    assert seen["frozen"] > 10_000  # the imported modules' objects, at least
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 8123)
