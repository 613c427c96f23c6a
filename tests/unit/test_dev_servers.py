"""Stopping Postgres returns only once the postmaster process has exited."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runtally.devstack import servers
from runtally.devstack.servers import PostgresServer

# A stand-in postmaster: outlives its pid file by a moment, as a real one does.
LINGER = "import time; time.sleep(0.5)"


def _postmaster(pgdata: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-c", LINGER])
    pgdata.mkdir(parents=True)
    (pgdata / "postmaster.pid").write_text(f"{process.pid}\n{pgdata}\n")
    return process


def test_stop_waits_for_the_postmaster_after_pg_ctl_removed_its_pid_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = PostgresServer(tmp_path / "postgres")
    process = _postmaster(server.pgdata)
    calls: list[list[str]] = []

    def pg_ctl(args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        (server.pgdata / "postmaster.pid").unlink()  # what `pg_ctl -w stop` waits for
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(server, "_run", pg_ctl)
    monkeypatch.setattr(servers, "find_binary", lambda name, search: Path(name))
    server.stop()
    assert process.poll() is not None, "stop() returned while the postmaster still ran"
    assert [args[-1] for args in calls] == ["stop"]


def test_stop_does_not_wait_when_pg_ctl_failed_to_stop_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = PostgresServer(tmp_path / "postgres")
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    server.pgdata.mkdir(parents=True)
    (server.pgdata / "postmaster.pid").write_text(f"{process.pid}\n")
    monkeypatch.setattr(server, "_run", lambda args, check=True: None)
    monkeypatch.setattr(servers, "find_binary", lambda name, search: Path(name))
    try:
        server.stop()  # pid file still there: the caller retries (leftovers.stop_postgres)
        assert servers._running(process.pid)
    finally:
        process.kill()
        process.wait()


def test_running_tells_live_exited_and_unreaped_processes_apart() -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    assert servers._running(process.pid)
    process.kill()
    servers._wait_exit(process.pid, 5)  # a zombie until waited: exited, so not running
    assert not servers._running(process.pid)
    process.wait()
    assert not servers._running(process.pid)
