"""Commands of the rollup area (filled in by its issue)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Register this area's commands on the top-level app."""
