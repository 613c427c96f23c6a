"""runtally: tally every LLM-agent run.

The SDK surface is importable from here and loaded lazily, so ``import runtally`` stays
cheap (no Redis client or pydantic until used)::

    from runtally import track, configure
    configure(redis_url="redis://localhost:6379/0")      # optional; else RUNTALLY_* env
    with track("support-bot", "gpt-4o") as run:
        run.usage(input_tokens=1200, output_tokens=300)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "track": "runtally.tracking",
    "Run": "runtally.tracking",
    "Tracker": "runtally.tracking",
    "current_run": "runtally.tracking",
    "configure": "runtally.tracking",
    "default_publisher": "runtally.tracking",
    "Publisher": "runtally.publisher",
    "SyncPublisher": "runtally.publisher",
    "PublishError": "runtally.publisher",
    "RunEvent": "runtally.events",
    "parse_event": "runtally.events",
}

__all__ = [
    "PublishError",
    "Publisher",
    "Run",
    "RunEvent",
    "SyncPublisher",
    "Tracker",
    "configure",
    "current_run",
    "default_publisher",
    "parse_event",
    "track",
]

if TYPE_CHECKING:
    from runtally.events import RunEvent, parse_event
    from runtally.publisher import Publisher, PublishError, SyncPublisher
    from runtally.tracking import (
        Run,
        Tracker,
        configure,
        current_run,
        default_publisher,
        track,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runtally' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value
