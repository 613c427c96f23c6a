"""``runtally dev``: the whole stack on one machine, with no configuration.

Start-up, in order: private redis-server (AOF on) and Postgres from local binaries under
``<data_dir>`` (ports kept in ``ports.json``), schema migration and partitions, then
``runtally ingest``, ``runtally scheduler`` and ``runtally api`` as child processes;
wait for ``/readyz``; print an API key and the dashboard URL (key in the URL fragment,
so one click logs in). With ``--demo`` a synthetic agent fleet publishes in-process.

Shutdown has one path: SIGINT/SIGTERM (or ``--duration``) sets the stop event → the
fleet stops and flushes → ingest drains the stream (bounded wait) → children get SIGTERM
(SIGKILL after a grace period) → Redis and Postgres stop cleanly. Data stays in
``<data_dir>`` for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import redis
import redis.asyncio as aioredis
from rich.console import Console

from runtally import constants
from runtally.config import Settings
from runtally.devstack import report
from runtally.devstack.children import Child, child_env, stop_all
from runtally.devstack.ports import choose_ports, load_ports, save_ports
from runtally.devstack.servers import MissingBinary, PostgresServer, RedisServer
from runtally.devstack.simulate import FleetStats, install_stop_signals, simulate_until_stopped
from runtally.errors import UserError

PROJECT = constants.PROJECT
KEY_FILE = "dev-key"
READY_TIMEOUT_S = 90.0
DRAIN_TIMEOUT_S = 15.0
PROGRESS_EVERY_S = 10.0


@dataclass(frozen=True)
class DevOptions:
    """What ``runtally dev`` was asked to do."""

    data_dir: Path
    demo: bool = False
    duration: float | None = None
    api_port: int | None = None
    agents: int = 6
    rate: float = 20.0


@dataclass
class Outcome:
    """What the final summary reports."""

    exit_codes: dict[str, int | None] = field(default_factory=dict)
    crashed: str | None = None
    summary: dict[str, Any] | None = None
    fleet: FleetStats | None = None
    undrained: int = 0
    postgres_stopped: bool = True


def http_json(url: str, key: str | None = None, timeout: float = 3.0) -> Any:
    """GET ``url`` and decode its JSON (raises ``OSError`` / ``ValueError`` on failure)."""
    request = urllib.request.Request(url)
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def stop_stale_redis(port: int, data_dir: Path) -> None:
    """Shut down a redis-server left running on ``port`` by a killed ``runtally dev``.

    Only a server whose data folder is ours is touched; anything else keeps its port and
    the stack picks another one.
    """
    client = redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=2)
    try:
        folder = client.config_get("dir").get("dir")  # type: ignore[union-attr]
        if isinstance(folder, bytes):
            folder = folder.decode()
        if folder and Path(folder).resolve() == data_dir.resolve():
            with contextlib.suppress(redis.ConnectionError):
                client.shutdown()
    except redis.RedisError:
        pass
    finally:
        client.close()


class DevStack:
    """The processes of one ``runtally dev`` run; ``stop()`` is safe to call any time."""

    def __init__(self, options: DevOptions, console: Console) -> None:
        self.options = options
        self.console = console
        self.data_dir = options.data_dir.resolve()
        self.redis: RedisServer | None = None
        self.postgres: PostgresServer | None = None
        self.children: list[Child] = []
        self.ports: dict[str, int] = {}
        self.key = ""
        self.outcome = Outcome()

    # ------------------------------------------------------------------ start-up
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    @property
    def settings(self) -> Settings:
        assert self.redis is not None
        assert self.postgres is not None
        return Settings(
            redis_url=self.redis.url, database_url=self.postgres.dsn(), data_dir=self.data_dir
        )

    def start(self) -> None:
        """Bring everything up; raises ``UserError`` with one clear line on failure."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._start_servers()
        with self.console.status("migrating the schema…"):
            migrate(self.settings)
        self.console.print("[green]✓[/] schema at head, partitions ready")
        self._start_children()
        self._wait_ready()
        self.key = ensure_key(self.settings, self.data_dir / KEY_FILE)
        report.print_access(self.console, self.api_url, self.key)

    def _start_servers(self) -> None:
        saved = load_ports(self.data_dir)
        if "redis" in saved:
            stop_stale_redis(saved["redis"], self.data_dir / "redis")
        pg = PostgresServer(self.data_dir / "postgres")
        if (pg.pgdata / "postmaster.pid").exists():
            pg.stop()  # left running (or its pid file left) by a killed run
        requested = {} if self.options.api_port is None else {"api": self.options.api_port}
        try:
            self.ports = choose_ports(saved, requested)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        save_ports(self.data_dir, self.ports)
        try:
            with self.console.status("starting redis-server…"):
                self.redis = RedisServer(self.data_dir / "redis", port=self.ports["redis"])
                self.redis.start()
            self.console.print(f"[green]✓[/] redis-server on {self.redis.url} (AOF on)")
            with self.console.status("starting Postgres…"):
                pg.port = self.ports["postgres"]
                self.postgres = pg
                pg.start()
            self.console.print(f"[green]✓[/] Postgres on 127.0.0.1:{pg.port} ({pg.pgdata})")
        except MissingBinary as exc:
            raise UserError(str(exc)) from None

    def _start_children(self) -> None:
        settings = self.settings
        env = child_env(
            {
                "RUNTALLY_REDIS_URL": settings.redis_url,
                "RUNTALLY_DATABASE_URL": settings.database_url,
                "RUNTALLY_DATA_DIR": str(self.data_dir),
            }
        )
        logs = self.data_dir / "logs"
        api = ["api", "--host", "127.0.0.1", "--port", str(self.ports["api"])]
        for name, args in (("ingest", ["ingest"]), ("scheduler", ["scheduler"]), ("api", api)):
            child = Child(name, args, logs / f"{name}.log")
            child.start(env)
            self.children.append(child)
        self.console.print(f"[green]✓[/] started ingest, scheduler, api (logs in {logs})")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        with self.console.status("waiting for the API to be ready…"):
            while True:
                self._raise_if_crashed()
                with contextlib.suppress(OSError, ValueError):
                    http_json(f"{self.api_url}/readyz", timeout=1.0)
                    return
                if time.monotonic() > deadline:
                    raise UserError(f"API not ready after {READY_TIMEOUT_S:g}s; see its log")
                time.sleep(0.2)

    def _raise_if_crashed(self) -> None:
        for child in self.children:
            code = child.exit_code()
            if code is not None:
                tail = child.log_tail(3).replace("\n", " | ")
                raise UserError(f"{child.name} exited with code {code}: {tail}")

    # ------------------------------------------------------------------ running
    async def serve(self) -> int:
        """Run until a signal, ``--duration`` or a crashed child; then drain."""
        stop = asyncio.Event()
        install_stop_signals(stop)
        if self.options.duration is not None:
            asyncio.get_running_loop().call_later(self.options.duration, stop.set)
        fleet_stop = asyncio.Event()
        fleet = None
        if self.options.demo:
            self.outcome.fleet = FleetStats()
            fleet = asyncio.create_task(self._fleet(fleet_stop))
            report.print_fleet(self.console, self.options.agents, self.options.rate)
        report.print_running(self.console, self.options.duration)
        await self._watch(stop)
        fleet_stop.set()
        if fleet is not None:
            with contextlib.suppress(Exception):
                await fleet
        await self._drain()
        self.outcome.summary = await asyncio.to_thread(self._fetch_summary)
        return 1 if self.outcome.crashed else 0

    async def _fleet(self, stop: asyncio.Event) -> None:
        await simulate_until_stopped(
            self.settings,
            agents=self.options.agents,
            rate=self.options.rate,
            duration=None,
            project=PROJECT,
            stop=stop,
            stats=self.outcome.fleet,
        )

    async def _watch(self, stop: asyncio.Event) -> None:
        next_progress = time.monotonic() + PROGRESS_EVERY_S / 2
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            for child in self.children:
                if child.exit_code() is not None and not stop.is_set():
                    self.outcome.crashed = child.name
                    report.print_crash(self.console, child)
                    stop.set()
            if time.monotonic() >= next_progress and not stop.is_set():
                next_progress += PROGRESS_EVERY_S
                summary = await asyncio.to_thread(self._fetch_summary)
                report.print_progress(self.console, summary, self.outcome.fleet)
        report.print_stopping(self.console)

    def _fetch_summary(self) -> dict[str, Any] | None:
        try:
            summary: dict[str, Any] = http_json(f"{self.api_url}/v1/summary", self.key)
        except (OSError, ValueError):
            return None
        return summary

    async def _drain(self) -> None:
        """Wait (bounded) until ingest has stored and acknowledged every stream entry."""
        settings = self.settings
        client = aioredis.Redis.from_url(settings.redis_url)
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        try:
            while True:
                left = await backlog(client, settings)
                self.outcome.undrained = left
                if left == 0 or time.monotonic() > deadline or self.outcome.crashed:
                    return
                await asyncio.sleep(0.2)
        except aioredis.RedisError:
            return
        finally:
            await client.aclose()

    # ------------------------------------------------------------------ shutdown
    def stop(self) -> None:
        """Children first (SIGTERM, grace, SIGKILL), then Redis and Postgres."""
        if self.children:
            grace = self.settings.shutdown_grace_s + 5
            with self.console.status("stopping ingest, scheduler, api…"):
                self.outcome.exit_codes = stop_all(self.children, grace)
            self.children = []
        if self.redis is not None:
            with self.console.status("stopping redis-server…"):
                self.redis.stop()
            self.redis = None
        if self.postgres is not None:
            with self.console.status("stopping Postgres…"):
                self.outcome.postgres_stopped = stop_postgres(self.postgres)
            self.postgres = None


def stop_postgres(server: PostgresServer) -> bool:
    """Stop Postgres and check it really stopped (its pid file is gone).

    A fast shutdown that did not happen is retried once as an immediate one (crash-safe:
    WAL replay on the next start), so ``runtally dev`` never leaves a server behind.
    """
    pid_file = server.pgdata / "postmaster.pid"
    for mode in ("fast", "immediate"):
        server.stop(mode)
        if not pid_file.exists():
            return True
    return False


async def backlog(client: aioredis.Redis, settings: Settings) -> int:
    """Entries not yet stored: the group's lag plus its pending (unacknowledged) entries."""
    try:
        groups = await client.xinfo_groups(settings.stream)
    except aioredis.ResponseError:
        return 0  # no stream yet: nothing was published
    for group in groups:
        name = group["name"]
        if (name.decode() if isinstance(name, bytes) else name) == settings.group:
            lag = group.get("lag")
            return int(group.get("pending", 0)) + (int(lag) if lag is not None else 0)
    return int(await client.xlen(settings.stream))


def migrate(settings: Settings) -> None:
    """Schema to head and raw partitions for the retention window (as ``runtally migrate``)."""
    from runtally.store.cli import prepare_partitions
    from runtally.store.migrate import upgrade

    upgrade(settings)
    asyncio.run(prepare_partitions(settings))


def ensure_key(settings: Settings, path: Path) -> str:
    """The dev API key kept in ``path`` when still valid, else a new one (saved there).

    Keeping it means the dashboard's stored key keeps working across restarts.
    """
    from runtally.api.keys import create_key, verify_key
    from runtally.store.engine import connect

    old = ""
    with contextlib.suppress(OSError):
        old = path.read_text().strip()

    async def run() -> str:
        conn = await connect(settings)
        try:
            if old and await verify_key(conn, old) == PROJECT:
                return old
            _, key = await create_key(conn, PROJECT, "runtally dev")
            return key
        finally:
            await conn.close()

    key = asyncio.run(run())
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_dev(options: DevOptions) -> int:
    """Run the stack until stopped; the exit code (0 = clean stop)."""
    console = Console(highlight=False)
    stack = DevStack(options, console)
    # SIGTERM during start-up unwinds like Ctrl-C, through the same clean stop below.
    signal.signal(signal.SIGTERM, _interrupt)
    code = 1
    try:
        stack.start()
        code = asyncio.run(stack.serve())
    except KeyboardInterrupt:
        console.print("[yellow]interrupted during start-up[/]")
        code = 130
    finally:
        # Shutdown is bounded (grace, then SIGKILL): further signals must not cut it short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if code == 0 and not stack.outcome.postgres_stopped:
        code = 1  # a server left behind is not a clean stop
    report.print_summary(console, stack, code)
    return code
