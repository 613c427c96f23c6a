"""``Run``: one tracked agent run, collecting usage, ids and cost; its wire JSON at the end.

The event JSON is built directly (no pydantic in the hot path) and kept valid by the cheap
checks of ``runtally.sdk.checks``. The run being tracked is kept in a context variable:
``enter_run`` / ``exit_run`` bracket it and ``current_run()`` finds it from inside.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from runtally.ids import uuid7
from runtally.limits import MAX_ERROR_MESSAGE, MAX_NAME, MAX_TOKENS, NUL
from runtally.sdk.checks import InvalidValue, check_tokens, checked

log = logging.getLogger("runtally.track")

_TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")

# One encoder for every run: json.dumps with non-default arguments builds a new one per call.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

_current: contextvars.ContextVar[Run | None] = contextvars.ContextVar("runtally_run", default=None)


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
                    check_tokens(key, value)
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
        self._fields.update(checked(fields))
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


def enter_run(base: dict[str, Any]) -> Run:
    """Start a run with the fields ``base`` and make it the current one."""
    run = Run(base)
    run._token = _current.set(run)
    return run


def exit_run(exc: BaseException | None) -> str:
    """End the current run (``exc``: what ended it), restore the previous one; its JSON."""
    run = _current.get()
    assert run is not None, "track() exit without enter"
    assert run._token is not None
    _current.reset(run._token)
    return run.finish(exc)
