"""README.md keeps its promises: first commands, every setting, a valid XADD example."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from pathlib import Path
from types import ModuleType

import pytest

from runtally.config import Settings
from runtally.events import parse_event


@pytest.fixture(scope="module")
def readme(repo_root: Path) -> str:
    return (repo_root / "README.md").read_text()


@pytest.fixture(scope="module")
def table_script(repo_root: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "settings_table", repo_root / "scripts" / "settings_table.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_first_lines_are_the_two_commands(readme: str) -> None:
    lines = readme.splitlines()
    assert lines[2] == "```sh"
    assert lines[3].startswith("make demo ")
    assert lines[4].startswith("make test ")


def test_every_setting_is_in_the_configuration_table(readme: str) -> None:
    start = readme.index("<!-- settings-table:start")
    table = readme[start : readme.index("<!-- settings-table:end -->")]
    missing = [
        f"RUNTALLY_{name.upper()}"
        for name in Settings.model_fields
        if f"| `RUNTALLY_{name.upper()}` |" not in table
    ]
    assert not missing, f"README lacks {missing}; run: python scripts/settings_table.py --write"


def test_the_table_is_the_generated_one(readme: str, table_script: ModuleType) -> None:
    assert table_script.block() in readme, "run: python scripts/settings_table.py --write"


def test_every_setting_has_a_description(table_script: ModuleType) -> None:
    assert set(table_script.DESCRIPTIONS) == set(Settings.model_fields)


def test_the_redis_cli_example_publishes_a_valid_event(readme: str) -> None:
    line = next(ln for ln in readme.splitlines() if ln.startswith("redis-cli") and "XADD" in ln)
    args = shlex.split(line)
    stream = args[args.index("XADD") + 1]
    assert stream == Settings().stream
    payload = args[args.index("data") + 1]
    event = parse_event(payload)
    assert event.agent == json.loads(payload)["agent"]


def test_every_runtally_variable_mentioned_exists(readme: str) -> None:
    mentioned = set(re.findall(r"RUNTALLY_([A-Z_]+[A-Z])", readme))
    unknown = {m for m in mentioned if m.lower() not in Settings.model_fields} - {"DEBUG"}
    assert not unknown
