"""The delivery outbox and log (``alert_deliveries``).

An evaluation queues its notifications in the same transaction that stores the new
states, so a state change and its notification are never one without the other. Senders
claim due rows with ``FOR UPDATE SKIP LOCKED`` and a lease (a claimed row is due again
only after the lease, should its sender die), so concurrent senders never POST the same
row at once. Rows stay as the rule's delivery log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from runtally.alerts.payload import Notice, encode
from runtally.store.protocols import Connection

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True)
class Claimed:
    """A delivery a sender holds: what to POST and how to sign it."""

    id: int
    rule_id: int
    url: str
    body: str
    secret: str
    attempts: int  # including this one


async def enqueue(conn: Connection, url: str, notices: list[Notice], now: datetime) -> int:
    """Queue ``notices`` for ``url``; a dedupe key already queued is skipped. Returns
    how many were queued."""
    queued = 0
    for n in notices:
        new = await conn.fetchval(
            "INSERT INTO alert_deliveries (rule_id, group_key, state, previous_state,"
            " dedupe_key, url, body, next_attempt_at, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
            " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
            n.rule_id, n.group, n.state, n.previous_state, n.dedupe_key, url,
            encode(url, n), now,
        )  # fmt: skip
        queued += new is not None
    return queued


async def claim(conn: Connection, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries (counting the attempt) for ``lease``."""
    rows = await conn.fetch(
        "UPDATE alert_deliveries d SET attempts = d.attempts + 1, next_attempt_at = $2"
        " FROM alert_rules r WHERE r.id = d.rule_id AND d.id IN ("
        "   SELECT id FROM alert_deliveries WHERE status = 'pending' AND next_attempt_at <= $1"
        "   ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)"
        " RETURNING d.id, d.rule_id, d.url, d.body, r.secret, d.attempts",
        now,
        now + lease,
        limit,
    )
    return [Claimed(**dict(r)) for r in rows]


async def delivered(conn: Connection, item: Claimed, status: int, now: datetime) -> None:
    await conn.execute(
        "UPDATE alert_deliveries SET status = 'delivered', delivered_at = $2,"
        " last_status = $3, last_error = NULL WHERE id = $1",
        item.id,
        now,
        status,
    )


async def retry_or_fail(
    conn: Connection, item: Claimed, status: int | None, error: str, retry_at: datetime | None
) -> None:
    """Record a failed attempt: due again at ``retry_at``, or failed for good (``None``)."""
    await conn.execute(
        "UPDATE alert_deliveries SET last_status = $2, last_error = $3,"
        " status = CASE WHEN $4::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,"
        " next_attempt_at = coalesce($4, next_attempt_at) WHERE id = $1",
        item.id,
        status,
        error[:500],
        retry_at,
    )


async def next_due(conn: Connection) -> datetime | None:
    """When the earliest pending delivery is due (``None``: nothing pending)."""
    due: datetime | None = await conn.fetchval(
        "SELECT min(next_attempt_at) FROM alert_deliveries WHERE status = 'pending'"
    )
    return due


_LOG_COLUMNS = (
    "id, group_key, state, previous_state, dedupe_key, status, attempts, last_status,"
    " last_error, created_at, delivered_at, next_attempt_at, body"
)


async def log(conn: Connection, rule_id: int, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` deliveries of a rule, newest first."""
    rows = await conn.fetch(
        f"SELECT {_LOG_COLUMNS} FROM alert_deliveries WHERE rule_id = $1 ORDER BY id DESC LIMIT $2",
        rule_id,
        limit,
    )
    return [dict(r) for r in rows]
