"""Reading usage, model, identity and error facts out of span attributes (pure).

Token attributes, by field (the first present key of each list wins, so a span that
reports a count under two vocabularies is counted once):

- input: ``gen_ai.usage.input_tokens``, the deprecated ``gen_ai.usage.prompt_tokens``,
  OpenInference ``llm.token_count.prompt``, old OpenLLMetry ``llm.usage.prompt_tokens``;
- output: ``gen_ai.usage.output_tokens``, ``gen_ai.usage.completion_tokens``,
  ``llm.token_count.completion``, ``llm.usage.completion_tokens``;
- cache read: ``gen_ai.usage.cache_read.input_tokens``, OpenLLMetry's
  ``gen_ai.usage.cache_read_input_tokens`` / ``llm.usage.cache_read_input_tokens``,
  OpenInference ``llm.token_count.prompt_details.cache_read``;
- cache write: ``gen_ai.usage.cache_creation.input_tokens``, OpenLLMetry's
  ``gen_ai.usage.cache_creation_input_tokens``,
  ``llm.token_count.prompt_details.cache_write``.

No other key is ever added into a total (``llm.token_count.total``, reasoning tokens
and unknown ``*_tokens`` keys are ignored). Input includes the cached parts, as the
conventions say; a span whose cache parts exceed its input reported input without them
(as Anthropic's API does), so they are added to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runtally.otel.model import Usage

INPUT_KEYS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "llm.usage.prompt_tokens",
)
OUTPUT_KEYS = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
)
CACHE_READ_KEYS = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
)
CACHE_WRITE_KEYS = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.token_count.prompt_details.cache_write",
)
MODEL_KEYS = (
    "gen_ai.response.model",
    "gen_ai.request.model",
    "llm.model_name",
    "embedding.model_name",
    "llm.response.model",
    "llm.request.model",
)
USER_KEYS = ("user.id", "enduser.id", "traceloop.association.properties.user_id")
SESSION_KEYS = (
    "gen_ai.conversation.id",
    "session.id",
    "traceloop.association.properties.session_id",
)
ERROR_TYPE = "error.type"


def _count(value: Any) -> int | None:
    """A token count: a non-negative integer (JSON may carry it as text or as 12.0)."""
    if isinstance(value, bool):
        return None
    integral = isinstance(value, float) and value.is_integer()
    if integral or (isinstance(value, str) and value.isdigit()):
        value = int(value)
    return value if isinstance(value, int) and value >= 0 else None


def _first_count(attrs: Mapping[str, Any], keys: Sequence[str]) -> int | None:
    for key in keys:
        count = _count(attrs.get(key))
        if count is not None:
            return count
    return None


def first_text(attrs: Mapping[str, Any], keys: Sequence[str]) -> str:
    """The first non-empty string among ``keys`` (``""`` if none)."""
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def usage(attrs: Mapping[str, Any]) -> Usage:
    """The token usage the attributes report (all ``None`` when they report none)."""
    found = Usage(
        _first_count(attrs, INPUT_KEYS),
        _first_count(attrs, OUTPUT_KEYS),
        _first_count(attrs, CACHE_READ_KEYS),
        _first_count(attrs, CACHE_WRITE_KEYS),
    )
    cached = (found.cache_read or 0) + (found.cache_write or 0)
    if found.input is not None and cached > found.input:
        return Usage(found.input + cached, found.output, found.cache_read, found.cache_write)
    if found.input is None and cached:
        return Usage(cached, found.output, found.cache_read, found.cache_write)
    return found


def model(attrs: Mapping[str, Any]) -> str:
    """Response model, else request model, else the vocabulary's model attribute."""
    return first_text(attrs, MODEL_KEYS)


def user_id(attrs: Mapping[str, Any]) -> str:
    return first_text(attrs, USER_KEYS)


def session_id(attrs: Mapping[str, Any]) -> str:
    return first_text(attrs, SESSION_KEYS)


def error(
    failed: bool, attrs: Mapping[str, Any], status_message: str, exceptions: Sequence[Any]
) -> tuple[str, str]:
    """(error type, message) of a span; ``("", "")`` unless its status is ERROR.

    Type: ``error.type``, else the first exception event's ``exception.type``, else
    ``"error"``. Message: the status message, else that exception's message.
    ``exceptions`` are the attribute mappings of the span's ``exception`` events.
    """
    if not failed:
        return "", ""
    first: Mapping[str, Any] = exceptions[0] if exceptions else {}
    kind = first_text(attrs, (ERROR_TYPE,)) or first_text(first, ("exception.type",))
    message = status_message or first_text(first, ("exception.message",))
    return kind or "error", message
