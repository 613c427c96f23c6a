"""Driving `runtally dev` as a terminal does: its output, its process tree, its signals."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
from pathlib import Path

from runtally.devstack.children import CLI
from tests.e2e.helpers import wait_for

KEY_LINE = re.compile(r"API key: (rt_[A-Za-z0-9_-]+)")
# What `runtally dev` prints as each step of a stop finishes, in the documented order.
STOP_ORDER = (
    "stopped the demo fleet",
    "drained the stream",
    "stopped ingest, scheduler, api",
    "stopped redis-server",
    "stopped Postgres",
)


class Output:
    """Collects a process's output lines in a thread, so the test can wait for one."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        self.thread = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)
        self.thread.start()

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def key(self) -> str | None:
        match = KEY_LINE.search(self.text)
        return match.group(1) if match else None


def clean_env() -> dict[str, str]:
    """The environment without RUNTALLY_* (the dev stack must need no configuration)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNTALLY_")}
    return {**env, "COLUMNS": "100", "PYTHONUNBUFFERED": "1"}


def start_dev(data_dir: Path, api_port: int, *extra: str) -> tuple[subprocess.Popen[str], Output]:
    """``runtally dev`` in its own session and process group, as a terminal starts a job."""
    process = subprocess.Popen(
        [*CLI, "dev", "--data-dir", str(data_dir), "--api-port", str(api_port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env(),
        start_new_session=True,
    )
    return process, Output(process)


def wait_line(
    process: subprocess.Popen[str], output: Output, pattern: str, timeout: float
) -> re.Match[str]:
    """The first match of ``pattern`` in the output; fails at once if the process exits."""

    def found() -> re.Match[str] | None:
        match = re.search(pattern, output.text)
        if match is None and process.poll() is not None:
            output.thread.join(5)
            raise AssertionError(f"runtally dev exited {process.returncode}:\n{output.text}")
        return match

    match: re.Match[str] = wait_for(found, timeout, f"/{pattern}/ in the output")
    return match


def wait_key(process: subprocess.Popen[str], output: Output, timeout: float) -> str:
    return wait_line(process, output, KEY_LINE.pattern, timeout).group(1)


def finish(process: subprocess.Popen[str], output: Output, timeout: float) -> int:
    """The exit code; fails (after killing the group) if it takes longer than ``timeout``."""
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()
        raise AssertionError(f"runtally dev did not stop in {timeout}s:\n{output.text}") from None
    output.thread.join(5)
    return code


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children in their own sessions included)."""
    parents = _parents()
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def stack_pids(process: subprocess.Popen[str], data_dir: Path) -> set[int]:
    """The dev process, everything it started, and Postgres (pg_ctl detaches it)."""
    postmaster = int((data_dir / "postgres" / "pgdata" / "postmaster.pid").read_text().split()[0])
    return {process.pid, *descendants(process.pid), postmaster, *descendants(postmaster)}


def assert_stopped_in_order(text: str, steps: tuple[str, ...] = STOP_ORDER) -> None:
    """Every step was printed, in the order of ``steps``."""
    positions = [text.find(step) for step in steps]
    assert all(p >= 0 for p in positions), text
    assert positions == sorted(positions), text
