"""The processes of one ``runtally dev`` run: start them in order, stop them in order.

Start-up: private redis-server (AOF on) and Postgres from local binaries under
``<data_dir>`` (ports kept in ``ports.json``), schema migration and partitions, then
``runtally ingest``, ``runtally scheduler`` and ``runtally api`` as child processes; wait
for ``/readyz``; print an API key and the dashboard URL. Every step first checks the
stop request, so a Ctrl-C during start-up takes the same stop path as a later one.

Stop (``DevStack.stop``, safe at any point): children (SIGTERM, grace, SIGKILL), then
Redis, then Postgres, each printed when done.
"""

from __future__ import annotations

import asyncio
import time

from rich.console import Console

from runtally.config import Settings
from runtally.devstack import report
from runtally.devstack.access import ensure_key, is_ready
from runtally.devstack.children import Child, child_env, stop_all
from runtally.devstack.leftovers import stop_postgres, stop_stale_postgres, stop_stale_redis
from runtally.devstack.options import DevOptions, Outcome
from runtally.devstack.ports import choose_ports, load_ports, save_ports
from runtally.devstack.servers import MissingBinary, PostgresServer, RedisServer
from runtally.devstack.shutdown import Shutdown
from runtally.errors import UserError

KEY_FILE = "dev-key"
READY_TIMEOUT_S = 90.0
CHILDREN = ("ingest", "scheduler", "api")


def migrate(settings: Settings) -> None:
    """Schema to head and raw partitions for the retention window (as ``runtally migrate``)."""
    from runtally.store.cli import prepare_partitions
    from runtally.store.migrate import upgrade

    upgrade(settings)
    asyncio.run(prepare_partitions(settings))


class DevStack:
    """Servers and child processes of one run; ``outcome`` collects what to report."""

    def __init__(self, options: DevOptions, console: Console, shutdown: Shutdown) -> None:
        self.options = options
        self.console = console
        self.shutdown = shutdown
        self.data_dir = options.data_dir.resolve()
        self.redis: RedisServer | None = None
        self.postgres: PostgresServer | None = None
        self.children: list[Child] = []
        self.key = ""
        self.outcome = Outcome(self.data_dir)

    @property
    def ports(self) -> dict[str, int]:
        return self.outcome.ports

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

    def start(self) -> bool:
        """Bring everything up; False when a stop was requested on the way.

        Raises ``UserError`` with one clear line on failure.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        steps = (
            self._choose_ports, self._start_redis, self._start_postgres, self._migrate,
            self._start_children, self._wait_ready, self._make_key,
        )  # fmt: skip
        for step in steps:
            if self.shutdown.requested:
                return False
            try:
                step()
            except Exception:
                # A signal sent to the whole process group can also hit a child we were
                # spawning (it is in our group until it calls setsid): that is the stop.
                if self.shutdown.requested:
                    return False
                raise
        report.print_access(self.console, self.api_url, self.key)
        return True

    def _choose_ports(self) -> None:
        saved = load_ports(self.data_dir)
        if "redis" in saved:
            stop_stale_redis(saved["redis"], self.data_dir / "redis")
        stop_stale_postgres(PostgresServer(self.data_dir / "postgres"))
        requested = {} if self.options.api_port is None else {"api": self.options.api_port}
        try:
            self.outcome.ports = choose_ports(saved, requested)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        save_ports(self.data_dir, self.ports)

    def _start_redis(self) -> None:
        with self.console.status("starting redis-server…"):
            self.redis = RedisServer(self.data_dir / "redis", port=self.ports["redis"])
            _start(self.redis)
        self.console.print(f"[green]✓[/] redis-server on {self.redis.url} (AOF on)")

    def _start_postgres(self) -> None:
        pg = PostgresServer(self.data_dir / "postgres", port=self.ports["postgres"])
        with self.console.status("starting Postgres…"):
            self.postgres = pg
            _start(pg)
        self.console.print(f"[green]✓[/] Postgres on 127.0.0.1:{pg.port} ({pg.pgdata})")

    def _migrate(self) -> None:
        with self.console.status("migrating the schema…"):
            migrate(self.settings)
        self.console.print("[green]✓[/] schema at head, partitions ready")

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
        for name, args in zip(CHILDREN, (["ingest"], ["scheduler"], api), strict=True):
            child = Child(name, args, logs / f"{name}.log")
            child.start(env)
            self.children.append(child)
        self.console.print(f"[green]✓[/] started ingest, scheduler, api (logs in {logs})")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        with self.console.status("waiting for the API to be ready…"):
            while not is_ready(self.api_url):
                self.raise_if_crashed()
                if time.monotonic() > deadline:
                    raise UserError(f"API not ready after {READY_TIMEOUT_S:g}s; see its log")
                if self.shutdown.wait(0.2):
                    return

    def _make_key(self) -> None:
        self.key = ensure_key(self.settings, self.data_dir / KEY_FILE)

    def crashed(self) -> Child | None:
        """The first child that exited by itself, if any."""
        return next((child for child in self.children if child.exit_code() is not None), None)

    def raise_if_crashed(self) -> None:
        child = self.crashed()
        if child is not None:
            tail = child.log_tail(3).replace("\n", " | ")
            raise UserError(f"{child.name} exited with code {child.exit_code()}: {tail}")

    def stop(self) -> None:
        """Children first (SIGTERM, grace, SIGKILL), then Redis, then Postgres."""
        if self.children:
            grace = self.settings.shutdown_grace_s + 5  # children imply both servers
            with self.console.status("stopping ingest, scheduler, api…"):
                self.outcome.exit_codes = stop_all(self.children, grace)
            self.children = []
            report.print_step(self.console, "stopped ingest, scheduler, api")
        if self.redis is not None:
            with self.console.status("stopping redis-server…"):
                self.redis.stop()
            self.redis = None
            report.print_step(self.console, "stopped redis-server")
        if self.postgres is not None:
            with self.console.status("stopping Postgres…"):
                self.outcome.postgres_stopped = stop_postgres(self.postgres)
            self.postgres = None
            report.print_step(self.console, "stopped Postgres")


def _start(server: RedisServer | PostgresServer) -> None:
    try:
        server.start()
    except MissingBinary as exc:
        raise UserError(str(exc)) from None
