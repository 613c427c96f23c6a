"""Business metric families (pure): the `other` cap, counter names and labels, the
alert families; the scheduler's alerts cron job."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from runtally import constants
from runtally.alerts.exposition import AlertCollector, AlertFigures
from runtally.api.business import capped
from runtally.api.scrape import BusinessCollector
from runtally.config import Settings
from runtally.rollup.scheduler import worker_settings
from runtally.tally import Tally


def tally(runs: int, failures: int, cost: str, tokens: int) -> Tally:
    return Tally(
        runs=runs, successes=runs - failures, failures=failures, cost_usd=Decimal(cost),
        input_tokens=tokens, output_tokens=tokens // 2,
    )  # fmt: skip


def test_pairs_beyond_the_cap_sum_into_other() -> None:
    pairs = {
        ("a", "x"): tally(10, 1, "1.5", 100),
        ("b", "x"): tally(30, 0, "0.25", 10),
        ("c", "y"): tally(10, 5, "2", 7),
        ("a", "y"): tally(2, 2, "0.125", 1),
    }
    out = capped("p", pairs, 2)
    assert [(t.agent, t.model) for t in out] == [("b", "x"), ("a", "x"), ("other", "other")]
    other = out[-1]
    assert (other.successes, other.failures, other.cost_usd) == (5, 7, Decimal("2.125"))
    assert other.tokens == {"input": 8, "output": 3, "cache_read": 0, "cache_write": 0}
    assert capped("p", pairs, 4)[-1].agent != "other"
    assert capped("p", {}, 3) == []


def render(*collectors: object) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry(auto_describe=False)
    for c in collectors:
        registry.register(c)  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def lab(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def test_business_counters() -> None:
    (totals,) = capped("p", {("a", "x"): tally(10, 3, "1.75", 40)}, 5)
    got = render(BusinessCollector([totals]))
    key = {"project": "p", "agent": "a", "model": "x"}
    assert got[("runtally_runs_total", lab(**key, status="error"))] == 3
    assert got[("runtally_runs_total", lab(**key, status="success"))] == 7
    assert got[("runtally_tokens_total", lab(**key, kind="input"))] == 40
    assert got[("runtally_tokens_total", lab(**key, kind="output"))] == 20
    assert got[("runtally_cost_usd_total", lab(**key))] == 1.75


def test_alert_families() -> None:
    rows = [("p", "3", "r", "", "warn", 0.5), ("p", "3", "r", "g", "no_data", None)]
    figures = AlertFigures(rows, {"failed": 2})
    got = render(AlertCollector(figures))
    states = {k[1][-1][1]: v for k, v in got.items()
              if k[0] == "runtally_alert_state" and dict(k[1])["group"] == ""}  # fmt: skip
    assert states == {"ok": 0, "warn": 1, "alert": 0, "no_data": 0}
    values = {dict(k[1])["group"]: v for k, v in got.items() if k[0] == "runtally_alert_value"}
    assert values == {"": 0.5}
    assert got[("runtally_alert_deliveries", (("status", "failed"),))] == 2
    assert got[("runtally_alert_deliveries", (("status", "pending"),))] == 0


def test_the_scheduler_runs_the_alerts_job_every_interval() -> None:
    settings = Settings(alerts_interval_s=15)
    jobs = {job.name: job for job in worker_settings(settings).cron_jobs}  # type: ignore[attr-defined]
    job = jobs[constants.CRON_ALERTS]
    assert job.second == {0, 15, 30, 45}
    assert job.unique
