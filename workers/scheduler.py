"""Process entry for arq: ``arq workers.scheduler.WorkerSettings`` (settings from env).

Equivalent to ``runtally scheduler``; all logic lives in ``runtally.rollup``.
"""

from __future__ import annotations

from runtally.config import Settings
from runtally.rollup.scheduler import worker_settings

WorkerSettings = worker_settings(Settings())
