"""`runtally dev --history-days N` backfills N days through publisher → stream → ingest.

Without ``--demo`` nothing else publishes, so the API's summary over the printed history
range must count exactly the runs the backfill published; the raw rows of every history
hour must then reach the hourly rollup (the scheduler rolls what ingest marked dirty).
"""

from __future__ import annotations

import json
import signal
import tempfile
import urllib.parse
from datetime import datetime
from pathlib import Path

import pytest

from runtally.devstack.servers import PostgresServer, free_port
from tests.e2e.devproc import (
    STOP_ORDER,
    alive,
    assert_stopped_in_order,
    finish,
    stack_pids,
    start_dev,
    wait_key,
    wait_line,
)
from tests.e2e.helpers import get_json, wait_for

pytestmark = pytest.mark.e2e

DONE = r"history: ([\d,]+) runs from (\S+) to (\S+) stored"

# Hours of the history whose hourly rollup (dims 0: all runs of the hour) differs from
# the raw rows, and the number of hours compared.
ROLLUP_CHECK = """
WITH raw AS (
    SELECT date_trunc('hour', started_at) AS hour, count(*) AS runs FROM agent_runs
    WHERE started_at >= '{start}' AND started_at < '{end}' GROUP BY 1
)
SELECT count(*) FILTER (WHERE r.runs IS DISTINCT FROM raw.runs) || ' ' || count(*)
FROM raw LEFT JOIN rollup_hourly r
    ON r.project = 'default' AND r.bucket = raw.hour AND r.dims = 0
"""


def test_history_is_stored_exactly_and_rolled_up(server_root: Path) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="dev-", dir=server_root))
    ports = {"redis": free_port(), "postgres": free_port(), "api": free_port()}
    (data_dir / "ports.json").write_text(json.dumps(ports))
    api = f"http://127.0.0.1:{ports['api']}"

    process, output = start_dev(data_dir, ports["api"], "--history-days", "1")
    key = wait_key(process, output, 90)
    done = wait_line(process, output, DONE, 90)
    published = int(done.group(1).replace(",", ""))
    start, end = datetime.fromisoformat(done.group(2)), datetime.fromisoformat(done.group(3))
    assert (end - start).days == 1
    assert "history: publishing" in output.text

    query = urllib.parse.urlencode({"from": start.isoformat(), "to": end.isoformat()})
    summary = get_json(f"{api}/v1/summary?{query}", key)
    assert summary["runs"] == published > 10_000
    assert summary["failures"] > 0
    assert summary["unique_users"] > 50

    pg = PostgresServer(data_dir / "postgres", port=ports["postgres"])
    sql = ROLLUP_CHECK.format(start=start.isoformat(), end=end.isoformat())

    def rolled() -> bool:
        mismatched, hours = pg.psql(sql, "runtally").split()
        assert int(hours) >= 24
        return mismatched == "0"

    wait_for(rolled, 90, "every history hour in rollup_hourly with its raw count")

    pids = stack_pids(process, data_dir)
    process.send_signal(signal.SIGINT)
    assert finish(process, output, 45) == 0, output.text
    assert_stopped_in_order(output.text, STOP_ORDER[1:])
    assert not [pid for pid in pids if alive(pid)]
