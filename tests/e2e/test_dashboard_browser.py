"""The dashboard in headless Chromium shows the numbers the API computes.

Known events go through the real pipeline (stream → `runtally ingest` → Postgres →
`runtally api`); Chromium loads the dashboard with the key in the URL fragment; the KPI
cards and the per-agent table must equal both the API's answer and the ground truth
computed here from the events. A screenshot is left in ``artifacts/`` for people.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from runtally.api.keys import create_key
from runtally.config import Settings
from runtally.events import RunEvent
from tests.e2e.browser import Browser, BrowserError
from tests.e2e.helpers import get_json, wait_for

pytestmark = pytest.mark.e2e

AGENTS = ("support-bot", "code-reviewer", "research-agent")
MODELS = ("gpt-5-mini", "claude-sonnet-4-5")
ERRORS = ("RateLimitError", "Timeout", "ToolError")
ENVIRONMENTS = ("production", "staging")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--virtual-time-budget=15000",
)  # fmt: skip


def known_events(now: datetime, count: int = 240) -> list[RunEvent]:
    """Runs spread over the last 5 hours, every one with tokens and an explicit cost."""
    rng = random.Random(11)
    events = []
    for _ in range(count):
        failed = rng.random() < 0.08
        duration = rng.lognormvariate(7.5, 0.8)
        ended = now - timedelta(minutes=rng.uniform(1, 300))
        input_tokens = rng.randint(200, 9000)
        events.append(
            RunEvent.model_validate(
                {
                    "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "agent": rng.choice(AGENTS),
                    "model": rng.choice(MODELS),
                    "started_at": (ended - timedelta(milliseconds=duration)).isoformat(),
                    "duration_ms": round(duration, 3),
                    "status": "error" if failed else "success",
                    "error_type": rng.choice(ERRORS) if failed else None,
                    "input_tokens": input_tokens,
                    "output_tokens": rng.randint(20, 900),
                    "cache_read_tokens": rng.randint(0, input_tokens // 2),
                    "cost_usd": round(rng.uniform(0.0001, 0.05), 6),
                    "user_id": f"user-{rng.randrange(7)}",
                    "session_id": f"session-{rng.randrange(20)}",
                    "tags": {"environment": rng.choice(ENVIRONMENTS)},
                },
                strict=False,
            )
        )
    return events


@dataclass
class Truth:
    runs: int = 0
    successes: int = 0
    tokens: int = 0
    cost: Decimal = field(default_factory=Decimal)
    users: set[str] = field(default_factory=set)

    def add(self, event: RunEvent) -> None:
        self.runs += 1
        self.successes += event.status == "success"
        self.tokens += (event.input_tokens or 0) + (event.output_tokens or 0)
        self.cost += event.cost_usd or Decimal(0)
        self.users.add(event.user_id or "")


def truths(events: list[RunEvent]) -> tuple[Truth, dict[str, Truth]]:
    total, per_agent = Truth(), {agent: Truth() for agent in AGENTS}
    for event in events:
        total.add(event)
        per_agent[event.agent].add(event)
    return total, per_agent


class Dom(HTMLParser):
    """Elements of the dumped DOM by id, and the rows of each table by data-key."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str]] = {}
        self.text: dict[str, str] = {}
        self.rows: dict[str, dict[str, dict[str, str]]] = {}
        self.body: dict[str, str] = {}
        self._open: list[str] = []
        self._table = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.body = a
        if tag == "table" and "id" in a:
            self._table = a["id"]
            self.rows[self._table] = {}
        if tag == "tr" and "data-key" in a:
            self.rows[self._table][a["data-key"]] = a
        if "id" in a:
            self.by_id[a["id"]] = a
            self.text[a["id"]] = ""
            self._open.append(a["id"])
        elif self._open:
            self._open.append("")

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for name in self._open:
            if name:
                self.text[name] += data


def chromium(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "chromium is missing: run scripts/system-deps.sh"
    profile = tmp_path / f"chromium-{uuid.uuid4().hex[:8]}"
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )


async def test_dashboard_shows_the_api_numbers(
    api_and_ingest: str,
    settings: Settings,
    redis_client: aioredis.Redis,
    pool: Any,
    tmp_path: Path,
    repo_root: Path,
) -> None:
    events = known_events(datetime.now(UTC))
    for event in events:
        await redis_client.xadd(settings.stream, {"data": event.to_wire()})
    async with pool.acquire() as conn:
        _, key = await create_key(conn, "default", "browser test")
    api = api_and_ingest
    wait_for(
        lambda: get_json(f"{api}/v1/summary", key)["runs"] == len(events), 60, "all runs stored"
    )
    total, per_agent = truths(events)

    dom_text = chromium("--dump-dom", f"{api}/#key={key}", tmp_path=tmp_path).stdout
    summary = get_json(f"{api}/v1/summary", key)
    agents = {row["key"]: row for row in get_json(f"{api}/v1/breakdown?by=agent", key)["rows"]}
    dom = Dom()
    dom.feed(dom_text)
    assert dom.body.get("data-loaded") == "true", dom.text.get("status")

    def shown(element: str) -> str:
        return dom.by_id[element]["data-value"]

    # KPI cards: the API's numbers, which equal the ground truth.
    assert int(shown("kpi-runs")) == summary["runs"] == total.runs
    assert dom.text["kpi-runs"] == f"{total.runs:,}"
    assert float(shown("kpi-success-rate")) == pytest.approx(summary["success_rate"], abs=1e-12)
    assert summary["success_rate"] == pytest.approx(total.successes / total.runs)
    assert dom.text["kpi-success-rate"] == f"{100 * total.successes / total.runs:.1f}%"
    assert int(shown("kpi-tokens")) == summary["tokens"]["total"] == total.tokens
    assert float(shown("kpi-cost")) == summary["cost_usd"] == pytest.approx(float(total.cost))
    assert int(shown("kpi-users")) == summary["unique_users"] == len(total.users)
    for pct in ("p50", "p95", "p99"):
        assert float(shown(f"kpi-{pct}")) == pytest.approx(summary["latency_ms"][pct])

    # Per-agent table: one row per agent with the API's and the true runs, tokens, cost.
    rows = dom.rows["table-agent"]
    assert set(rows) == set(agents) == set(AGENTS)
    for agent, row in rows.items():
        truth = per_agent[agent]
        assert int(row["data-runs"]) == agents[agent]["runs"] == truth.runs
        assert int(row["data-tokens"]) == agents[agent]["tokens"]["total"] == truth.tokens
        assert float(row["data-cost"]) == pytest.approx(float(truth.cost))
    assert set(dom.rows["table-error_type"]) <= set(ERRORS)

    # The tag table (environment by default) and the environment selector's choices.
    per_env = {env: Truth() for env in ENVIRONMENTS}
    for event in events:
        per_env[(event.tags or {})["environment"]].add(event)
    rows = dom.rows["table-tag"]
    assert set(rows) == set(ENVIRONMENTS)
    for env, row in rows.items():
        assert int(row["data-runs"]) == per_env[env].runs
        assert float(row["data-cost"]) == pytest.approx(float(per_env[env].cost))
    for env in ENVIRONMENTS:
        assert f'<option value="{env}">{env}</option>' in dom_text

    # The environment filter from the URL: every figure is of that environment's runs.
    dom = Dom()
    dom.feed(chromium("--dump-dom", f"{api}/#key={key}&environment=staging",
                      tmp_path=tmp_path).stdout)  # fmt: skip
    assert dom.body.get("data-loaded") == "true", dom.text.get("status")
    staging = per_env["staging"]
    assert int(dom.by_id["kpi-runs"]["data-value"]) == staging.runs
    assert float(dom.by_id["kpi-cost"]["data-value"]) == pytest.approx(float(staging.cost))
    assert set(dom.rows["table-tag"]) == {"staging"}
    assert "environment staging" in dom.text["range-label"]

    # A filtered view from the URL fragment: one agent over 7 days.
    dom = Dom()
    dom.feed(
        chromium(
            "--dump-dom", f"{api}/#key={key}&range=7d&agent=code-reviewer", tmp_path=tmp_path
        ).stdout
    )
    assert dom.body.get("data-loaded") == "true", dom.text.get("status")
    reviewer = per_agent["code-reviewer"]
    assert int(dom.by_id["kpi-runs"]["data-value"]) == reviewer.runs
    assert int(dom.by_id["kpi-tokens"]["data-value"]) == reviewer.tokens
    assert float(dom.by_id["kpi-cost"]["data-value"]) == pytest.approx(float(reviewer.cost))
    assert set(dom.rows["table-agent"]) == {"code-reviewer"}
    assert "agent code-reviewer" in dom.text["range-label"]

    artifacts = repo_root / "artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "dashboard.png"
    shot.unlink(missing_ok=True)
    chromium(
        f"--screenshot={shot}", "--window-size=1440,1000", f"{api}/#key={key}", tmp_path=tmp_path
    )
    assert shot.stat().st_size > 10_000
    print("screenshot artefact:", shot)


def chart(b: Browser) -> dict[date, int]:
    """The overview's day buckets (their local dates) and runs, as the page drew them;
    every bucket must be a local midnight."""
    buckets = b.js("document.getElementById('chart-runs').dataset.buckets").split()
    runs = b.js("document.getElementById('chart-runs').dataset.runs").split()
    starts = [datetime.fromisoformat(bucket) for bucket in buckets]
    assert all(start.time() == time(0) for start in starts), buckets
    return {start.date(): int(n) for start, n in zip(starts, runs, strict=True)}


def per_local_day(events: list[RunEvent], zone: str) -> dict[date, int]:
    days: dict[date, int] = {}
    for event in events:
        day = event.started_at.astimezone(ZoneInfo(zone)).date()
        days[day] = days.get(day, 0) + 1
    return days


def overview_loaded(b: Browser, zone: str) -> None:
    try:
        b.wait(
            "document.body.dataset.loaded === 'true' && document.getElementById('range-label')"
            f".textContent.includes({json.dumps(zone)})"
        )
    except BrowserError as exc:
        status = b.js("document.getElementById('status')?.textContent")
        raise AssertionError(f"overview in {zone} did not load: {status!r} ({exc})") from None


async def test_days_start_at_midnight_of_the_zone_shown(
    api_and_ingest: str,
    settings: Settings,
    redis_client: aioredis.Redis,
    pool: Any,
    tmp_path: Path,
    repo_root: Path,
) -> None:
    """The browser's zone by default (Chromium told it is in Kolkata), a zone chosen in
    the selector next, kept over a reload: day buckets at that zone's midnight, each
    holding the runs of that local date (ground truth by zoneinfo), the zone named."""
    now = datetime.now(UTC)
    events = known_events(now, count=300)
    for event in events:
        await redis_client.xadd(settings.stream, {"data": event.to_wire()})
    async with pool.acquire() as conn:
        _, key = await create_key(conn, "default", "zone test")
    api = api_and_ingest
    wait_for(lambda: get_json(f"{api}/v1/summary", key)["runs"] == len(events), 60, "stored")
    (tmp_path / "downloads").mkdir()
    b = Browser(tmp_path / "profile", tmp_path / "downloads")
    try:
        b.page("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Kolkata"})
        b.goto(f"{api}/#key={key}&range=30d")
        # Chromium names India's zone by its older IANA name, Asia/Calcutta (a link).
        own = b.js("Intl.DateTimeFormat().resolvedOptions().timeZone")
        assert own in ("Asia/Kolkata", "Asia/Calcutta")
        overview_loaded(b, own)
        assert b.js("document.getElementById('zone').value") == own
        shown = chart(b)
        assert len(shown) in (30, 31)
        assert {d: n for d, n in shown.items() if n} == per_local_day(events, "Asia/Kolkata")

        b.js("document.body.dataset.loaded = 'stale'")
        b.js(
            "(() => { const s = document.getElementById('zone'); s.value = 'America/New_York';"
            " s.dispatchEvent(new Event('change')); })()"
        )
        overview_loaded(b, "America/New_York")
        shown = chart(b)
        assert {d: n for d, n in shown.items() if n} == per_local_day(events, "America/New_York")
        assert int(b.js("document.getElementById('kpi-runs').dataset.value")) == len(events)

        b.js("document.body.dataset.loaded = 'stale'")
        b.goto(f"{api}/#/")  # the same browser later: the chosen zone is kept
        b.js("location.reload()")
        overview_loaded(b, "America/New_York")
        assert b.js("document.getElementById('zone').value") == "America/New_York"
        (repo_root / "artifacts").mkdir(exist_ok=True)
        b.screenshot(repo_root / "artifacts" / "dashboard-zone.png")
    finally:
        b.close()
