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
    """Merge parts by ``key(group)``; parts whose key is ``None`` are left out."""
    out: dict[K, Tally] = {}
    for group, tally in parts:
        k = key(group)
        if k is None:
            continue
        if k in out:
            out[k].merge(tally)
        else:
            out[k] = Tally.merged([tally])  # a copy: parts stay untouched
    return out
