"""``python -m bench [NAME ...] [--quick] [--events N] [--output PATH]``: run, then report.

With no names every benchmark runs. A full run (all benchmarks, not ``--quick``) writes
BENCHMARKS.md by default; quick or partial runs print only, unless ``--output`` is given.
Exit status is 0 whatever the timings (benchmarks are not tests); it is non-zero only
when a benchmark crashed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType

from bench import harness, report
from bench.harness import BenchContext
from bench.machine import machine_info
from bench.sizes import parse_events

# Order of the run and of BENCHMARKS.md.
BENCHMARKS = ("ingest", "publisher", "latency", "rollup", "api", "otlp", "memory")


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"bench.{name}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="runtally benchmarks: figures next to the limits measured in the same run.",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default all): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for development")
    parser.add_argument(
        "--events",
        type=_events,
        default=None,
        help="events over 30 days for the api benchmark (e.g. 300k, 1M, 10M, 50M; default "
        "10M, 300k with --quick); free disk is checked first",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where to write the report (default: BENCHMARKS.md for a full run, none otherwise)",
    )
    return parser


def _events(text: str) -> int:
    try:
        return parse_events(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        print(
            f"python -m bench: unknown benchmark(s) {', '.join(unknown)}; "
            f"choose from {', '.join(BENCHMARKS)}",
            file=sys.stderr,
        )
        return 2
    names = args.names or list(BENCHMARKS)
    full = not args.quick and names == list(BENCHMARKS)
    output = args.output or (Path("BENCHMARKS.md") if full else None)
    ctx = BenchContext(quick=args.quick, events=args.events)
    machine = machine_info()
    print("machine: " + "; ".join(f"{k} {v}" for k, v in machine.items()), flush=True)
    crashed = []
    durations = {}
    for name in names:
        module = _module(name)
        print(f"\n== {module.TITLE} ({name})", flush=True)
        start = time.perf_counter()
        try:
            module.run(ctx)
        except harness.Refused as exc:  # a clear reason, not a crash: no traceback
            print(f"python -m bench {name}: {exc}", file=sys.stderr, flush=True)
            ctx.note(name, f"not run: {exc}")
            crashed.append(name)
        except Exception as exc:  # one benchmark crashing must not hide the others' figures
            traceback.print_exc()
            ctx.note(name, f"benchmark crashed: {type(exc).__name__}: {exc}")
            crashed.append(name)
        durations[name] = time.perf_counter() - start
    run_facts = {
        "run": ("quick (reduced sizes)" if args.quick else "full")
        + f"; benchmarks: {', '.join(names)}",
        "duration": ", ".join(f"{k} {v:.0f} s" for k, v in durations.items()),
        "load average at end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    if output is not None:
        titles = {name: _module(name).TITLE for name in names}
        text = report.render(
            machine, harness.SERVER_SETTINGS, ctx.figures, ctx.notes, run_facts, titles
        )
        report.write(output, report.with_analysis(text))
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
