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
    "track": "runtally.sdk.track",
    "Tracker": "runtally.sdk.track",
    "Run": "runtally.sdk.run",
    "current_run": "runtally.sdk.run",
    "configure": "runtally.sdk.defaults",
    "default_publisher": "runtally.sdk.defaults",
    "Publisher": "runtally.sdk.publisher",
    "PublisherOptions": "runtally.sdk.options",
    "SyncPublisher": "runtally.sdk.sync",
    "PublishError": "runtally.sdk.notices",
    "RunEvent": "runtally.events",
    "parse_event": "runtally.events",
}

__all__ = [
    "PublishError",
    "Publisher",
    "PublisherOptions",
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
    from runtally.sdk.defaults import configure, default_publisher
    from runtally.sdk.notices import PublishError
    from runtally.sdk.options import PublisherOptions
    from runtally.sdk.publisher import Publisher
    from runtally.sdk.run import Run, current_run
    from runtally.sdk.sync import SyncPublisher
    from runtally.sdk.track import Tracker, track


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runtally' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value
