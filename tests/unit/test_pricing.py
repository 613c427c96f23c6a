"""Price table: name matching, exact costs computed by hand, prices file override."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from runtally.config import Settings
from runtally.errors import UserError
from runtally.events import RunEvent
from runtally.pricing import (
    Dated,
    ModelPrice,
    PriceHistory,
    PriceTable,
    builtin_price_table,
    candidates,
    load_price_table,
)

TABLE = builtin_price_table()


@pytest.mark.parametrize(
    ("name", "key"),
    [
        # exact and case
        ("gpt-4o", "gpt-4o"),
        ("GPT-4o", "gpt-4o"),
        ("  gpt-4o-mini ", "gpt-4o-mini"),
        # OpenAI dated snapshots: the most specific entry wins
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
        ("gpt-5-mini-2025-08-07", "gpt-5-mini"),
        ("gpt-5-chat-latest", "gpt-5-chat"),
        ("chatgpt-4o-latest", "chatgpt-4o"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("o4-mini-2025-04-16", "o4-mini"),
        ("o1-preview-2024-09-12", "o1"),
        ("gpt-4-0613", "gpt-4"),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
        ("gpt-3.5-turbo-instruct", "gpt-3.5-turbo-instruct"),
        ("gpt-4-turbo-2024-04-09", "gpt-4-turbo"),
        ("gpt-4-1106-preview", "gpt-4-1106-preview"),
        # provider prefixes and routers
        ("openai/gpt-4o", "gpt-4o"),
        ("azure/gpt-4.1-mini", "gpt-4.1-mini"),
        ("openrouter/openai/gpt-oss-120b", "gpt-oss-120b"),
        ("gpt-oss:20b", "gpt-oss-20b"),
        ("deepseek/deepseek-chat", "deepseek-chat"),
        # Anthropic, Bedrock and Vertex spellings
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        ("anthropic/claude-3.5-sonnet", "claude-3-5-sonnet"),
        ("us.anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet"),
        ("anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku"),
        ("bedrock/anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet"),
        ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"),
        ("vertex_ai/claude-3-5-haiku@20241022", "claude-3-5-haiku"),
        ("claude-3-7-sonnet-latest", "claude-3-7-sonnet"),
        ("anthropic/claude-3.7-sonnet:thinking", "claude-3-7-sonnet"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet"),
        # Google
        ("models/gemini-1.5-pro-002", "gemini-1.5-pro"),
        ("gemini-1.5-flash-8b", "gemini-1.5-flash-8b"),
        ("publishers/google/models/gemini-1.5-flash-8b", "gemini-1.5-flash-8b"),
        ("google/gemini-2.5-pro", "gemini-2.5-pro"),
        ("vertex_ai/gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("gemini-2.0-flash-lite-001", "gemini-2.0-flash-lite"),
        ("gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
        ("gemini-2.5-flash-preview-09-2025", "gemini-2.5-flash"),
        ("gemini-2.5-flash-lite-preview-06-17", "gemini-2.5-flash-lite"),
        ("gemini-2.5-pro-exp-03-25", "gemini-2.5-pro"),
        ("gemini-1.5-pro-latest", "gemini-1.5-pro"),
        # open models
        ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b"),
        ("meta-llama/Meta-Llama-3.1-405B-Instruct", "llama-3.1-405b"),
        ("meta.llama3-1-70b-instruct-v1:0", "llama-3.1-70b"),
        ("llama3.1:70b", "llama-3.1-70b"),
        ("llama-3.3-70b-instruct", "llama-3.3-70b"),
        ("mistral-large-latest", "mistral-large"),
        ("mistral-large-2411", "mistral-large"),
        ("mistral.mistral-large-2407-v1:0", "mistral-large"),
        ("mistral/mistral-small-2503", "mistral-small"),
        ("codestral-2501", "codestral"),
    ],
)
def test_model_names_match_their_entry(name: str, key: str) -> None:
    price = TABLE.lookup(name)
    assert price is not None, name
    assert price.key == key


@pytest.mark.parametrize(
    "name",
    [
        "my-finetune",
        "ft:gpt-4o-mini-2024-07-18:acme::abc123",  # fine-tunes have their own prices
        "gpt-4o-audio-preview",  # audio models are priced differently
        "gpt-4o-mini-tts",
        "amazon.nova-pro-v1:0",
        "claude",
        "gemini",
        "2024-08-06",
        "",
        "-latest",
    ],
)
def test_unknown_models_have_no_price(name: str) -> None:
    assert TABLE.lookup(name) is None


def test_candidates_strip_one_suffix_at_a_time() -> None:
    assert candidates("us.anthropic.claude-3-5-sonnet-20241022-v2:0") == [
        "claude-3-5-sonnet-20241022-v2:0",
        "claude-3-5-sonnet-20241022",
        "claude-3-5-sonnet",
    ]
    assert candidates("gpt-4o-mini") == ["gpt-4o-mini"]


def test_builtin_table_is_versioned_and_complete() -> None:
    assert TABLE.version.startswith("2026-11-01+")
    for key in ("gpt-4o", "gpt-4.1", "o3", "o4-mini", "gpt-5", "claude-3-5-sonnet",
                "claude-sonnet-4", "claude-opus-4", "claude-3-5-haiku", "gemini-1.5-pro",
                "gemini-2.0-flash", "gemini-2.5-pro", "gemini-2.5-flash", "llama-3.1-70b",
                "mistral-large"):  # fmt: skip
        assert key in TABLE.models
    for history in TABLE.models.values():
        price = history.single
        assert price is not None  # the built-in table has one undated price per model
        assert price.input >= 0
        assert price.output >= 0
        # every entry matches itself through normalisation too
        assert TABLE._match(history.key) is history


def test_prices_are_exact_decimals() -> None:
    price = TABLE.models["gpt-4o-mini"].single
    assert price is not None
    assert price.input == Decimal("0.15")
    assert price.cache_read == Decimal("0.075")


def event(model: str = "gpt-4o", **fields: Any) -> RunEvent:
    return RunEvent(
        event_id=uuid4(),
        agent="a",
        model=model,
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        duration_ms=10.0,
        **fields,
    )


# Costs computed by hand from the built-in prices (USD per 1M tokens).
@pytest.mark.parametrize(
    ("model", "tokens", "expected"),
    [
        # gpt-4o: input 2.5, cache_read 1.25, output 10
        ("gpt-4o", {"input_tokens": 1000, "output_tokens": 500}, "0.0075"),
        # 1000 input of which 400 cached: 600*2.5 + 400*1.25 + 200*10 = 4000 -> 0.004
        ("gpt-4o-2024-08-06",
         {"input_tokens": 1000, "cache_read_tokens": 400, "output_tokens": 200}, "0.004"),
        # gpt-4o has no cache-write price: written tokens bill as input
        # 500*2.5 + 500*2.5 + 0 = 2500 -> 0.0025
        ("gpt-4o", {"input_tokens": 1000, "cache_write_tokens": 500}, "0.0025"),
        # claude-3-5-sonnet: input 3, read 0.3, write 3.75, output 15
        # uncached 1000-600-300=100: 100*3 + 600*0.3 + 300*3.75 + 50*15
        #   = 300 + 180 + 1125 + 750 = 2355 -> 0.002355
        ("claude-3-5-sonnet-20241022",
         {"input_tokens": 1000, "cache_read_tokens": 600, "cache_write_tokens": 300,
          "output_tokens": 50}, "0.002355"),
        # output only
        ("claude-opus-4", {"output_tokens": 1}, "0.000075"),
        # input only, tiny price: 1 token of gpt-5-nano = 0.05e-6
        ("gpt-5-nano", {"input_tokens": 1}, "0.00000005"),
        # 1 cached read token of gpt-5-nano = 0.005e-6 = 5e-9
        ("gpt-5-nano", {"input_tokens": 1, "cache_read_tokens": 1}, "0.000000005"),
        # zero tokens reported is a real, priced zero
        ("gpt-4o", {"input_tokens": 0, "output_tokens": 0}, "0"),
        # big numbers stay exact: 10^9 input of gpt-4.1 (2.0) + 10^9 output (8.0)
        ("gpt-4.1", {"input_tokens": 10**9, "output_tokens": 10**9}, "10000"),
    ],
)  # fmt: skip
def test_cost_by_hand(model: str, tokens: dict[str, int], expected: str) -> None:
    cost, version = TABLE.cost(event(model, **tokens))
    assert cost == Decimal(expected)
    assert version == TABLE.version
    assert cost is not None
    assert cost.as_tuple().exponent == -12


def test_unknown_model_costs_none_not_zero() -> None:
    cost, version = TABLE.cost(event("my-own-model", input_tokens=10, output_tokens=10))
    assert cost is None
    assert version == TABLE.version


def test_no_tokens_costs_none() -> None:
    assert TABLE.cost(event("gpt-4o"))[0] is None


def test_cost_quantized_to_12_places() -> None:
    price = ModelPrice("m", Decimal("0.0000001"), Decimal("0.3333333333333"))
    # 1 * 0.3333333333333 / 1e6 = 3.333333333333e-7 -> 12 places
    assert price.cost(0, 1) == Decimal("0.000000333333")


def test_ambiguous_loose_names_match_nothing() -> None:
    table = PriceTable(
        "v",
        {
            "m-1.5": PriceHistory(
                "m-1.5", (Dated(None, ModelPrice("m-1.5", Decimal(1), Decimal(1))),)
            ),
            "m-15": PriceHistory(
                "m-15", (Dated(None, ModelPrice("m-15", Decimal(2), Decimal(2))),)
            ),
        },
    )
    assert table.lookup("m-1.5") is table.models["m-1.5"]
    assert table.lookup("m-15") is table.models["m-15"]
    assert table.lookup("m.1.5") is None


# --- prices file ------------------------------------------------------------------------


def write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_prices_file_replaces_builtin_table(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '{"version": "acme-7", "models": {"house-model": '
        '{"input": 0.1, "output": 0.3, "cache_read": null}}}',
    )
    table = load_price_table(Settings(prices_file=path))
    assert table.version.startswith("acme-7+")
    assert table.lookup("gpt-4o") is None  # replaced, not merged
    cost, version = table.cost(event("house-model-2025-01-01", input_tokens=10, output_tokens=10))
    assert cost == Decimal("0.000004")  # (10*0.1 + 10*0.3) / 1e6, exact despite binary floats
    assert version == table.version


def test_no_prices_file_means_builtin() -> None:
    assert load_price_table(Settings(prices_file=None)).version == TABLE.version


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "top level must be a JSON object"),
        ({"models": {"m": {"input": 1, "output": 1}}}, '"version" must be'),
        ({"version": "", "models": {"m": {"input": 1, "output": 1}}}, '"version" must be'),
        ({"version": "v", "models": {}}, '"models" must be a non-empty object'),
        ({"version": "v", "models": []}, '"models" must be a non-empty object'),
        ({"version": "v", "currency": "EUR", "models": {"m": {"input": 1, "output": 1}}},
         '"currency" must be "USD"'),
        ({"version": "v", "unit": "per_1k_tokens", "models": {"m": {"input": 1, "output": 1}}},
         '"unit" must be "per_1m_tokens"'),
        ({"version": "v", "modles": {}}, "unknown top-level field(s) modles"),
        ({"version": "v", "models": {"m": {"input": 1}}}, "models.m.output is required"),
        ({"version": "v", "models": {"m": {"input": -1, "output": 1}}},
         "models.m.input must be a number >= 0"),
        ({"version": "v", "models": {"m": {"input": "1", "output": 1}}},
         "models.m.input must be a number >= 0"),
        ({"version": "v", "models": {"m": {"input": True, "output": 1}}},
         "models.m.input must be a number >= 0"),
        ({"version": "v", "models": {"m": {"input": 1, "output": None}}},
         "models.m.output must be a number >= 0"),
        ({"version": "v", "models": {"m": {"input": 1, "output": 1, "cached": 1}}},
         "models.m has unknown field(s) cached"),
        ({"version": "v", "models": {"m": 3}}, "models.m must be an object"),
        ('{"version": "v", "models": {"m": {"input": NaN, "output": 1}}}', "NaN is not a price"),
    ],
)  # fmt: skip
def test_bad_prices_file_is_a_one_line_user_error(
    tmp_path: Path, content: Any, reason: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(UserError) as info:
        load_price_table(Settings(prices_file=path))
    message = str(info.value)
    assert reason in message
    assert str(path) in message
    assert "\n" not in message


def test_missing_prices_file_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(UserError, match=r"cannot read prices file .*nope\.json"):
        load_price_table(Settings(prices_file=path))
