"""The dev stack's child processes (ingest, scheduler, api): start, watch, stop.

Children run in their own session, so a Ctrl-C in the terminal reaches only
``runtally dev``, which then stops them in order (the one shutdown path). Their output
goes to one log file each under ``<data_dir>/logs``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

# Runs the CLI with this very interpreter (the venv's), whatever PATH says.
CLI = [sys.executable, "-c", "from runtally.cli import main; main()"]


@dataclass
class Child:
    """One ``runtally <args>`` process (``command`` + ``args``) with its log file."""

    name: str
    args: list[str]
    log_path: Path
    command: list[str] = field(default_factory=lambda: list(CLI))
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.command, *self.args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def exit_code(self) -> int | None:
        """``None`` while running (or never started), else the exit code."""
        return None if self.process is None else self.process.poll()

    def log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()


def stop_all(children: list[Child], grace_s: float) -> dict[str, int | None]:
    """SIGTERM every child, wait up to ``grace_s`` for all, then SIGKILL the rest.

    Returns each child's exit code (negative: killed by that signal).
    """
    for child in children:
        child.terminate()
    deadline = time.monotonic() + grace_s
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.process.wait()
    return {child.name: child.exit_code() for child in children}


def child_env(overrides: dict[str, str]) -> dict[str, str]:
    """This process's environment with ``overrides`` on top (RUNTALLY_* for the stack)."""
    env = dict(os.environ)
    env.update(overrides)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
