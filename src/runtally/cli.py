"""The ``runtally`` command. Each area registers its own commands on the one Typer app.

Errors reach the user as one line on stderr and a non-zero exit code, never a traceback
(set ``RUNTALLY_DEBUG=1`` to see one).
"""

from __future__ import annotations

import os
import sys

import typer
from pydantic import ValidationError

from runtally.alerts import cli as alerts_cli
from runtally.api import cli as api_cli
from runtally.devstack import cli as dev_cli
from runtally.errors import UserError
from runtally.ingest import cli as ingest_cli
from runtally.reprice import cli as reprice_cli
from runtally.rollup import cli as rollup_cli
from runtally.store import cli as store_cli

app = typer.Typer(
    name="runtally",
    help="Tallies every LLM-agent run: ingest, rollups, read API and dashboard.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """runtally: tallies every LLM-agent run."""


for _area in (store_cli, ingest_cli, rollup_cli, reprice_cli, api_cli, alerts_cli, dev_cli):
    _area.register(app)


def _fail(message: str, code: int = 1) -> None:
    print(f"runtally: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def main() -> None:
    """Console-script entry point."""
    try:
        app(standalone_mode=True)
    except UserError as exc:
        _fail(str(exc), exc.exit_code)
    except ValidationError as exc:
        _fail(
            "invalid settings: "
            + "; ".join(
                f"RUNTALLY_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                for e in exc.errors()
            ),
            2,
        )
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # the last line of defence: one line, not a traceback
        if os.environ.get("RUNTALLY_DEBUG"):
            raise
        _fail(f"{type(exc).__name__}: {exc} (set RUNTALLY_DEBUG=1 for a traceback)")
