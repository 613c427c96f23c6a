"""The dashboard's runs view, run detail, table links and CSV downloads in headless Chromium.

Known events go through the real pipeline (stream → `runtally ingest` → Postgres →
`runtally api`); Chromium (driven over the DevTools pipe, ``tests/e2e/browser.py``) clicks
through the page as a person would. What the page lists must equal the ground truth
computed here from the events; each downloaded CSV, parsed, must equal the API's JSON.
Screenshots of the runs view and of one run are left in ``artifacts/``.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import redis.asyncio as aioredis

from runtally.api.keys import create_key
from runtally.config import Settings
from runtally.events import RunEvent
from runtally.pricing import parse_price_document
from tests.e2e.browser import Browser, BrowserError
from tests.e2e.helpers import get_json, wait_for

pytestmark = pytest.mark.e2e

# A comma and quotes in a name: CSV quoting and URL-hash encoding must both keep it whole.
AGENTS = ("support-bot", "code-reviewer", 'ops, "night" bot')
MODELS = ("gpt-5-mini", "claude-sonnet-4-5", "in-house-llm")  # the last one has no price
ERRORS = ("RateLimitError", "Timeout", "ToolError")
FILTERS = {
    "status": "status", "agent": "agent", "model": "model", "error_type": "error_type",
    "user_id": "user_id", "session_id": "session_id", "trace_id": "trace_id",
}  # fmt: skip
ROW_IDS = "[...document.querySelectorAll('#runs-table tbody tr')].map(r => r.dataset.eventId)"


def run_events(now: datetime, count: int = 130) -> list[RunEvent]:
    """Runs over the last 5 hours; some costs sent, some priced at ingest, some unpriced."""
    rng = random.Random(23)
    events = []
    for i in range(count):
        failed = rng.random() < 0.3
        duration = rng.lognormvariate(7.0, 0.7)
        started = now - timedelta(minutes=rng.uniform(2, 300))
        priced = rng.random() < 0.5
        fields: dict[str, Any] = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "agent": rng.choice(AGENTS),
            "model": rng.choice(MODELS),
            "started_at": started.isoformat(),
            "duration_ms": round(duration, 3),
            "status": "error" if failed else "success",
            "error_type": rng.choice(ERRORS) if failed else None,
            "error_message": f'upstream said "no", attempt {i}\nretry later' if failed else None,
            "input_tokens": rng.randint(200, 9000),
            "output_tokens": rng.randint(20, 900),
            "cache_read_tokens": rng.randint(0, 100),
            "cache_write_tokens": rng.randint(0, 50),
            "time_to_first_token_ms": float(int(duration // 3)),
            "cost_usd": round(rng.uniform(0.0001, 0.05), 6) if priced else None,
            "user_id": f"user-{rng.randrange(6)}",
            "session_id": f"session-{rng.randrange(15)}",
            "trace_id": f"trace-{i}",
            "tags": {"env": rng.choice(("prod", "staging")), "team": "a,b"},
            "metadata": {"attempt": rng.randint(1, 3), "nested": {"ok": [1, None]}},
        }
        events.append(RunEvent.model_validate(fields, strict=False))
    return events


def newest_first(events: list[RunEvent]) -> list[str]:
    ordered = sorted(events, key=lambda e: (e.started_at, e.event_id), reverse=True)
    return [str(e.event_id) for e in ordered]


async def stored_stack(
    api: str, settings: Settings, redis_client: aioredis.Redis, pool: Any
) -> tuple[list[RunEvent], str]:
    """Publishes the events, waits until the API counts them all; (events, API key)."""
    events = run_events(datetime.now(UTC))
    for event in events:
        await redis_client.xadd(settings.stream, {"data": event.to_wire()})
    async with pool.acquire() as conn:
        _, key = await create_key(conn, "default", "dashboard runs test")
    wait_for(lambda: get_json(f"{api}/v1/summary", key)["runs"] == len(events), 60, "runs stored")
    return events, key


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    (tmp_path / "downloads").mkdir()
    b = Browser(tmp_path / "profile", tmp_path / "downloads")
    try:
        yield b
    finally:
        b.close()


def loaded(b: Browser, view: str) -> None:
    """Waits until ``view`` has rendered its data; fails with the page's status line."""
    try:
        b.wait(
            f"document.body.dataset.view === {json.dumps(view)} &&"
            " document.body.dataset.loaded === 'true'"
        )
    except BrowserError as exc:
        status = b.js("document.getElementById('status')?.textContent")
        raise AssertionError(f"{view} did not load: {status!r} ({exc})") from None


def stale(b: Browser) -> None:
    """Marks the shown data old, so a wait for ``loaded`` sees the next render only."""
    b.js("document.body && (document.body.dataset.loaded = 'stale')")


def open_route(b: Browser, api: str, route: str) -> None:
    stale(b)
    b.goto(f"{api}/#{route}")
    parts = route.split("?")[0].strip("/").split("/")
    loaded(b, "run" if len(parts) == 2 else parts[0] or "overview")


def all_pages(b: Browser) -> list[list[str]]:
    pages = [b.js(ROW_IDS)]
    while not b.js("document.getElementById('runs-older').disabled"):
        b.click("#runs-older")
        b.wait(f"{ROW_IDS}[0] !== {json.dumps(pages[-1][0])}")
        loaded(b, "runs")
        pages.append(b.js(ROW_IDS))
    return pages


def detail_fields(b: Browser) -> dict[str, str]:
    return dict(
        b.js(
            "[...document.querySelectorAll('#view-run [data-field]')]"
            ".map(e => [e.dataset.field, e.textContent])"
        )
    )


def artifact(repo_root: Path, name: str) -> Path:
    folder = repo_root / "artifacts"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.unlink(missing_ok=True)
    return path


async def test_runs_view_lists_pages_filters_and_shows_a_run(
    api_and_ingest: str,
    settings: Settings,
    redis_client: aioredis.Redis,
    pool: Any,
    browser: Browser,
    repo_root: Path,
) -> None:
    api = api_and_ingest
    events, key = await stored_stack(api, settings, redis_client, pool)
    b = browser

    # The key in the link is stored and taken out of the address; the range is added.
    open_route(b, api, f"/runs?key={key}&limit=25")
    assert b.js("location.hash") == "#/runs?limit=25&range=24h"
    assert b.js("localStorage.getItem('runtally.key')") == key

    # Newest first, in keyset pages that cover every run once; back returns a page.
    pages = all_pages(b)
    assert [len(p) for p in pages] == [25, 25, 25, 25, 25, 5]
    assert [i for p in pages for i in p] == newest_first(events)
    assert b.js("document.getElementById('runs-page').textContent") == "runs 126–130 (oldest)"
    b.back()
    b.wait(f"{ROW_IDS}[0] === {json.dumps(pages[-2][0])}")
    assert b.js(ROW_IDS) == pages[-2]

    # Each filter, from a link: exactly the matching runs, newest first.
    sample = next(e for e in events if e.status == "error" and e.agent == AGENTS[2])
    for name, attribute in FILTERS.items():
        value = getattr(sample, attribute)
        open_route(b, api, "/runs?" + urlencode({name: value, "range": "24h", "limit": 500}))
        expected = [e for e in events if getattr(e, attribute) == value]
        assert b.js(ROW_IDS) == newest_first(expected), name

    # The range: a custom one from a link, then the 1 h button (the address follows).
    start, end = sample.started_at - timedelta(hours=1), sample.started_at + timedelta(minutes=30)
    open_route(b, api, "/runs?" + urlencode({"from": start.isoformat(), "to": end.isoformat()}))
    expected = [e for e in events if start <= e.started_at < end]
    assert b.js(ROW_IDS) == newest_first(expected)[:50]
    assert b.js("document.querySelector('[data-range=custom]').classList.contains('active')")
    stale(b)
    b.click("[data-range='1h']")
    loaded(b, "runs")
    assert b.js("location.hash") == "#/runs?range=1h"
    shown_from, shown_to = (
        datetime.fromisoformat(b.js(f"document.getElementById('runs-table').dataset.{end}"))
        for end in ("from", "to")
    )
    assert shown_to - shown_from == timedelta(hours=1)
    expected = [e for e in events if shown_from <= e.started_at < shown_to]
    assert b.js(ROW_IDS) == newest_first(expected)[:50]

    # Bad links get the API's message, not a blank page.
    for route, message in (
        ("/runs/00000000-0000-4000-8000-000000000000", "no run 00000000-0000-4000"),
        ("/runs/not-a-uuid", "event_id"),
        ("/runs?range=24h&agent=" + "x" * 101, "agent"),
    ):
        stale(b)
        b.goto(f"{api}/#{route}")
        b.wait("document.body.dataset.loaded === 'error'")
        assert message in b.js("document.getElementById('status').textContent"), route

    # Filters from the form: two at once, the address names them (linkable).
    stale(b)
    b.js("document.getElementById('runs-clear').click()")
    loaded(b, "runs")
    b.js(
        "(() => { const f = document.getElementById('runs-filters');"
        f" f.elements.status.value = 'error'; f.elements.agent.value = {json.dumps(AGENTS[2])};"
        " })()"
    )
    stale(b)
    b.click("#runs-filters button[type=submit]")
    b.wait("location.hash.includes('status=error')")
    loaded(b, "runs")
    expected = [e for e in events if e.status == "error" and e.agent == AGENTS[2]]
    assert b.js(ROW_IDS) == newest_first(expected)[:50]
    assert "agent=" + quote(AGENTS[2], safe="").replace("%20", "+") in b.js("location.hash")
    b.screenshot(shot := artifact(repo_root, "dashboard-runs.png"))
    assert shot.stat().st_size > 10_000

    # One run, opened by clicking its row: every stored field.
    b.click(f"tr[data-event-id='{sample.event_id}'] a.open")
    loaded(b, "run")
    assert b.js("location.hash") == f"#/runs/{sample.event_id}"
    stored = get_json(f"{api}/v1/runs/{sample.event_id}", key)
    shown = detail_fields(b)
    assert shown["event_id"] == str(sample.event_id)
    for name in ("project", "agent", "model", "status", "error_type", "error_message"):
        assert shown[name] == stored[name] == getattr(sample, name), name
    for name in ("user_id", "session_id", "trace_id"):
        assert shown[name] == getattr(sample, name), name
    for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
        assert shown[name] == f"{getattr(sample, name):,}", name
    assert shown["total_tokens"] == f"{sample.input_tokens + sample.output_tokens:,}"  # type: ignore[operator]
    assert json.loads(shown["tags"]) == sample.tags
    assert json.loads(shown["metadata"]) == sample.metadata
    assert shown["ttft_ms"] == f"{sample.time_to_first_token_ms:.0f} ms"
    assert shown["started_at"] == sample.started_at.astimezone(UTC).isoformat(
        sep=" ", timespec="milliseconds"
    ).replace("+00:00", " UTC")
    assert_cost_shown(shown, stored, sample)
    b.screenshot(shot := artifact(repo_root, "dashboard-run.png"))
    assert shot.stat().st_size > 10_000

    # Cost source of every kind: sent, computed from the price table, unpriced.
    text = (repo_root / "src/runtally/prices.json").read_text()
    prices = json.loads(text)
    # The stored version: the file's label and a digest of its content.
    version = parse_price_document(text).version
    assert version.startswith(prices["version"] + "+")
    for event in pick_cost_kinds(events):
        open_route(b, api, f"/runs/{event.event_id}")
        stored = get_json(f"{api}/v1/runs/{event.event_id}", key)
        shown = detail_fields(b)
        assert_cost_shown(shown, stored, event)
        if stored["cost_source"] == "price_table":
            assert shown["price_version"] == version


def pick_cost_kinds(events: list[RunEvent]) -> list[RunEvent]:
    sent = next(e for e in events if e.cost_usd is not None)
    table = next(e for e in events if e.cost_usd is None and e.model != MODELS[2])
    unpriced = next(e for e in events if e.cost_usd is None and e.model == MODELS[2])
    return [sent, table, unpriced]


def assert_cost_shown(shown: dict[str, str], stored: dict[str, Any], event: RunEvent) -> None:
    """The cost as stored, and its source as derived from the event and the price table."""
    if event.cost_usd is not None:
        assert stored["cost_usd"] == float(event.cost_usd)
        assert shown["cost_source"] == "sent in the event"
        assert shown["price_version"] == "–"
    elif event.model == MODELS[2]:
        assert stored["cost_usd"] is None
        assert shown["cost_source"].startswith("unpriced")
        assert shown["cost_usd"] == "–"
        return
    else:
        assert stored["cost_usd"] > 0
        assert shown["cost_source"] == "computed at ingest from the price table"
    assert shown["cost_usd"] == "$" + js_number(stored["cost_usd"])


def js_number(value: float) -> str:
    """JavaScript's String(number) for the plain decimals these costs are."""
    text = repr(value)
    if "e-" in text:
        mantissa, exponent = text.split("e-")
        digits = mantissa.replace(".", "")
        return "0." + "0" * (int(exponent) - 1) + digits
    return text


CSV_FILES = {
    "agent": "by-agent",
    "model": "by-model",
    "error_type": "by-error-type",
    "user": "top-users",
}


def downloaded(folder: Path, stem: str, timeout: float = 20.0) -> Path:
    pattern = re.compile(rf"^runtally-{stem}-(\d{{8}}T\d{{6}}Z)-(\d{{8}}T\d{{6}}Z)\.csv$")
    found = wait_for(
        lambda: [p for p in folder.iterdir() if pattern.match(p.name)], timeout, f"{stem}.csv"
    )
    return Path(found[0])


def csv_range(path: Path) -> tuple[str, str]:
    match = re.search(r"-(\d{8}T\d{6}Z)-(\d{8}T\d{6}Z)\.csv$", path.name)
    assert match
    parse = [datetime.strptime(m, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) for m in match.groups()]
    return parse[0].isoformat(), parse[1].isoformat()


def as_number(text: str) -> float | None:
    return None if text == "" else float(text)


def assert_csv_equals_api(path: Path, kind: str, api: str, key: str) -> list[dict[str, str]]:
    """The CSV's rows, parsed, equal the API's breakdown of the range its name gives."""
    start, end = csv_range(path)
    query = urlencode(
        {"by": kind, "from": start, "to": end, **({"limit": 10} if kind == "user" else {})}
    )
    answer = get_json(f"{api}/v1/breakdown?{query}", key)
    assert answer["from"].replace("Z", "+00:00") == start
    rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    assert [r[kind] for r in rows] == [r["key"] for r in answer["rows"]]
    for row, want in zip(rows, answer["rows"], strict=True):
        for name in ("runs", "successes", "failures"):
            assert int(row[name]) == want[name], name
        assert as_number(row["success_rate"]) == want["success_rate"]
        for pct, value in want["latency_ms"].items():
            assert as_number(row[f"latency_{pct}_ms"]) == value, pct
        for kind_, value in want["tokens"].items():
            assert int(row[f"tokens_{kind_}"]) == value, kind_
        assert float(row["cost_usd"]) == want["cost_usd"]
    return rows


async def test_tables_link_to_runs_and_download_as_csv(
    api_and_ingest: str,
    settings: Settings,
    redis_client: aioredis.Redis,
    pool: Any,
    browser: Browser,
    tmp_path: Path,
) -> None:
    api = api_and_ingest
    events, key = await stored_stack(api, settings, redis_client, pool)
    b = browser
    open_route(b, api, f"/?key={key}")

    # Each table's CSV: the API's numbers, every row, a name with the table and the range.
    for kind, stem in CSV_FILES.items():
        b.click(f"[data-csv='{kind}']")
        path = downloaded(tmp_path / "downloads", stem)
        rows = assert_csv_equals_api(path, kind, api, key)
        assert rows, kind
    agent_csv = downloaded(tmp_path / "downloads", "by-agent").read_bytes().decode("utf-8-sig")
    assert '"ops, ""night"" bot"' in agent_csv  # RFC 4180 quoting, read back whole above
    assert agent_csv.count("\r\n") == len(AGENTS) + 1

    # The quoting itself, on the awkward values a name or message can hold.
    tricky = [["a,b", 'say "hi"', "line\nbreak", "cr\rlf", " edge ", "", "ünï ✓", "=1+2"]]
    text = b.js(
        f"import('/static/js/csv.js').then(m => m.toCsv(['h1','h2','h3','h4','h5','h6','h7','h8'],"
        f" {json.dumps(tricky)}))"
    )
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        [f"h{i}" for i in range(1, 9)],
        *tricky,
    ]

    # Clicking an error type opens the runs view filtered to it; back returns.
    error_type = ERRORS[1]
    b.click(f"#table-error_type tr[data-key='{error_type}'] a")
    loaded(b, "runs")
    assert f"error_type={error_type}" in b.js("location.hash")
    expected = [e for e in events if e.error_type == error_type]
    assert b.js(ROW_IDS) == newest_first(expected)
    assert_runs_csv(b, tmp_path / "downloads", api, key, {"error_type": error_type})
    b.back()
    loaded(b, "overview")

    # Clicking an agent whose name needs escaping, and a user: the same.
    for table, attribute, value in (("agent", "agent", AGENTS[2]), ("user", "user_id", "user-3")):
        b.click(f"#table-{table} tr[data-key={json.dumps(value)}] a")
        loaded(b, "runs")
        expected = [e for e in events if getattr(e, attribute) == value]
        assert b.js(ROW_IDS) == newest_first(expected)[:50], table
        b.back()
        loaded(b, "overview")


def assert_runs_csv(b: Browser, folder: Path, api: str, key: str, filters: dict[str, str]) -> None:
    """The runs view's CSV, parsed, equals the API's page of the same range and filters."""
    b.click("#runs-csv")
    path = downloaded(folder, "runs")
    start, end = csv_range(path)
    query = urlencode({**filters, "from": start, "to": end, "limit": 50})
    want = get_json(f"{api}/v1/runs?{query}", key)["runs"]
    rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    assert len(rows) == len(want) > 0
    for row, run in zip(rows, want, strict=True):
        assert set(row) == set(run) - {"project"}
        for name, value in run.items():
            if name == "tags":
                assert json.loads(row[name]) == value
            elif isinstance(value, int | float) and not isinstance(value, bool):
                assert float(row[name]) == value, name
            else:
                assert row[name] == ("" if value is None else value), name
