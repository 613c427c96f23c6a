"""Model-name normalisation: the spellings providers use for one model (pure).

Names match exactly first, then after normalising: case, provider prefixes (``openai/``,
``models/``, Bedrock's ``us.anthropic.``), date or version suffixes (``-2024-08-06``,
``-20241022``, ``@20240620``, ``-latest``, ``-v2:0``, ``-preview-05-20``, ``-002``) and
punctuation (``claude-3.5-sonnet`` = ``claude-3-5-sonnet``, ``llama3.1:70b`` =
``llama-3.1-70b``). Suffixes are stripped one at a time and every intermediate name is
tried, so the most specific entry wins (``gpt-4o-mini-2024-07-18`` is ``gpt-4o-mini``).
"""

from __future__ import annotations

import re

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
