"""Nearest ancestors of a given kind, following parent ids within one trace (pure)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from runtally.otel.model import Node


class Ancestry:
    """For each node, the nearest ancestor whose kind is in ``kinds``.

    The walk stops at a parent that is not among ``nodes`` (it never arrived, or was
    decided earlier): such a node has no known ancestor of that kind. Results are
    memoised per span, so a trace costs about one walk per span.
    """

    def __init__(self, nodes: Mapping[str, Node], kinds: Collection[str]) -> None:
        self._nodes = nodes
        self._kinds = kinds
        self._memo: dict[str, str] = {}

    def above(self, node: Node) -> str:
        """Span id of the nearest such ancestor of ``node`` (``""``: none known)."""
        path: list[str] = []
        parent = node.parent_id
        found = ""
        while parent and parent not in path:  # a cycle in bad input ends the walk
            if parent in self._memo:
                found = self._memo[parent]
                break
            up = self._nodes.get(parent)
            if up is None:
                break
            if up.kind in self._kinds:
                found = parent
                break
            path.append(parent)
            parent = up.parent_id
        for span_id in path:
            self._memo[span_id] = found
        return found
