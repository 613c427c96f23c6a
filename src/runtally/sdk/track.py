"""``track()``: time one agent run and publish it as a run event (wire format v1).

``track`` works as a context manager (``with`` / ``async with``) and as a decorator of
sync and async functions::

    with track("support-bot", "gpt-4o", user_id=user) as run:
        reply = llm(...)
        run.usage(input_tokens=..., output_tokens=..., cache_read_tokens=...)

    @track("triage", "claude-sonnet-4")
    async def triage(ticket): ...            # current_run() inside gives the run

It records the wall-clock start, the duration (``perf_counter``), success, or the type
of the exception as ``error_type`` (the exception is re-raised, never swallowed), and
publishes one event with a UUIDv7 ``event_id`` when the run ends. A bad value given to
``usage``/``set`` is logged and ignored, so telemetry never breaks the agent and every
run is still counted. Tests prove the output valid with ``runtally.events.parse_event``.

Without a ``publisher=`` argument the default of ``runtally.sdk.defaults`` is used.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ParamSpec, TypeVar, cast

from runtally.limits import MAX_NAME
from runtally.sdk.checks import checked
from runtally.sdk.defaults import DEFAULTS, Sink, default_publisher
from runtally.sdk.run import Run, enter_run, exit_run

log = logging.getLogger("runtally.track")

P = ParamSpec("P")
R = TypeVar("R")

_OPTIONS = ("project", "user_id", "session_id", "trace_id", "tags", "metadata")
_NO_OPTIONS = (None,) * len(_OPTIONS)


class Tracker:
    """What ``track(...)`` returns: a (sync or async) context manager and a decorator."""

    __slots__ = ("_base", "_publisher")

    def __init__(self, base: dict[str, Any], publisher: Sink | None) -> None:
        self._base = base
        self._publisher = publisher

    def _start(self) -> Run:
        base = self._base
        project = DEFAULTS.project
        if project is not None and "project" not in base:
            base = {**base, "project": project}
        return enter_run(base)

    def _sink(self) -> Sink:
        return self._publisher if self._publisher is not None else default_publisher()

    def __enter__(self) -> Run:
        return self._start()

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        payload = exit_run(exc)
        sink = self._sink()
        publish = getattr(sink, "publish_nowait", None) or sink.publish
        _deliver(lambda: publish(payload), failing=exc is not None)

    async def __aenter__(self) -> Run:
        return self._start()

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        payload = exit_run(exc)
        sink = self._sink()
        publish = getattr(sink, "apublish", None) or sink.publish
        try:
            result = publish(payload)
            if inspect.isawaitable(result):
                await result
        except Exception:
            if exc is None:
                raise  # the publisher was configured to raise
            log.exception("runtally: could not publish the run of a failed call")

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        """Decorate ``func`` (sync or async): every call is one tracked run."""
        if inspect.iscoroutinefunction(func):
            async_func = cast(Callable[P, Awaitable[Any]], func)

            @functools.wraps(func)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                async with self:
                    return await async_func(*args, **kwargs)

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with self:
                return func(*args, **kwargs)

        return wrapper


def _deliver(send: Callable[[], object], failing: bool) -> None:
    """Publish; when the run itself failed, never mask its exception with ours."""
    try:
        send()
    except Exception:
        if not failing:
            raise  # the publisher was configured to raise
        log.exception("runtally: could not publish the run of a failed call")


def track(
    agent: str,
    model: str,
    *,
    publisher: Sink | None = None,
    project: str | None = None,
    user_id: str | int | None = None,
    session_id: str | None = None,
    trace_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Tracker:
    """Track one agent run (context manager) or every call of a function (decorator).

    ``publisher``: a ``Publisher``/``SyncPublisher`` (or anything with ``publish``);
    default: the one set by ``configure()``. Invalid ``agent``/``model`` are replaced by
    ``"unknown"`` (logged) so the run is still counted.
    """
    base: dict[str, Any] = {"agent": agent, "model": model}
    for field, value in base.items():
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_NAME:
            log.warning("runtally: %s must be 1-%d chars, got %r; using 'unknown'",
                        field, MAX_NAME, value)  # fmt: skip
            base[field] = "unknown"
    optional = (project, user_id, session_id, trace_id, tags, metadata)
    if optional != _NO_OPTIONS:  # the common bare call skips the checks
        base.update(checked(dict(zip(_OPTIONS, optional, strict=True))))
    return Tracker(base, publisher)
