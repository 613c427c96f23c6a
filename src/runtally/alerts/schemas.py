"""JSON shapes of the alerts API (``/v1/alerts``) and their making from stored rows."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from runtally.alerts.rules import RuleSpec
from runtally.alerts.store import Rule, StoredState


class StateOut(BaseModel):
    """The current state of one group of a rule ('' = the whole project)."""

    group: str
    state: str
    value: float | None
    runs: int
    since: datetime
    evaluated_at: datetime
    last_notified_at: datetime | None


class RuleOut(RuleSpec):
    """A stored rule: its spec, id, project, times and current states."""

    id: int
    project: str
    created_at: datetime
    updated_at: datetime
    evaluated_at: datetime | None
    states: list[StateOut]


class CreatedRule(RuleOut):
    """A new rule with its webhook signing secret (shown only here)."""

    secret: str


class RuleList(BaseModel):
    project: str
    rules: list[RuleOut]


class DeliveryOut(BaseModel):
    """One notification: what was sent and how delivering it went."""

    id: int
    group: str
    state: str
    previous_state: str | None
    dedupe_key: str
    status: str  # pending, delivered or failed
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime
    payload: dict[str, Any]


class DeliveryLog(BaseModel):
    rule_id: int
    deliveries: list[DeliveryOut]


def state_out(s: StoredState) -> StateOut:
    return StateOut(
        group=s.group, state=str(s.state), value=s.value, runs=s.runs, since=s.since,
        evaluated_at=s.evaluated_at, last_notified_at=s.last_notified_at,
    )  # fmt: skip


def rule_out(rule: Rule, states: list[StoredState]) -> dict[str, Any]:
    """The fields of ``RuleOut`` for ``rule`` (``states``: its own states)."""
    return {
        **rule.spec.model_dump(),
        "id": rule.id,
        "project": rule.project,
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
        "evaluated_at": rule.evaluated_at,
        "states": [state_out(s) for s in states if s.rule_id == rule.id],
    }


def delivery_out(row: dict[str, Any]) -> DeliveryOut:
    fields = {k: v for k, v in row.items() if k not in ("group_key", "body")}
    return DeliveryOut(group=row["group_key"], payload=json.loads(row["body"]), **fields)


def merged_spec(spec: RuleSpec, patch: dict[str, Any]) -> RuleSpec:
    """``spec`` with the fields of ``patch`` replaced (``filters`` as a whole);
    ``ValidationError`` if the result is not a valid rule."""
    return RuleSpec.model_validate({**spec.model_dump(mode="json"), **patch})


def describe(exc: ValidationError) -> str:
    """One line naming every invalid field and why."""
    parts = []
    for error in exc.errors():
        loc = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{loc}: {error['msg']}" if loc else str(error["msg"]))
    return "; ".join(parts) or "invalid rule"
