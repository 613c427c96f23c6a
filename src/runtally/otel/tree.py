"""A decided trace's nodes → its runs (pure).

- One run per agent span.
- An LLM span belongs to its nearest agent ancestor; one with no agent ancestor among
  the trace's nodes (or whose ancestry breaks at a span that never arrived) is a run
  of its own: agent ``gen_ai.agent.name`` if set, else its service's name.
- A run's tokens: the agent span's own usage when it has some and no agent span is
  nested under it; otherwise the sum of the LLM calls that belong to it. So every LLM
  call is counted in exactly one run, and an orchestrator never counts a sub-agent's
  tokens again, even when its own usage attribute aggregates them.
- A run's model: among its LLM calls, the model with most tokens (ties: the smallest
  name); else the agent span's own model attribute; else ``unknown``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from runtally.otel.model import NO_USAGE, Node, Usage

UNKNOWN_MODEL = "unknown"


@dataclass(frozen=True)
class Run:
    """One run to publish: the span it stands for and what it adds up to."""

    span: Node
    agent: str
    model: str
    usage: Usage
    llm_calls: int


class Ancestry:
    """Nearest agent ancestor of each node, following parent ids among ``nodes``."""

    def __init__(self, nodes: Mapping[str, Node]) -> None:
        self._nodes = nodes
        self._memo: dict[str, str] = {}

    def agent_above(self, node: Node) -> str:
        """Span id of the nearest agent span above ``node`` (``""``: none known)."""
        path: list[str] = []
        parent = node.parent_id
        found = ""
        while parent and parent not in path:  # a cycle in bad input ends the walk
            if parent in self._memo:
                found = self._memo[parent]
                break
            above = self._nodes.get(parent)
            if above is None:
                break
            if above.kind == "agent":
                found = parent
                break
            path.append(parent)
            parent = above.parent_id
        for span_id in path:
            self._memo[span_id] = found
        return found


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


def runs(nodes: Mapping[str, Node]) -> list[Run]:
    """The runs of a trace's ``nodes`` (keyed by span id), agent runs first."""
    ancestry = Ancestry(nodes)
    calls: dict[str, list[Node]] = defaultdict(list)
    nested: set[str] = set()
    orphans: list[Node] = []
    for node in nodes.values():
        if not node.kind:
            continue
        above = ancestry.agent_above(node)
        if node.kind == "agent":
            if above:
                nested.add(above)
        elif above:
            calls[above].append(node)
        else:
            orphans.append(node)
    agents = [n for n in nodes.values() if n.kind == "agent"]
    found = [agent_run(a, calls[a.span_id], a.span_id in nested) for a in agents]
    return found + [llm_run(call) for call in orphans]
