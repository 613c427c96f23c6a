"""Private redis-server and PostgreSQL processes started from local binaries.

Used by ``runtally dev`` and by the test fixtures, so the tests exercise the very code
that brings the dev stack up. Postgres refuses to run as root, so when we are root the
server runs as the ``postgres`` OS user through ``runuser``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_SEARCH = (
    "/usr/lib/postgresql/18/bin",
    "/usr/lib/postgresql/17/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/14/bin",  # Ubuntu 22.04
    "/usr/lib/postgresql/13/bin",
    "/opt/homebrew/opt/postgresql@16/bin",
    "/opt/homebrew/opt/postgresql@15/bin",
    "/usr/local/opt/postgresql@15/bin",
    "/opt/homebrew/bin",
    "/usr/local/bin",
)
REDIS_SEARCH = ("/usr/bin", "/usr/local/bin", "/opt/homebrew/bin")
INSTALL_HINT = {
    "redis-server": "apt-get install -y redis-server  (macOS: brew install redis)",
    "initdb": "apt-get install -y postgresql  (macOS: brew install postgresql@16)",
    "pg_ctl": "apt-get install -y postgresql  (macOS: brew install postgresql@16)",
}


class MissingBinary(RuntimeError):
    """A server binary is not installed; the message says how to install it."""


def find_binary(name: str, search: tuple[str, ...]) -> Path:
    """``name`` on PATH, else in the usual Debian/Homebrew places."""
    found = shutil.which(name)
    if found:
        return Path(found)
    for folder in search:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    hint = INSTALL_HINT.get(name, "install it")
    raise MissingBinary(f"{name} not found on PATH or in {', '.join(search)}; install: {hint}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, timeout: float) -> None:
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listening on port {port} after {timeout:g}s")
        time.sleep(0.05)


def _running(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (exited, not yet reaped by init) does not count."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return False
        try:  # no procfs (macOS): signal 0 tells whether the pid exists
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_exit(pid: int, timeout: float) -> None:
    """Wait until ``pid`` has exited, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def _is_root() -> bool:
    return os.geteuid() == 0


@dataclass
class RedisServer:
    """A redis-server process on loopback with its files under ``data_dir``."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    appendonly: bool = True
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = find_binary("redis-server", REDIS_SEARCH)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            str(binary), "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.data_dir.resolve()), "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec", "--daemonize", "no",
            "--logfile", str((self.data_dir / "redis.log").resolve()),
        ]  # fmt: skip
        # Own session: a Ctrl-C meant for `runtally dev` must not stop Redis before ingest drains.
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        try:
            wait_port(self.port, 15)
        except TimeoutError:
            self.stop()
            raise

    def stop(self, kill: bool = False) -> None:
        """Stop the server; ``kill`` sends SIGKILL (a crash) instead of SIGTERM."""
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()


@dataclass
class PostgresServer:
    """A PostgreSQL cluster under ``data_dir`` listening on 127.0.0.1:port.

    ``durable=False`` turns off fsync for fast tests; the dev stack keeps it on.
    """

    data_dir: Path
    port: int = field(default_factory=free_port)
    user: str = "runtally"
    durable: bool = True

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        if _is_root():
            args = ["runuser", "-u", "postgres", "--", *args]
        # Own session: a Ctrl-C meant for `runtally dev` must not reach pg_ctl or Postgres.
        return subprocess.run(
            args, check=check, capture_output=True, text=True, start_new_session=True
        )

    @property
    def pgdata(self) -> Path:
        return self.data_dir.resolve() / "pgdata"

    def dsn(self, database: str = "runtally") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def _prepare_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if _is_root():
            # The postgres user must reach and own its folders.
            self.data_dir.resolve().chmod(0o755)
            for parent in self.data_dir.resolve().parents:
                if parent.stat().st_mode & 0o001 == 0:
                    parent.chmod(parent.stat().st_mode | 0o011)
            shutil.chown(self.data_dir.resolve(), "postgres", "postgres")

    def init(self) -> None:
        """Create the cluster unless it exists (idempotent)."""
        self._prepare_dirs()
        if (self.pgdata / "PG_VERSION").exists():
            return
        initdb = find_binary("initdb", PG_SEARCH)
        self._run([
            str(initdb), "-D", str(self.pgdata), "-U", self.user, "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        ])  # fmt: skip

    def start(self) -> None:
        self.init()
        pg_ctl = find_binary("pg_ctl", PG_SEARCH)
        options = [
            f"-p {self.port}", "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.data_dir.resolve()}",
            "-c max_connections=200", "-c shared_buffers=256MB",
            "-c max_locks_per_transaction=256",
        ]  # fmt: skip
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        log = self.data_dir.resolve() / "postgres.log"
        result = self._run(
            [str(pg_ctl), "-D", str(self.pgdata), "-l", str(log), "-w", "-t", "60",
             "-o", " ".join(options), "start"],
            check=False,
        )  # fmt: skip
        if result.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else result.stderr
            raise RuntimeError(f"postgres did not start: {tail}")
        self._ensure_database("runtally")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``mode='immediate'`` is a crash without a checkpoint.

        Returns once the postmaster process has exited, not only its pid file: ``pg_ctl
        -w`` returns when the file is gone, which the postmaster removes just before it
        exits, so a caller could otherwise still see it running.
        """
        pid = self._postmaster_pid()
        pg_ctl = find_binary("pg_ctl", PG_SEARCH)
        self._run([str(pg_ctl), "-D", str(self.pgdata), "-m", mode, "-w", "stop"], check=False)
        if pid is not None and not (self.pgdata / "postmaster.pid").exists():
            _wait_exit(pid, 15)

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run one SQL string through psql and return its unaligned output."""
        psql = find_binary("psql", PG_SEARCH)
        result = subprocess.run(
            [str(psql), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d", database,
             "-c", sql],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return result.stdout.strip()

    def _ensure_database(self, name: str) -> None:
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
        if not exists:
            self.psql(f'CREATE DATABASE "{name}"')
