"""Port choice of `runtally dev`: stable across restarts, fallback when taken."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtally.devstack.ports import DEFAULTS, choose_ports, load_ports, save_ports

SAVED = {"redis": 1111, "postgres": 2222, "api": 3333}


def choose(saved: dict[str, int], requested: dict[str, int], taken: set[int]) -> dict[str, int]:
    spare = iter(range(40000, 40010))
    return choose_ports(saved, requested, lambda p: p not in taken, lambda: next(spare))


@pytest.mark.parametrize(
    ("saved", "requested", "taken", "expected"),
    [
        ({}, {}, set(), DEFAULTS),
        (SAVED, {}, set(), SAVED),
        ({"redis": 1111}, {}, {1111}, {**DEFAULTS}),
        ({}, {}, {16379, 8000}, {"redis": 40000, "postgres": 15432, "api": 40001}),
        ({}, {"api": 9000}, set(), {**DEFAULTS, "api": 9000}),
        ({"redis": 8000}, {}, set(), {"redis": 8000, "postgres": 15432, "api": 40000}),
    ],
)  # fmt: skip
def test_choose_ports(
    saved: dict[str, int], requested: dict[str, int], taken: set[int], expected: dict[str, int]
) -> None:
    assert choose(saved, requested, taken) == expected


def test_a_requested_port_in_use_is_an_error() -> None:
    with pytest.raises(ValueError, match="api port 9000 is already in use"):
        choose({}, {"api": 9000}, {9000})


def test_ports_round_trip_and_bad_files(tmp_path: Path) -> None:
    assert load_ports(tmp_path) == {}
    save_ports(tmp_path, {"redis": 1, "postgres": 2, "api": 3})
    assert load_ports(tmp_path) == {"redis": 1, "postgres": 2, "api": 3}
    (tmp_path / "ports.json").write_text("{not json")
    assert load_ports(tmp_path) == {}
    (tmp_path / "ports.json").write_text('{"redis": "x", "other": 5, "api": 8001}')
    assert load_ports(tmp_path) == {"api": 8001}
