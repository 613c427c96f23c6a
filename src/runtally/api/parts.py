"""Parts of an aggregate answer: ``(GroupKey, Tally)`` pairs, and how they are merged.

Every source of an answer (daily and hourly rollup rows, trimmed hours, raw rows) yields
parts; a route folds them by the key it answers with (``fold``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

from runtally.cube import GroupKey
from runtally.tally import Tally

K = TypeVar("K", bound=Hashable)
Part = tuple[GroupKey, Tally]


def fold(parts: Iterable[Part], key: Callable[[GroupKey], K | None]) -> dict[K, Tally]:
    """Merge parts by ``key(group)``; parts whose key is ``None`` are left out.

    Parts are never modified. A key with a single part maps to that part itself (most
    buckets of a series have one): treat the result as read-only.
    """
    groups: dict[K, list[Tally]] = {}
    for group, tally in parts:
        k = key(group)
        if k is not None:
            groups.setdefault(k, []).append(tally)
    return {k: found[0] if len(found) == 1 else Tally.merged(found) for k, found in groups.items()}
