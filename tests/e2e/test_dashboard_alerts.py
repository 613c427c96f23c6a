"""The dashboard's alerts section in headless Chromium lists every rule with each
group's state and last value, as ``/v1/alerts`` answers."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtally.alerts import store
from runtally.alerts.states import State, Step
from runtally.api.keys import create_key
from tests.e2e.test_dashboard_browser import chromium

pytestmark = pytest.mark.e2e


class Rows(HTMLParser):
    """The cell texts of every ``tr[data-rule]``, with its data-state."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, str, list[str]]] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "tr" and "data-rule" in a:
            self.rows.append((a["data-rule"], a["data-state"], []))
        self._in_cell = tag == "td" and bool(self.rows)
        if self._in_cell:
            self.rows[-1][2].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.rows[-1][2][-1] += data


async def test_dashboard_lists_rules_with_state_and_value(
    api_and_ingest: str, pool: Any, tmp_path: Path
) -> None:
    async with pool.acquire() as conn:
        _, key = await create_key(conn, "default", "browser alerts")
    rules = [
        {"name": "cost spike", "measure": "cost_usd", "op": ">", "threshold": 5,
         "window": "1h", "group_by": "agent", "webhook_url": "https://example.com/h"},
        {"name": "slow", "measure": "p95_latency_ms", "op": ">", "threshold": 9000,
         "window": "15m", "webhook_url": "https://example.com/h"},
    ]  # fmt: skip
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=api_and_ingest, headers=headers) as http:
        ids = [(await http.post("/v1/alerts", json=rule)).json()["id"] for rule in rules]
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await store.save_states(conn, ids[0], now, [
            ("coder", 7.25, 12, Step(State.ALERT, State.OK, now, True)),
            ("planner", 1.5, 30, Step(State.OK, None, now, False)),
        ])  # fmt: skip

    parsed = Rows()
    parsed.feed(chromium("--dump-dom", f"{api_and_ingest}/#key={key}", tmp_path=tmp_path).stdout)
    shown = {(rule, cells[3]): (state, cells) for rule, state, cells in parsed.rows}
    assert set(shown) == {(str(ids[0]), "coder"), (str(ids[0]), "planner"), (str(ids[1]), "–")}
    state, cells = shown[(str(ids[0]), "coder")]
    assert state == "alert"
    assert cells[:6] == ["cost spike", "cost_usd > 5", "1h", "coder", "alert", "$7.25"]
    assert shown[(str(ids[0]), "planner")][1][4:6] == ["ok", "$1.50"]
    assert shown[(str(ids[1]), "–")][0] == "not evaluated"
