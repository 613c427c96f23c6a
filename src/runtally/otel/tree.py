"""A decided trace's nodes → its runs (pure).

- One run per agent span.
- An LLM call is an LLM span with no LLM span between it and its nearest agent
  ancestor. An LLM span under another LLM span is part of that call (an instrumented
  framework's span over an instrumented client's span reports one call twice): the
  call's usage is its own when it has some, else that of the LLM spans inside it.
- A call belongs to its nearest agent ancestor; a call with no agent ancestor among the
  trace's nodes (or whose ancestry breaks at a span that never arrived) is a run of its
  own: agent ``gen_ai.agent.name`` if set, else its service's name.
- A run's tokens: the agent span's own usage when it has some and no agent span is
  nested under it; otherwise the sum of the calls that belong to it. So every LLM call
  is counted in exactly one run, and an orchestrator never counts a sub-agent's tokens
  again, even when its own usage attribute aggregates them.
- A run's model: among its calls, the model with most tokens (ties: the smallest name);
  else the agent span's own model attribute; else ``unknown``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from runtally.otel.ancestry import Ancestry
from runtally.otel.model import NO_USAGE, Node, Usage

UNKNOWN_MODEL = "unknown"
AGENT = ("agent",)
GENAI = ("agent", "llm")


@dataclass(frozen=True)
class Run:
    """One run to publish: the span it stands for and what it adds up to."""

    span: Node
    agent: str
    model: str
    usage: Usage
    llm_calls: int


def top_model(calls: Sequence[Node]) -> str:
    """The model with most tokens among ``calls`` (``""`` if none names one)."""
    tokens: dict[str, int] = defaultdict(int)
    for call in calls:
        if call.model:
            tokens[call.model] += call.usage.total
    if not tokens:
        return ""
    return min(tokens, key=lambda model: (-tokens[model], model))


def sum_usage(calls: Sequence[Node]) -> Usage:
    total = NO_USAGE
    for call in calls:
        total = total.plus(call.usage)
    return total


def agent_run(agent: Node, calls: Sequence[Node], has_nested: bool) -> Run:
    own = agent.usage.known and not has_nested
    return Run(
        span=agent,
        agent=agent.name,
        model=top_model(calls) or agent.model or UNKNOWN_MODEL,
        usage=agent.usage if own else sum_usage(calls),
        llm_calls=len(calls),
    )


def llm_run(call: Node) -> Run:
    return Run(
        span=call,
        agent=call.name or call.service,
        model=call.model or UNKNOWN_MODEL,
        usage=call.usage,
        llm_calls=1,
    )


class Calls:
    """The LLM calls of a trace: outermost LLM spans, with what nested ones reported."""

    def __init__(self, nodes: Mapping[str, Node]) -> None:
        genai = Ancestry(nodes, GENAI)
        self.inner: dict[str, list[Node]] = defaultdict(list)
        self.outer: list[tuple[Node, str]] = []  # (call, its nearest agent span or "")
        for node in nodes.values():
            if node.kind != "llm":
                continue
            above = genai.above(node)
            if above and nodes[above].kind == "llm":
                self.inner[above].append(node)
            else:
                self.outer.append((node, above))

    def whole(self, call: Node) -> Node:
        """``call`` with the usage (and model) of the LLM spans inside it when it has none."""
        if call.usage.known and call.model:
            return call
        parts = [self.whole(part) for part in self.inner.get(call.span_id, ())]
        usage = call.usage if call.usage.known else sum_usage(parts)
        return replace(call, usage=usage, model=call.model or top_model(parts))


def runs(nodes: Mapping[str, Node]) -> list[Run]:
    """The runs of a trace's ``nodes`` (keyed by span id), agent runs first."""
    agents = [n for n in nodes.values() if n.kind == "agent"]
    agent_above = Ancestry(nodes, AGENT)
    nested = {agent_above.above(a) for a in agents}
    found = Calls(nodes)
    calls: dict[str, list[Node]] = defaultdict(list)
    orphans: list[Node] = []
    for call, agent in found.outer:
        (calls[agent] if agent else orphans).append(found.whole(call))
    owned = [agent_run(a, calls[a.span_id], a.span_id in nested) for a in agents]
    return owned + [llm_run(call) for call in orphans]
