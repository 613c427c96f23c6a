"""Alert rules and states in Postgres (``alert_rules``, ``alert_states``).

Every function takes a connection (``runtally.store.protocols.Connection``); callers own
the transaction. Rules are always looked up with their project, so one project's key
never reaches another project's rules.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runtally.alerts.rules import RuleSpec
from runtally.alerts.states import Previous, State, Step
from runtally.store.protocols import Connection

SECRET_BYTES = 32
_RULE_COLUMNS = "id, project, spec, secret, created_at, updated_at, evaluated_at"


@dataclass(frozen=True)
class Rule:
    """A stored rule."""

    id: int
    project: str
    spec: RuleSpec
    secret: str
    created_at: datetime
    updated_at: datetime
    evaluated_at: datetime | None


@dataclass(frozen=True)
class StoredState:
    """The current state of one (rule, group)."""

    rule_id: int
    group: str
    state: State
    value: float | None
    runs: int
    since: datetime
    evaluated_at: datetime
    last_notified_at: datetime | None

    def previous(self) -> Previous:
        return Previous(self.state, self.since, self.last_notified_at)


def _rule(row: Any) -> Rule:
    return Rule(
        id=row["id"],
        project=row["project"],
        spec=RuleSpec.model_validate(row["spec"]),
        secret=row["secret"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        evaluated_at=row["evaluated_at"],
    )


def _spec_json(spec: RuleSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json")


async def create_rule(conn: Connection, project: str, spec: RuleSpec) -> Rule:
    """Store a new rule of ``project`` with a freshly generated webhook secret."""
    row = await conn.fetchrow(
        f"INSERT INTO alert_rules (project, spec, secret) VALUES ($1, $2, $3)"
        f" RETURNING {_RULE_COLUMNS}",
        project,
        _spec_json(spec),
        secrets.token_urlsafe(SECRET_BYTES),
    )
    return _rule(row)


async def list_rules(conn: Connection, project: str | None = None) -> list[Rule]:
    """Rules of ``project`` (every project's when ``None``), oldest first."""
    rows = await conn.fetch(
        f"SELECT {_RULE_COLUMNS} FROM alert_rules"
        " WHERE $1::text IS NULL OR project = $1 ORDER BY id",
        project,
    )
    return [_rule(r) for r in rows]


async def get_rule(conn: Connection, project: str, rule_id: int) -> Rule | None:
    row = await conn.fetchrow(
        f"SELECT {_RULE_COLUMNS} FROM alert_rules WHERE id = $1 AND project = $2",
        rule_id,
        project,
    )
    return _rule(row) if row is not None else None


async def update_rule(conn: Connection, project: str, rule_id: int, spec: RuleSpec) -> Rule | None:
    """Replace the spec of a rule; ``None`` if ``project`` has no such rule."""
    row = await conn.fetchrow(
        f"UPDATE alert_rules SET spec = $3, updated_at = now() WHERE id = $1 AND project = $2"
        f" RETURNING {_RULE_COLUMNS}",
        rule_id,
        project,
        _spec_json(spec),
    )
    return _rule(row) if row is not None else None


async def delete_rule(conn: Connection, project: str | None, rule_id: int) -> bool:
    """Delete a rule with its states and deliveries; whether it existed.

    ``project`` ``None`` (the operator's CLI) deletes whatever project owns it.
    """
    deleted = await conn.fetchval(
        "DELETE FROM alert_rules WHERE id = $1 AND ($2::text IS NULL OR project = $2) RETURNING id",
        rule_id,
        project,
    )
    return deleted is not None


async def claim_due(conn: Connection, slot: datetime) -> list[Rule]:
    """Claim every enabled rule not yet evaluated in the interval starting at ``slot``.

    One statement: each row is updated by one caller only (a concurrent claimer waits on
    the row lock, then sees ``evaluated_at = slot`` and skips it), so with several
    schedulers every rule is evaluated once per interval.
    """
    rows = await conn.fetch(
        f"UPDATE alert_rules SET evaluated_at = $1"
        f" WHERE (evaluated_at IS NULL OR evaluated_at < $1)"
        f" AND coalesce((spec->>'enabled')::boolean, true)"
        f" RETURNING {_RULE_COLUMNS}",
        slot,
    )
    return sorted((_rule(r) for r in rows), key=lambda rule: rule.id)


def _state(row: Any) -> StoredState:
    return StoredState(
        rule_id=row["rule_id"],
        group=row["group_key"],
        state=State(row["state"]),
        value=row["value"],
        runs=row["runs"],
        since=row["since"],
        evaluated_at=row["evaluated_at"],
        last_notified_at=row["last_notified_at"],
    )


_STATE_COLUMNS = "rule_id, group_key, state, value, runs, since, evaluated_at, last_notified_at"


async def lock_states(conn: Connection, rule_id: int) -> dict[str, StoredState] | None:
    """Lock a rule (its state changes serialize on it) and read its states.

    ``None`` if the rule no longer exists (deleted while being evaluated).
    """
    if await conn.fetchval("SELECT id FROM alert_rules WHERE id = $1 FOR UPDATE", rule_id) is None:
        return None
    rows = await conn.fetch(
        f"SELECT {_STATE_COLUMNS} FROM alert_states WHERE rule_id = $1", rule_id
    )
    return {r["group_key"]: _state(r) for r in rows}


async def states_of(conn: Connection, rule_ids: list[int]) -> list[StoredState]:
    """States of the given rules, by rule and group."""
    rows = await conn.fetch(
        f"SELECT {_STATE_COLUMNS} FROM alert_states WHERE rule_id = ANY($1::bigint[])"
        " ORDER BY rule_id, group_key",
        rule_ids,
    )
    return [_state(r) for r in rows]


async def save_states(
    conn: Connection,
    rule_id: int,
    now: datetime,
    steps: list[tuple[str, float | None, int, Step]],
) -> None:
    """Upsert ``(group, value, runs, step)`` of one evaluation of one rule."""
    await conn.executemany(
        "INSERT INTO alert_states AS s"
        " (rule_id, group_key, state, value, runs, since, evaluated_at, last_notified_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz,"
        " CASE WHEN $8::boolean THEN $7::timestamptz END)"
        " ON CONFLICT (rule_id, group_key) DO UPDATE SET state = excluded.state,"
        " value = excluded.value, runs = excluded.runs, since = excluded.since,"
        " evaluated_at = excluded.evaluated_at,"
        " last_notified_at = coalesce(excluded.last_notified_at, s.last_notified_at)",
        [
            (rule_id, group, str(st.state), value, runs, st.since, now, st.notify)
            for group, value, runs, st in steps
        ],
    )


async def prune_states(conn: Connection, rule_id: int, before: datetime) -> int:
    """Forget groups that have been ``no_data`` and unmeasured since before ``before``
    (users who left the top N long ago), so a rule's states stay bounded."""
    status = await conn.execute(
        "DELETE FROM alert_states WHERE rule_id = $1 AND state = 'no_data' AND evaluated_at < $2",
        rule_id,
        before,
    )
    return int(status.split()[-1])
