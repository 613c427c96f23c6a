"""Ports of the dev stack: stable across restarts, with a fallback when one is taken.

The first start picks fixed defaults (so bookmarks and ``redis-cli -p`` habits keep
working); when a default is taken by something else, a free port is used instead. The
choice is saved in ``<data_dir>/ports.json`` and preferred by the next start.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Callable
from pathlib import Path

from runtally.devstack.servers import free_port

DEFAULTS = {"redis": 16379, "postgres": 15432, "api": 8000}
PORTS_FILE = "ports.json"


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:port can be bound right now."""
    with socket.socket() as sock:
        # As the servers themselves bind (SO_REUSEADDR): a port whose last connections are
        # in TIME_WAIT after a restart is free for them, so it is free for us too.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def load_ports(data_dir: Path) -> dict[str, int]:
    """The ports saved by the last start; empty when none (or the file is unreadable)."""
    with contextlib.suppress(OSError, ValueError):
        saved = json.loads((data_dir / PORTS_FILE).read_text())
        if isinstance(saved, dict):
            return {k: v for k, v in saved.items() if k in DEFAULTS and isinstance(v, int)}
    return {}


def save_ports(data_dir: Path, ports: dict[str, int]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / PORTS_FILE).write_text(json.dumps(ports, indent=2, sort_keys=True) + "\n")


def choose_ports(
    saved: dict[str, int],
    requested: dict[str, int],
    is_free: Callable[[int], bool] = port_is_free,
    fallback: Callable[[], int] = free_port,
) -> dict[str, int]:
    """One port per service: requested (must be free), else saved, else default, else any.

    Raises ``ValueError`` naming the service when a requested port is taken.
    """
    chosen: dict[str, int] = {}
    for name, default in DEFAULTS.items():
        if name in requested:
            if not is_free(requested[name]):
                raise ValueError(f"{name} port {requested[name]} is already in use")
            chosen[name] = requested[name]
            continue
        candidates = [saved.get(name), default]
        port = next(
            (p for p in candidates if p is not None and p not in chosen.values() and is_free(p)),
            None,
        )
        chosen[name] = port if port is not None else fallback()
    return chosen
