"""``store.writes.tags_json``: the same text as ``json.dumps`` for every tag map."""

from __future__ import annotations

import json

import pytest

from runtally.store.writes import tags_json

TAGS = [
    {},
    {"env": "prod"},
    {"env": "prod", "region": "eu", "empty": ""},
    {'quo"te': "back\\slash", "tab\t": "new\nline", "ctl": "\x01\x1f\x7f"},
    {"ünï": "café ☕", "emoji": "\U0001f600", "cjk": "漢字"},
    {"lone": "\ud800"},
    {f"k{i}": "v" * i for i in range(20)},
]


@pytest.mark.parametrize("tags", TAGS)
def test_tags_json_equals_json_dumps(tags: dict[str, str]) -> None:
    assert tags_json(tags) == json.dumps(tags)
    assert json.loads(tags_json(tags) or "") == tags


def test_no_tags_is_null() -> None:
    assert tags_json(None) is None
