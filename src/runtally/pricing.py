"""Price table: the cost of a run from its token counts (pure; no I/O but loading).

Prices are USD per 1M tokens for four kinds of tokens: input, cache read, cache write,
output. The built-in table (``prices.json`` in this package) is replaced wholesale by
``settings.prices_file`` (same shape) when set.

Model names match exactly first, then after normalising the spellings providers use for
the same model: case, provider prefixes (``openai/``, ``models/``, Bedrock's
``us.anthropic.``), date or version suffixes (``-2024-08-06``, ``-20241022``,
``@20240620``, ``-latest``, ``-v2:0``, ``-preview-05-20``, ``-002``) and punctuation
(``claude-3.5-sonnet`` = ``claude-3-5-sonnet``, ``llama3.1:70b`` = ``llama-3.1-70b``).
Suffixes are stripped one at a time and every intermediate name is tried, so the most
specific entry wins (``gpt-4o-mini-2024-07-18`` is ``gpt-4o-mini``, never ``gpt-4o``).
An unknown model has no price: its cost is ``None`` (stored NULL, counted as unpriced),
never a silent $0.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from runtally.errors import UserError

if TYPE_CHECKING:
    from runtally.config import Settings
    from runtally.events import RunEvent

PER_TOKENS = Decimal(1_000_000)
# agent_runs.cost_usd is numeric(24,12).
COST_QUANTUM = Decimal("1e-12")
PRICE_FIELDS = ("input", "cache_read", "cache_write", "output")
REQUIRED_PRICES = ("input", "output")
_LOOKUP_CACHE_MAX = 10_000

# Everything up to the last "/" is a provider or route: openai/, openrouter/anthropic/,
# models/, publishers/google/models/, meta-llama/.
_PATH_PREFIX = re.compile(r"^.*/")
# Bedrock model ids: optional cross-region prefix, then the vendor.
_BEDROCK_PREFIX = re.compile(
    r"^(?:(?:us|eu|apac|ap|ca|jp|au|us-gov|global)\.)?"
    r"(?:anthropic|meta|mistral|amazon|cohere|ai21|deepseek|openai|google|qwen|writer)\."
)
# Hugging Face style "Meta-Llama-3.1-8B-Instruct".
_META_PREFIX = re.compile(r"^meta-(?=llama)")
# One suffix at a time, matched at the end of the name.
_SUFFIXES = (
    re.compile(r"-v\d+(?::\d+)?$"),  # Bedrock -v1:0, Vertex claude-3-5-sonnet-v2
    re.compile(r":\d+$"),  # Bedrock :0
    re.compile(r":(?:thinking|beta)$"),  # OpenRouter variants billed like the model
    re.compile(r"@\d{8}$"),  # Vertex @20240620
    re.compile(r"@latest$"),
    re.compile(r"-\d{4}-\d{2}-\d{2}$"),  # OpenAI -2024-08-06
    re.compile(r"-\d{8}$"),  # Anthropic -20241022
    re.compile(r"-(?:preview|exp)-\d{2}-\d{2}(?:\d{2})?$"),  # Gemini -preview-05-20, -09-2025
    re.compile(r"-(?:latest|preview|exp|instruct)$"),
    re.compile(r"-\d{4}$"),  # OpenAI -0613, Mistral -2411
    re.compile(r"-\d{3}$"),  # Gemini -002
)
_LOOSE = re.compile(r"[-._:\s]+")


@dataclass(frozen=True)
class ModelPrice:
    """Prices of one model in USD per 1M tokens; ``key`` is its entry in the table.

    A missing cache price (``None``) means the provider bills those tokens as input.
    """

    key: str
    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    # (input, output, cache read, cache write) in micro-USD per 1M tokens = 1e-12 USD per
    # token, the cost quantum: integer arithmetic is then exact and needs no rounding.
    # None when some price has more than 6 decimal places (then Decimal arithmetic).
    _micro: tuple[int, int, int, int] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        scaled = [_micro_units(price) for price in self._per_token()]
        micro = None
        if None not in scaled:
            micro = cast(tuple[int, int, int, int], tuple(scaled))
        object.__setattr__(self, "_micro", micro)

    def cost(
        self, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0
    ) -> Decimal:
        """Exact cost; ``input_tokens`` includes the cached ones (OpenTelemetry GenAI)."""
        uncached = input_tokens - cache_read - cache_write
        if uncached < 0:  # not max(): a builtin call per event for a rare case
            uncached = 0
        micro = self._micro
        if micro is not None:  # the common case: one int sum per event, no Decimal context
            per_input, per_output, per_read, per_write = micro
            total = (
                uncached * per_input
                + output_tokens * per_output
                + cache_read * per_read
                + cache_write * per_write
            )
            # From text: exact whatever the coefficient's size or the thread's context.
            return Decimal(f"{total}E-12")
        return self._decimal_cost(uncached, output_tokens, cache_read, cache_write)

    def _per_token(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(input, output, cache read, cache write) prices; cached tokens without their
        own price cost as input."""
        read_price = self.input if self.cache_read is None else self.cache_read
        write_price = self.input if self.cache_write is None else self.cache_write
        return self.input, self.output, read_price, write_price

    def _decimal_cost(
        self, uncached: int, output_tokens: int, cache_read: int, cache_write: int
    ) -> Decimal:
        input_price, output_price, read_price, write_price = self._per_token()
        with localcontext() as ctx:
            ctx.prec = 60  # exact for any token count the event schema allows
            total = (
                uncached * input_price
                + cache_read * read_price
                + cache_write * write_price
                + output_tokens * output_price
            ) / PER_TOKENS
            return total.quantize(COST_QUANTUM)


def _micro_units(price: Decimal) -> int | None:
    """``price`` × 10**6 as an int when that is exact (and ``price`` >= 0), else ``None``.

    Read from the digits: no Decimal arithmetic, so no context precision can round it.
    """
    sign, digits, exponent = price.as_tuple()
    if sign or not isinstance(exponent, int):
        return None
    coefficient = int("".join(map(str, digits)))
    shift = exponent + 6
    if shift >= 0:
        return int(coefficient * 10**shift)
    unit = int(10**-shift)
    return coefficient // unit if coefficient % unit == 0 else None


def normalize(name: str) -> str:
    """Lowercase, trimmed, without provider/route prefixes."""
    text = name.strip().lower()
    text = _PATH_PREFIX.sub("", text)
    text = _BEDROCK_PREFIX.sub("", text)
    return _META_PREFIX.sub("", text)


def loose(name: str) -> str:
    """``name`` without punctuation: ``claude-3.5-sonnet`` and ``claude-3-5-sonnet`` agree."""
    return _LOOSE.sub("", name)


def candidates(name: str) -> list[str]:
    """The normalised name, then each shorter form with one more suffix stripped."""
    current = normalize(name)
    found = [current]
    while True:
        for pattern in _SUFFIXES:
            shorter = pattern.sub("", current)
            if shorter != current and shorter:
                current = shorter
                found.append(current)
                break
        else:
            return found


@dataclass
class PriceTable:
    """A versioned table of model prices; ``lookup`` and ``cost`` never raise."""

    version: str
    models: dict[str, ModelPrice]
    _by_lower: dict[str, ModelPrice] = field(init=False, repr=False)
    _by_loose: dict[str, ModelPrice] = field(init=False, repr=False)
    _cache: dict[str, ModelPrice | None] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._by_lower = {key.lower(): price for key, price in self.models.items()}
        self._by_loose = {}
        ambiguous: set[str] = set()
        for key, price in self.models.items():
            squashed = loose(key.lower())
            if squashed in self._by_loose and self._by_loose[squashed] != price:
                ambiguous.add(squashed)
            self._by_loose[squashed] = price
        # Two entries that differ only by punctuation: the loose form names neither.
        for squashed in ambiguous:
            del self._by_loose[squashed]

    def lookup(self, model: str) -> ModelPrice | None:
        """The price entry for ``model``, or ``None`` when the table does not know it."""
        exact = self.models.get(model)
        if exact is not None:
            return exact
        if model in self._cache:
            return self._cache[model]
        found = self._match(model)
        if len(self._cache) < _LOOKUP_CACHE_MAX:
            self._cache[model] = found
        return found

    def _match(self, model: str) -> ModelPrice | None:
        for name in candidates(model):
            price = self._by_lower.get(name) or self._by_loose.get(loose(name))
            if price is not None:
                return price
        return None

    def cost(self, event: RunEvent) -> tuple[Decimal | None, str | None]:
        """(cost in USD or ``None`` when unpriced, this table's version).

        Unpriced: the model is unknown, or the event has neither input nor output
        tokens (nothing to price; $0 would claim a cost we do not know). The version
        is returned either way: it tells which table was consulted.
        """
        input_tokens, output_tokens = event.input_tokens, event.output_tokens
        if input_tokens is None and output_tokens is None:
            return None, self.version
        model = event.model
        # The exact name first, inline: most events name a model as the table spells it.
        price = self.models.get(model) or self.lookup(model)
        if price is None:
            return None, self.version
        value = price.cost(
            input_tokens or 0,
            output_tokens or 0,
            event.cache_read_tokens or 0,
            event.cache_write_tokens or 0,
        )
        return value, self.version


# --- loading ---------------------------------------------------------------------------


class PriceFileError(ValueError):
    """The price document is malformed; the message says where and why."""


def _price_value(model: str, kind: str, value: Any) -> Decimal | None:
    if value is None and kind not in REQUIRED_PRICES:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise PriceFileError(f"models.{model}.{kind} must be a number >= 0, got {value!r}")
    number = Decimal(value)
    if not number.is_finite() or number < 0:
        raise PriceFileError(f"models.{model}.{kind} must be a number >= 0, got {value}")
    return number


def _model_price(key: str, entry: Any) -> ModelPrice:
    if not key.strip():
        raise PriceFileError("model names must not be empty")
    if not isinstance(entry, dict):
        raise PriceFileError(f"models.{key} must be an object of prices")
    unknown = sorted(set(entry) - set(PRICE_FIELDS))
    if unknown:
        raise PriceFileError(
            f"models.{key} has unknown field(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(PRICE_FIELDS)}"
        )
    for kind in REQUIRED_PRICES:
        if kind not in entry:
            raise PriceFileError(f"models.{key}.{kind} is required")
    values = {kind: _price_value(key, kind, entry.get(kind)) for kind in PRICE_FIELDS}
    input_price, output_price = values["input"], values["output"]
    assert input_price is not None
    assert output_price is not None
    return ModelPrice(key, input_price, output_price, values["cache_read"], values["cache_write"])


def _check_header(document: Any) -> str:
    if not isinstance(document, dict):
        raise PriceFileError("the top level must be a JSON object")
    unknown = sorted(set(document) - {"version", "currency", "unit", "models"})
    if unknown:
        raise PriceFileError(f"unknown top-level field(s) {', '.join(unknown)}")
    version = document.get("version")
    if not isinstance(version, str) or not version.strip() or len(version) > 64:
        raise PriceFileError('"version" must be a non-empty string of at most 64 chars')
    if document.get("currency", "USD") != "USD":
        raise PriceFileError('"currency" must be "USD"')
    if document.get("unit", "per_1m_tokens") != "per_1m_tokens":
        raise PriceFileError('"unit" must be "per_1m_tokens"')
    return version


def price_table_from_document(document: Any) -> PriceTable:
    """Validate a parsed price document (floats parsed as ``Decimal``) into a table."""
    version = _check_header(document)
    models = document.get("models")
    if not isinstance(models, dict) or not models:
        raise PriceFileError('"models" must be a non-empty object')
    return PriceTable(version, {key: _model_price(key, entry) for key, entry in models.items()})


def parse_price_document(text: str | bytes) -> PriceTable:
    """Parse price JSON exactly (no binary floats). Raises ``PriceFileError``."""
    try:
        document = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PriceFileError(f"not valid JSON: {exc}") from None
    return price_table_from_document(document)


def _reject_constant(name: str) -> Any:
    raise PriceFileError(f"{name} is not a price")


def builtin_price_table() -> PriceTable:
    """The table shipped with runtally."""
    text = resources.files("runtally").joinpath("prices.json").read_text(encoding="utf-8")
    return parse_price_document(text)


def load_price_table(settings: Settings) -> PriceTable:
    """``settings.prices_file`` when set (it replaces the built-in table), else built-in.

    A file that cannot be read or is malformed raises ``UserError`` with a one-line
    reason: ingest must not start pricing with a table the operator did not intend.
    """
    path: Path | None = settings.prices_file
    if path is None:
        return builtin_price_table()
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read prices file {path}: {exc.strerror or exc}") from None
    try:
        return parse_price_document(text)
    except PriceFileError as exc:
        raise UserError(f"bad prices file {path}: {exc}") from None
