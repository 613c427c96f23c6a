"""The publisher and project ``track()`` uses when none is given: ``configure`` sets them,
else a ``SyncPublisher`` is made on first use from ``RUNTALLY_*`` settings."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Protocol

from runtally.sdk.checks import check_project
from runtally.sdk.options import PublisherOptions


class Sink(Protocol):
    """Where ``track()`` sends a finished run's wire JSON: a ``Publisher``, a
    ``SyncPublisher``, or anything with ``publish`` (its result may be awaitable)."""

    def publish(self, event: str, /) -> object: ...


class _Defaults:
    """The module state: read by every ``track()``, written by ``configure``."""

    __slots__ = ("lock", "project", "publisher")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.publisher: Sink | None = None
        self.project: str | None = None


DEFAULTS = _Defaults()


def configure(
    redis_url: str | None = None,
    stream: str | None = None,
    *,
    project: str | None = None,
    publisher: Sink | None = None,
    options: PublisherOptions | None = None,
) -> Sink:
    """Set the publisher ``track`` uses by default; returns it.

    ``publisher`` is used as is; otherwise a ``SyncPublisher`` to ``redis_url`` (default
    ``RUNTALLY_REDIS_URL``) with ``options`` (default: from ``RUNTALLY_*`` settings), its
    stream replaced by ``stream`` when given. ``project`` becomes the default project of
    runs. A previously configured default is closed (flushed) first.
    """
    if project is not None:
        check_project("project", project)
    if publisher is None:
        publisher = _make_default(redis_url, stream, options)
    with DEFAULTS.lock:
        old, DEFAULTS.publisher = DEFAULTS.publisher, publisher
        DEFAULTS.project = project
    close = getattr(old, "close", None)
    if old is not publisher and callable(close):
        close()
    return publisher


def _make_default(
    redis_url: str | None, stream: str | None, options: PublisherOptions | None
) -> Sink:
    from runtally.config import Settings
    from runtally.sdk.sync import SyncPublisher  # the Redis client loads on first use only

    settings = Settings()
    options = options or PublisherOptions.from_settings(settings)
    if stream:
        options = replace(options, stream=stream)
    return SyncPublisher(redis_url or settings.redis_url, options)


def default_publisher() -> Sink:
    """The configured default publisher, made from settings on first use."""
    with DEFAULTS.lock:
        if DEFAULTS.publisher is None:
            DEFAULTS.publisher = _make_default(None, None, None)
        return DEFAULTS.publisher
