"""``runtally dev``: the whole stack on one machine, with no configuration.

``run_dev`` owns the process's signals: it installs the one ``Shutdown`` (SIGINT and
SIGTERM request the stop), then ``DevStack.start`` brings the servers and processes up
(``stack.py``), ``serve`` runs history, fleet and progress until the stop is requested
(``serve.py``), and ``DevStack.stop`` stops processes and servers in order. The order of a
stop is always: fleet → drain the stream → ingest, scheduler, API → Redis, Postgres. Data
stays in ``<data_dir>`` for the next start.
"""

from __future__ import annotations

import asyncio

from rich.console import Console

from runtally.devstack import report
from runtally.devstack.options import DevOptions
from runtally.devstack.serve import serve
from runtally.devstack.shutdown import Shutdown
from runtally.devstack.stack import DevStack


def run_dev(options: DevOptions) -> int:
    """Run the stack until stopped; the exit code (0 = clean stop, also after a signal)."""
    console = Console(highlight=False)
    shutdown = Shutdown()
    shutdown.install()
    stack = DevStack(options, console, shutdown)
    try:
        if stack.start():
            asyncio.run(serve(stack))
        else:
            console.print(f"[yellow]stopping during start-up ({shutdown.reason})[/]")
    finally:
        # Bounded (grace, then SIGKILL); further signals only repeat the request.
        stack.stop()
        shutdown.uninstall()
    outcome = stack.outcome
    code = 1 if outcome.crashed or not outcome.postgres_stopped else 0
    report.print_summary(console, outcome, code)
    return code
