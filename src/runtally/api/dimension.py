"""``tag=<key>:<value>`` filters and ``by``/``group_by`` values, parsed (pure).

A bad value raises ``ValueError`` with a message for people that lists the rolled-up
tag keys, so a 422 tells the caller what it can ask for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from runtally.constants import TAG_OTHER
from runtally.limits import MAX_TAG_KEY, MAX_TAG_VALUE

BREAKDOWN_COLUMNS = ("agent", "model", "error_type", "user", "session")
GROUP_COLUMNS = ("agent", "model")
PREFIX = "tag:"


def _keys(rolled: Iterable[str]) -> str:
    return ", ".join(f"`{key}`" for key in rolled)


def _check_key(key: str, rolled: Iterable[str], what: str) -> None:
    if not 1 <= len(key) <= MAX_TAG_KEY:
        raise ValueError(
            f"{what}: a tag key is 1-{MAX_TAG_KEY} characters; rolled-up keys: {_keys(rolled)}"
        )


def parse_tag_filters(values: Iterable[str], rolled: Iterable[str]) -> dict[str, str]:
    """``key:value`` strings (split at the first ':') as a map; every one must match."""
    rolled = tuple(rolled)
    out: dict[str, str] = {}
    for text in values:
        key, colon, value = text.partition(":")
        if not colon or not value:
            raise ValueError(
                f"`tag={text}` is not `tag=<key>:<value>`; rolled-up keys: {_keys(rolled)}"
            )
        _check_key(key, rolled, f"`tag={text}`")
        if len(value) > MAX_TAG_VALUE or value == TAG_OTHER:
            raise ValueError(f"`tag={text}`: a value is 1-{MAX_TAG_VALUE} characters, "
                             f"not `{TAG_OTHER}`")  # fmt: skip
        if out.get(key, value) != value:
            raise ValueError(f"two values for tag `{key}`: a run has one, none would match")
        out[key] = value
    return out


@dataclass(frozen=True)
class Dimension:
    """What ``by``/``group_by`` names: a column, or a tag key."""

    column: str | None = None
    tag: str | None = None

    @property
    def label(self) -> str:
        return self.column if self.column is not None else f"{PREFIX}{self.tag}"


def parse_dimension(text: str, columns: tuple[str, ...], rolled: Iterable[str],
                    name: str) -> Dimension:  # fmt: skip
    """``text`` as one of ``columns`` or ``tag:<key>``."""
    rolled = tuple(rolled)
    if text in columns:
        return Dimension(column=text)
    if text.startswith(PREFIX):
        _check_key(text[len(PREFIX) :], rolled, f"`{name}={text}`")
        return Dimension(tag=text[len(PREFIX) :])
    raise ValueError(
        f"unknown `{name}={text}`; use one of {', '.join(f'`{c}`' for c in columns)} "
        f"or `tag:<key>` (rolled-up keys: {_keys(rolled)})"
    )
