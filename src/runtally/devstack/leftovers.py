"""Servers a killed ``runtally dev`` left behind, and stopping Postgres for sure."""

from __future__ import annotations

import contextlib
from pathlib import Path

import redis

from runtally.devstack.servers import PostgresServer


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


def stop_stale_postgres(server: PostgresServer) -> None:
    """Stop a Postgres of our data folder left running (or its pid file left) by a kill."""
    if (server.pgdata / "postmaster.pid").exists():
        server.stop()


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
