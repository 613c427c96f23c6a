"""Usage, model, identity and error extraction from span attributes (tables)."""

from __future__ import annotations

from typing import Any

import pytest

from runtally.otel import attributes
from runtally.otel.model import Usage

USAGE: list[tuple[dict[str, Any], Usage]] = [
    # OTel GenAI, current names; input includes the cached parts
    (
        {
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 50,
            "gen_ai.usage.cache_read.input_tokens": 600,
            "gen_ai.usage.cache_creation.input_tokens": 100,
        },
        Usage(1000, 50, 600, 100),
    ),
    # deprecated GenAI names
    ({"gen_ai.usage.prompt_tokens": 30, "gen_ai.usage.completion_tokens": 7}, Usage(30, 7)),
    # OpenInference
    (
        {
            "llm.token_count.prompt": 80,
            "llm.token_count.completion": 15,
            "llm.token_count.total": 95,
            "llm.token_count.prompt_details.cache_read": 40,
            "llm.token_count.prompt_details.cache_write": 20,
        },
        Usage(80, 15, 40, 20),
    ),
    # OpenLLMetry
    (
        {
            "gen_ai.usage.prompt_tokens": 500,
            "gen_ai.usage.completion_tokens": 20,
            "gen_ai.usage.cache_read_input_tokens": 300,
            "gen_ai.usage.cache_creation_input_tokens": 100,
            "llm.usage.total_tokens": 520,
        },
        Usage(500, 20, 300, 100),
    ),
    ({"llm.usage.prompt_tokens": 9, "llm.usage.cache_read_input_tokens": 4}, Usage(9, None, 4)),
    # a count under two names is read once (the first name wins)
    ({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.prompt_tokens": 10}, Usage(10)),
    # cache parts beyond the input: input was reported without them (Anthropic style)
    (
        {
            "gen_ai.usage.input_tokens": 20,
            "gen_ai.usage.output_tokens": 5,
            "gen_ai.usage.cache_read.input_tokens": 900,
            "gen_ai.usage.cache_creation.input_tokens": 80,
        },
        Usage(1000, 5, 900, 80),
    ),
    ({"gen_ai.usage.cache_read.input_tokens": 12}, Usage(12, None, 12)),
    # unknown usage keys never count
    (
        {
            "gen_ai.usage.reasoning.output_tokens": 99,
            "gen_ai.usage.total_tokens": 99,
            "gen_ai.usage.audio.input_tokens": 99,
            "llm.token_count.total": 99,
        },
        Usage(),
    ),
    # values: JSON int64 text and integral doubles count; others do not
    ({"gen_ai.usage.input_tokens": "42", "gen_ai.usage.output_tokens": 3.0}, Usage(42, 3)),
    ({"gen_ai.usage.input_tokens": -1, "gen_ai.usage.output_tokens": 2.5}, Usage()),
    ({"gen_ai.usage.input_tokens": True, "gen_ai.usage.output_tokens": "x"}, Usage()),
    ({"gen_ai.usage.input_tokens": -1, "gen_ai.usage.prompt_tokens": 8}, Usage(8)),
]


@pytest.mark.parametrize(("attrs", "expected"), USAGE)
def test_usage(attrs: dict[str, Any], expected: Usage) -> None:
    assert attributes.usage(attrs) == expected


MODELS: list[tuple[dict[str, Any], str]] = [
    ({"gen_ai.response.model": "gpt-4o-0806", "gen_ai.request.model": "gpt-4o"}, "gpt-4o-0806"),
    ({"gen_ai.request.model": "gpt-4o"}, "gpt-4o"),
    ({"llm.model_name": "claude-sonnet-4"}, "claude-sonnet-4"),
    ({"embedding.model_name": "text-embedding-3-small"}, "text-embedding-3-small"),
    ({"gen_ai.response.model": "", "llm.model_name": "m"}, "m"),
    ({}, ""),
]  # fmt: skip


@pytest.mark.parametrize(("attrs", "model"), MODELS)
def test_model(attrs: dict[str, Any], model: str) -> None:
    assert attributes.model(attrs) == model


IDENTITY: list[tuple[dict[str, Any], str, str]] = [
    ({"user.id": "u1", "session.id": "s1"}, "u1", "s1"),
    ({"enduser.id": "u2", "gen_ai.conversation.id": "c2"}, "u2", "c2"),
    ({"gen_ai.conversation.id": "c3", "session.id": "s3"}, "", "c3"),
    (
        {
            "traceloop.association.properties.user_id": "u4",
            "traceloop.association.properties.session_id": "s4",
        },
        "u4",
        "s4",
    ),
    ({}, "", ""),
]


@pytest.mark.parametrize(("attrs", "user", "session"), IDENTITY)
def test_user_and_session(attrs: dict[str, Any], user: str, session: str) -> None:
    assert (attributes.user_id(attrs), attributes.session_id(attrs)) == (user, session)


EXC = {"exception.type": "TimeoutError", "exception.message": "read timed out"}
ERRORS: list[tuple[bool, dict[str, Any], str, list[dict[str, Any]], tuple[str, str]]] = [
    (False, {"error.type": "X"}, "msg", [EXC], ("", "")),
    (True, {"error.type": "RateLimit"}, "429 seen", [EXC], ("RateLimit", "429 seen")),
    (True, {}, "", [EXC, {"exception.type": "Other"}], ("TimeoutError", "read timed out")),
    (True, {}, "status says", [EXC], ("TimeoutError", "status says")),
    (True, {}, "", [], ("error", "")),
    (True, {}, "boom", [], ("error", "boom")),
]  # fmt: skip


@pytest.mark.parametrize(("failed", "attrs", "message", "exceptions", "expected"), ERRORS)
def test_error(
    failed: bool,
    attrs: dict[str, Any],
    message: str,
    exceptions: list[dict[str, Any]],
    expected: tuple[str, str],
) -> None:
    assert attributes.error(failed, attrs, message, exceptions) == expected
