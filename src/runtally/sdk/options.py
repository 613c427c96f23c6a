"""``PublisherOptions``: every knob of a publisher in one frozen value, checked once."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from runtally import constants

if TYPE_CHECKING:
    from runtally.config import Settings

OnFull = Literal["block", "drop"]


@dataclass(frozen=True, slots=True)
class PublisherOptions:
    """How a ``Publisher`` buffers, sends and retries. Bad values raise ``ValueError``.

    - ``stream``: the Redis stream the events are appended to.
    - ``max_buffer``: events accepted and not yet confirmed by Redis, at most.
    - ``batch_size``: events per batch (one Lua script call).
    - ``on_full``: at ``max_buffer``, ``"block"`` makes ``publish`` wait for room (at most
      ``block_timeout_s``; ``None``: as long as it takes), ``"drop"`` refuses the event
      (counted in ``dropped`` and logged).
    - ``raise_on_error``: raise ``PublishError`` into the caller when an event is dropped.
    - ``backoff_initial_s`` / ``backoff_max_s``: retry delays while Redis fails.
    - ``marker_ttl_s``: lifetime of a batch marker, the exactly-once guard of a retry.
    - ``socket_timeout_s``: connect and read timeout of a client made from a URL.
    - ``linger_s``: how long the idle sender lets a burst gather into one batch.
    - ``close_timeout_s``: how long ``SyncPublisher.close`` (and interpreter exit) waits
      to deliver what is buffered.
    """

    stream: str = constants.STREAM
    max_buffer: int = 100_000
    batch_size: int = 500
    on_full: OnFull = "block"
    block_timeout_s: float | None = None
    raise_on_error: bool = False
    backoff_initial_s: float = 0.05
    backoff_max_s: float = 5.0
    marker_ttl_s: int = 86_400
    socket_timeout_s: float = 10.0
    linger_s: float = 0.002
    close_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem:
            raise ValueError(f"PublisherOptions: {problem}")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> PublisherOptions:
        """``settings.stream`` and ``settings.retry_backoff_max_s``; ``overrides`` win."""
        base = cls(stream=settings.stream, backoff_max_s=settings.retry_backoff_max_s)
        return replace(base, **overrides) if overrides else base


def _problem(options: PublisherOptions) -> str | None:
    """What is wrong with ``options``, or None."""
    if options.max_buffer < 1 or options.batch_size < 1:
        return "max_buffer and batch_size must be >= 1"
    if options.on_full not in ("block", "drop"):
        return f"on_full must be 'block' or 'drop', not {options.on_full!r}"
    if not options.stream:
        return "stream must not be empty"
    if options.block_timeout_s is not None and options.block_timeout_s < 0:
        return "block_timeout_s must be >= 0 or None"
    if not 0 < options.backoff_initial_s <= options.backoff_max_s:
        return "backoff_initial_s must be > 0 and <= backoff_max_s"
    if options.marker_ttl_s < 1:
        return "marker_ttl_s must be >= 1"
    if min(options.socket_timeout_s, options.close_timeout_s) <= 0 or options.linger_s < 0:
        return "socket_timeout_s and close_timeout_s must be > 0, linger_s >= 0"
    return None
