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
publishes one event with a UUIDv7 ``event_id`` when the run ends.

The event JSON is built directly (no pydantic in the hot path) and kept valid by cheap
checks: a bad value given to ``usage``/``set`` is logged and ignored, so telemetry never
breaks the agent and every run is still counted. Tests prove the output valid with
``runtally.events.parse_event``.

Without a ``publisher=`` argument the module default is used: ``configure(...)`` sets it,
else it is made on first use from ``RUNTALLY_*`` settings (a ``SyncPublisher``).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import logging
import math
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar, cast

from runtally.ids import uuid7
from runtally.limits import (
    MAX_COST_USD,
    MAX_ERROR_MESSAGE,
    MAX_IDENT,
    MAX_METADATA_BYTES,
    MAX_NAME,
    MAX_TAG_KEY,
    MAX_TAG_VALUE,
    MAX_TAGS,
    MAX_TOKENS,
    NUL,
    NUL_REASON,
    PROJECT_PATTERN,
)

log = logging.getLogger("runtally.track")

P = ParamSpec("P")
R = TypeVar("R")

_PROJECT = re.compile(PROJECT_PATTERN)
_OPTIONS = ("project", "user_id", "session_id", "trace_id", "tags", "metadata")
_NO_OPTIONS = (None,) * len(_OPTIONS)
_TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")

# One encoder for every run: json.dumps with non-default arguments builds a new one per call.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

_current: contextvars.ContextVar[Run | None] = contextvars.ContextVar("runtally_run", default=None)


class InvalidValue(ValueError):
    """A value that would make the event invalid; logged and ignored by ``track``."""


# --- cheap validators (mirror runtally.events.RunEvent; tests check they agree) ---------


def _no_nul(field: str, text: str) -> str:
    if NUL in text:
        raise InvalidValue(f"{field} {NUL_REASON}")
    return text


def _name(field: str, value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_NAME:
        raise InvalidValue(f"{field} must be a string of 1-{MAX_NAME} chars, got {value!r:.80}")
    return _no_nul(field, value)


def _ident(field: str, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_IDENT:
        raise InvalidValue(f"{field} must be a string of 1-{MAX_IDENT} chars, got {value!r:.80}")
    return _no_nul(field, value)


def _project(field: str, value: Any) -> str:
    if not isinstance(value, str) or not _PROJECT.match(value):
        raise InvalidValue(f"{field} must match [A-Za-z0-9_.-]{{1,64}}, got {value!r:.80}")
    return value


def _tokens(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOKENS:
        raise InvalidValue(f"{field} must be an int in 0..{MAX_TOKENS}, got {value!r:.80}")
    return value


def _number(field: str, value: Any, limit: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InvalidValue(f"{field} must be a number, got {value!r:.80}")
    number = float(value)
    if not math.isfinite(number) or not 0 <= number <= limit:
        raise InvalidValue(f"{field} must be a finite number in 0..{limit:g}, got {value}")
    return number


def _ttft(field: str, value: Any) -> float:
    return _number(field, value, math.inf)


def _cost(field: str, value: Any) -> float:
    return _number(field, value, MAX_COST_USD)


def _tags(field: str, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or len(value) > MAX_TAGS:
        raise InvalidValue(f"{field} must be a mapping of at most {MAX_TAGS} entries")
    tags = {str(k): str(v) for k, v in value.items()}
    for key, item in tags.items():
        if not 1 <= len(key) <= MAX_TAG_KEY or len(item) > MAX_TAG_VALUE:
            raise InvalidValue(
                f"tag {key!r:.80}: keys are 1-{MAX_TAG_KEY} chars, values <= {MAX_TAG_VALUE}"
            )
        _no_nul(f"tag {key!r:.80}", key + item)
    return tags


def _metadata(field: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidValue(f"{field} must be a mapping")
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidValue(f"{field} is not JSON: {exc}") from None
    if len(text.encode()) > MAX_METADATA_BYTES:
        raise InvalidValue(f"{field} is over {MAX_METADATA_BYTES} bytes serialized")
    _no_nul(field, text.replace("\\u0000", NUL))
    return dict(value)


_SETTERS: dict[str, Callable[[str, Any], Any]] = {
    "agent": _name,
    "model": _name,
    "project": _project,
    "trace_id": _ident,
    "session_id": _ident,
    "user_id": _ident,
    "cost_usd": _cost,
    "time_to_first_token_ms": _ttft,
    "tags": _tags,
    "metadata": _metadata,
}


def _checked(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validated wire fields; bad values are logged and left out, ``None`` means unset."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        setter = _SETTERS.get(key)
        if setter is None:
            raise TypeError(f"unknown run field {key!r}; allowed: {', '.join(_SETTERS)}")
        if value is None:
            continue
        try:
            out[key] = setter(key, value)
        except InvalidValue as exc:
            log.warning("runtally: ignoring %s", exc)
    return out


# --- the run -----------------------------------------------------------------------------


class Run:
    """One tracked run. Attach usage, ids and cost while it runs; published at the end."""

    __slots__ = ("_base", "_error", "_fields", "_t0", "_token", "_usage", "event_id")

    def __init__(self, base: dict[str, Any]) -> None:
        self.event_id = uuid7()
        self._base = base
        self._fields: dict[str, Any] = {}
        self._usage: dict[str, int] = {}
        self._error: tuple[str, str | None] | None = None
        self._token: contextvars.Token[Run | None] | None = None
        self._t0 = time.perf_counter()
        self._fields["started_at"] = datetime.now(UTC).isoformat()

    def usage(
        self,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        *,
        input_includes_cache: bool = True,
    ) -> Run:
        """Add token counts of one model call (call once per call; counts accumulate).

        ``input_tokens`` includes cached tokens (OpenAI, OpenTelemetry GenAI). Pass
        ``input_includes_cache=False`` when it does not (Anthropic's ``input_tokens``
        excludes ``cache_read_input_tokens``/``cache_creation_input_tokens``).
        """
        values = (input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)
        try:
            for key, value in zip(_TOKEN_FIELDS, values, strict=True):
                if value is not None:
                    _tokens(key, value)
        except InvalidValue as exc:
            log.warning("runtally: ignoring usage: %s", exc)
            return self
        cached = (cache_read_tokens or 0) + (cache_write_tokens or 0)
        if not input_includes_cache:
            if cached or input_tokens is not None:
                input_tokens = (input_tokens or 0) + cached
        elif cached > (input_tokens or 0):
            log.warning(
                "runtally: ignoring usage: cache tokens (%d) exceed input_tokens (%s); input "
                "includes cached tokens, or pass input_includes_cache=False",
                cached, input_tokens,
            )  # fmt: skip
            return self
        totals = self._usage
        for key, value in zip(_TOKEN_FIELDS, (input_tokens, *values[1:]), strict=True):
            if value is not None:
                totals[key] = min(totals.get(key, 0) + value, MAX_TOKENS)
        return self

    def set(self, **fields: Any) -> Run:
        """Set ``model``, ``agent``, ``project``, ids, ``cost_usd``, ``time_to_first_token_ms``,
        ``tags`` or ``metadata``. An unknown name is a ``TypeError``; a bad value is ignored
        (and logged) so the run is still counted."""
        self._fields.update(_checked(fields))
        return self

    def first_token(self) -> None:
        """Mark the first token now: sets ``time_to_first_token_ms`` (first call wins)."""
        if "time_to_first_token_ms" not in self._fields:
            self._fields["time_to_first_token_ms"] = (time.perf_counter() - self._t0) * 1000

    def fail(self, error_type: str, message: str | None = None) -> None:
        """Record the run as failed without an exception (e.g. the agent gave up)."""
        self._error = (_printable(error_type[:MAX_NAME]) or "Error", message)

    @property
    def elapsed_ms(self) -> float:
        """Milliseconds since the run started."""
        return (time.perf_counter() - self._t0) * 1000

    def finish(self, exc: BaseException | None = None) -> str:
        """The wire JSON of this run, ended now (``exc``: the exception that ended it)."""
        duration = (time.perf_counter() - self._t0) * 1000
        data: dict[str, Any] = {
            "event_id": self.event_id,
            **self._base,
            **self._fields,
            "duration_ms": duration,
        }
        ttft = data.get("time_to_first_token_ms")
        if ttft is not None and ttft > duration:
            data["time_to_first_token_ms"] = duration  # measured on another clock
        if exc is not None:
            self._error = (type(exc).__name__[:MAX_NAME], _message(exc))
        if self._error is not None:
            data["status"] = "error"
            data["error_type"] = self._error[0]
            if self._error[1]:
                data["error_message"] = _printable(self._error[1][:MAX_ERROR_MESSAGE])
        if self._usage:
            data.update(self._usage)
            _check_cache(data)
        return _encode(data)


def _printable(text: str) -> str:
    """Free text with NUL replaced (a message must not cost the run its record)."""
    return text.replace(NUL, "\ufffd")


def _message(exc: BaseException) -> str | None:
    try:
        return str(exc)[:MAX_ERROR_MESSAGE] or None
    except Exception:  # a broken __str__ must not break the agent
        return None


def _check_cache(data: dict[str, Any]) -> None:
    """Accumulated usage may have cache > input if calls mixed conventions: drop the split."""
    cached = data.get("cache_read_tokens", 0) + data.get("cache_write_tokens", 0)
    if cached > data.get("input_tokens", 0):
        log.warning("runtally: cache tokens exceed input tokens in total; dropping the split")
        data.pop("cache_read_tokens", None)
        data.pop("cache_write_tokens", None)


def current_run() -> Run | None:
    """The run being tracked in this context (inside ``with track(...)`` or a decorated call)."""
    return _current.get()


# --- the default publisher ----------------------------------------------------------------

_default_lock = threading.Lock()
_default_publisher: Any = None
_default_project: str | None = None


def configure(
    redis_url: str | None = None,
    stream: str | None = None,
    *,
    project: str | None = None,
    publisher: Any = None,
    **options: Any,
) -> Any:
    """Set the publisher ``track`` uses by default; returns it.

    ``publisher`` is used as is; otherwise a ``SyncPublisher`` to ``redis_url`` /
    ``stream`` (defaults: ``RUNTALLY_REDIS_URL`` / ``RUNTALLY_STREAM``) with ``options``
    (``max_buffer``, ``on_full``...). ``project`` becomes the default project of runs.
    A previously configured default is closed (flushed) first.
    """
    global _default_publisher, _default_project
    if project is not None:
        _project("project", project)
    if publisher is None:
        publisher = _make_default(redis_url, stream, options)
    with _default_lock:
        old, _default_publisher = _default_publisher, publisher
        _default_project = project
    if old is not None and old is not publisher and hasattr(old, "close"):
        old.close()
    return publisher


def _make_default(redis_url: str | None, stream: str | None, options: dict[str, Any]) -> Any:
    from runtally.config import Settings
    from runtally.publisher import SyncPublisher

    settings = Settings()
    return SyncPublisher(
        redis_url or settings.redis_url,
        stream=stream or settings.stream,
        backoff_max_s=settings.retry_backoff_max_s,
        **options,
    )


def default_publisher() -> Any:
    """The configured default publisher, made from settings on first use."""
    global _default_publisher
    with _default_lock:
        if _default_publisher is None:
            _default_publisher = _make_default(None, None, {})
        return _default_publisher


# --- track ---------------------------------------------------------------------------------


class Tracker:
    """What ``track(...)`` returns: a (sync or async) context manager and a decorator."""

    __slots__ = ("_base", "_publisher")

    def __init__(self, base: dict[str, Any], publisher: Any) -> None:
        self._base = base
        self._publisher = publisher

    def _start(self) -> Run:
        base = self._base
        if "project" not in base and _default_project is not None:
            base = {**base, "project": _default_project}
        run = Run(base)
        run._token = _current.set(run)
        return run

    @staticmethod
    def _end(exc: BaseException | None) -> tuple[Run, str]:
        run = _current.get()
        assert run is not None, "track() exit without enter"
        assert run._token is not None
        _current.reset(run._token)
        return run, run.finish(exc)

    def _sink(self) -> Any:
        return self._publisher if self._publisher is not None else default_publisher()

    def __enter__(self) -> Run:
        return self._start()

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        _run, payload = self._end(exc)
        sink = self._sink()
        publish = getattr(sink, "publish_nowait", None) or sink.publish
        _deliver(lambda: publish(payload), failing=exc is not None)

    async def __aenter__(self) -> Run:
        return self._start()

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        _run, payload = self._end(exc)
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
    publisher: Any = None,
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
        base.update(_checked(dict(zip(_OPTIONS, optional, strict=True))))
    return Tracker(base, publisher)
