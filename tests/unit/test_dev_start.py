"""`DevStack.start` and the stop request: a step cut short by the stop is the stop."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from runtally.devstack.options import DevOptions
from runtally.devstack.shutdown import Shutdown
from runtally.devstack.stack import DevStack


def stack(tmp_path: Path) -> DevStack:
    return DevStack(DevOptions(tmp_path / "dev"), Console(quiet=True), Shutdown())


def test_a_step_that_fails_because_of_the_stop_request_ends_start_up_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = stack(tmp_path)

    def killed_spawn() -> None:
        # As when Ctrl-C reaches a child before it left our process group.
        dev.shutdown.request("SIGINT")
        raise RuntimeError("initdb died with SIGINT")

    monkeypatch.setattr(dev, "_choose_ports", killed_spawn)
    assert dev.start() is False


def test_a_failing_step_without_a_stop_request_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = stack(tmp_path)

    def broken() -> None:
        raise RuntimeError("postgres did not start")

    monkeypatch.setattr(dev, "_choose_ports", broken)
    with pytest.raises(RuntimeError, match="did not start"):
        dev.start()


def test_no_step_runs_once_the_stop_was_requested(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = stack(tmp_path)
    dev.shutdown.request("SIGTERM")
    monkeypatch.setattr(dev, "_choose_ports", lambda: pytest.fail("a step ran"))
    assert dev.start() is False
