"""Cheap checks of the values ``track()`` puts into a run event.

They mirror ``runtally.events.RunEvent`` (tests check they agree) without pydantic in the
hot path. A bad value raises ``InvalidValue``; ``track`` logs it and leaves the field out,
so telemetry never breaks the agent and every run is still counted.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from runtally.limits import (
    MAX_COST_USD,
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

_PROJECT = re.compile(PROJECT_PATTERN)


class InvalidValue(ValueError):
    """A value that would make the event invalid; logged and ignored by ``track``."""


def _no_nul(field: str, text: str) -> str:
    if NUL in text:
        raise InvalidValue(f"{field} {NUL_REASON}")
    return text


def check_name(field: str, value: Any) -> str:
    """``agent`` / ``model``: 1 to ``MAX_NAME`` chars, no NUL."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_NAME:
        raise InvalidValue(f"{field} must be a string of 1-{MAX_NAME} chars, got {value!r:.80}")
    return _no_nul(field, value)


def check_ident(field: str, value: Any) -> str:
    """An id (``user_id``...): text (an int is turned into text) of 1 to ``MAX_IDENT``."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_IDENT:
        raise InvalidValue(f"{field} must be a string of 1-{MAX_IDENT} chars, got {value!r:.80}")
    return _no_nul(field, value)


def check_project(field: str, value: Any) -> str:
    if not isinstance(value, str) or not _PROJECT.match(value):
        raise InvalidValue(f"{field} must match [A-Za-z0-9_.-]{{1,64}}, got {value!r:.80}")
    return value


def check_tokens(field: str, value: Any) -> int:
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


def check_ttft(field: str, value: Any) -> float:
    return _number(field, value, math.inf)


def check_cost(field: str, value: Any) -> float:
    return _number(field, value, MAX_COST_USD)


def check_tags(field: str, value: Any) -> dict[str, str]:
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


def check_metadata(field: str, value: Any) -> dict[str, Any]:
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


SETTERS: dict[str, Callable[[str, Any], Any]] = {
    "agent": check_name,
    "model": check_name,
    "project": check_project,
    "trace_id": check_ident,
    "session_id": check_ident,
    "user_id": check_ident,
    "cost_usd": check_cost,
    "time_to_first_token_ms": check_ttft,
    "tags": check_tags,
    "metadata": check_metadata,
}


def checked(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validated wire fields; bad values are logged and left out, ``None`` means unset.

    An unknown field name is a ``TypeError`` (a programming error, not a bad value).
    """
    out: dict[str, Any] = {}
    for key, value in fields.items():
        setter = SETTERS.get(key)
        if setter is None:
            raise TypeError(f"unknown run field {key!r}; allowed: {', '.join(SETTERS)}")
        if value is None:
            continue
        try:
            out[key] = setter(key, value)
        except InvalidValue as exc:
            log.warning("runtally: ignoring %s", exc)
    return out
