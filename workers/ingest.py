"""Process entry for the ingest worker: ``python -m workers.ingest`` (settings from env).

Equivalent to ``runtally ingest``; all logic lives in ``runtally.ingest``.
"""

from __future__ import annotations

from runtally.ingest.cli import ingest

if __name__ == "__main__":
    ingest()
