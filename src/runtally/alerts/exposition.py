"""Alert states and delivery counts as Prometheus metric families.

``runtally_alert_state{project,rule_id,rule,group,state}`` is 1 for each (rule, group)'s
current state and 0 for the other states (so ``== 1`` selects, and a change shows as a
step); ``runtally_alert_value`` is the last measured value; ``runtally_alert_deliveries``
counts notifications by status (a growing ``failed`` means a receiver is unreachable).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from runtally.alerts.states import State
from runtally.store.protocols import Connection

STATES_SQL = """
SELECT r.project, r.id AS rule_id, r.spec->>'name' AS rule, s.group_key, s.state, s.value
FROM alert_states s JOIN alert_rules r ON r.id = s.rule_id
ORDER BY r.id, s.group_key
"""
DELIVERIES_SQL = "SELECT status, count(*) AS n FROM alert_deliveries GROUP BY status"


@dataclass(frozen=True)
class AlertFigures:
    states: list[tuple[str, str, str, str, str, float | None]]  # project..state, value
    deliveries: dict[str, int]


async def read_alert_figures(conn: Connection) -> AlertFigures:
    states = [
        (r["project"], str(r["rule_id"]), r["rule"], r["group_key"], r["state"], r["value"])
        for r in await conn.fetch(STATES_SQL)
    ]
    deliveries = {r["status"]: r["n"] for r in await conn.fetch(DELIVERIES_SQL)}
    return AlertFigures(states, deliveries)


class AlertCollector(Collector):
    """Yields the alert families of one ``AlertFigures`` snapshot."""

    def __init__(self, figures: AlertFigures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        labels = ["project", "rule_id", "rule", "group"]
        state = GaugeMetricFamily(
            "runtally_alert_state",
            "1 for the current state of an alert rule's group, 0 for its other states",
            labels=[*labels, "state"],
        )
        value = GaugeMetricFamily(
            "runtally_alert_value", "last measured value of an alert rule's group", labels=labels
        )
        for project, rule_id, rule, group, current, measured in self.figures.states:
            for candidate in State:
                state.add_metric([project, rule_id, rule, group, str(candidate)],
                                 float(candidate == current))  # fmt: skip
            if measured is not None:
                value.add_metric([project, rule_id, rule, group], measured)
        deliveries = GaugeMetricFamily(
            "runtally_alert_deliveries", "alert notifications by status", labels=["status"]
        )
        for status in ("pending", "delivered", "failed"):
            deliveries.add_metric([status], self.figures.deliveries.get(status, 0))
        yield from (state, value, deliveries)
