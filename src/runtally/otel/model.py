"""The facts runtally keeps of one span (``Node``) and of one LLM call's usage.

A node is what is staged in Redis while its trace waits to be decided, so it is small:
ancestry (parent id), timing, and for agent and LLM spans what their run needs. The
JSON form uses short keys and leaves out empty values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, Literal

Kind = Literal["agent", "llm", ""]


@dataclass(frozen=True)
class Usage:
    """Token counts of one LLM call or one run; ``None`` = not reported.

    ``input`` includes the cached parts (``cache_read`` and ``cache_write``).
    """

    input: int | None = None
    output: int | None = None
    cache_read: int | None = None
    cache_write: int | None = None

    @property
    def known(self) -> bool:
        return any(v is not None for v in self.as_tuple())

    @property
    def total(self) -> int:
        """Input plus output tokens (what "the model with most tokens" compares)."""
        return (self.input or 0) + (self.output or 0)

    def as_tuple(self) -> tuple[int | None, ...]:
        return (self.input, self.output, self.cache_read, self.cache_write)

    def plus(self, other: Usage) -> Usage:
        """The field-wise sum; a field stays ``None`` only if both are ``None``."""
        pairs = zip(self.as_tuple(), other.as_tuple(), strict=True)
        return Usage(*(None if a is None and b is None else (a or 0) + (b or 0) for a, b in pairs))


NO_USAGE = Usage()


@dataclass(frozen=True)
class Node:
    """One span as runtally needs it (ids are lowercase hex)."""

    span_id: str
    parent_id: str = ""
    kind: Kind = ""
    start_ns: int = 0
    end_ns: int = 0
    name: str = ""  # agent spans: the agent name; LLM spans: gen_ai.agent.name if set
    model: str = ""
    usage: Usage = field(default=NO_USAGE)
    error_type: str = ""  # set exactly when the span's status is ERROR
    error_message: str = ""
    user_id: str = ""
    session_id: str = ""
    service: str = ""
    environment: str = ""
    release: str = ""

    @property
    def is_root(self) -> bool:
        return not self.parent_id


# Short keys keep a staged trace small; one per field of Node.
_KEYS = {
    "span_id": "s", "parent_id": "p", "kind": "k", "start_ns": "t0", "end_ns": "t1",
    "name": "n", "model": "m", "usage": "u", "error_type": "et", "error_message": "em",
    "user_id": "ui", "session_id": "si", "service": "sv", "environment": "env",
    "release": "rel",
}  # fmt: skip
_NAMES = {short: name for name, short in _KEYS.items()}
assert set(_KEYS) == {f.name for f in fields(Node)}, "every Node field needs a short key"


def encode_node(node: Node) -> str:
    """Compact JSON of ``node``; default (empty) values are left out."""
    data: dict[str, Any] = {}
    for name, short in _KEYS.items():
        value = getattr(node, name)
        if isinstance(value, Usage):
            value = list(value.as_tuple()) if value.known else None
        if value:
            data[short] = value
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def decode_node(text: str | bytes) -> Node:
    """The node ``encode_node`` wrote (``ValueError``/``TypeError`` on anything else)."""
    data = json.loads(text)
    values = {_NAMES[short]: value for short, value in data.items()}
    if "usage" in values:
        values["usage"] = Usage(*values["usage"])
    return Node(**values)
