"""Migration 0004_alerts: up with data in the existing tables, rules/states/deliveries
stored and cascaded, down (alert tables gone, the rest intact), and up again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command

from runtally.alerts import outbox, store
from runtally.alerts.payload import Notice
from runtally.alerts.rules import RuleSpec
from runtally.alerts.states import State, Step
from runtally.api.keys import create_key
from runtally.config import Settings
from runtally.devstack.servers import PostgresServer
from runtally.store.engine import connect
from runtally.store.migrate import alembic_config, upgrade
from tests.integration.migrating import database_at

pytestmark = pytest.mark.integration

NOW = datetime(2026, 5, 4, 10, tzinfo=UTC)
SPEC = RuleSpec(name="r", measure="runs", op=">", threshold=1, window="1h",
                webhook_url="https://example.com/h")  # fmt: skip
TABLES = ("alert_rules", "alert_states", "alert_deliveries")


async def _with(dsn: str, work: Any) -> Any:
    conn = await connect(Settings(database_url=dsn))
    try:
        return await work(conn)
    finally:
        await conn.close()


async def fill(conn: Any) -> int:
    await create_key(conn, "p", "kept")
    rule = await store.create_rule(conn, "p", SPEC)
    await store.save_states(conn, rule.id, NOW, [("", 5.0, 5, Step(State.ALERT, None, NOW, True))])
    notice = Notice(rule.id, "r", "p", "runs", ">", "", "alert", None, 5.0, 1.0, 5, NOW, NOW)
    assert await outbox.enqueue(conn, SPEC.webhook_url, [notice], NOW) == 1
    assert await outbox.enqueue(conn, SPEC.webhook_url, [notice], NOW) == 0  # dedupe key
    return rule.id


async def counts(conn: Any) -> dict[str, int]:
    tables = await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_name = ANY($1::text[])",
        list(TABLES),
    )
    return {t["table_name"]: await conn.fetchval(f"SELECT count(*) FROM {t['table_name']}")
            for t in tables}  # fmt: skip


def test_up_down_up_with_data(pg_server: PostgresServer) -> None:
    dsn, settings = database_at(pg_server, "migrate04", "0002")
    asyncio.run(_with(dsn, lambda c: create_key(c, "p", "before")))
    upgrade(settings)

    rule_id = asyncio.run(_with(dsn, fill))
    assert asyncio.run(_with(dsn, counts)) == dict.fromkeys(TABLES, 1)
    stored = asyncio.run(_with(dsn, lambda c: store.get_rule(c, "p", rule_id)))
    assert stored is not None
    assert stored.spec == SPEC
    assert asyncio.run(_with(dsn, lambda c: store.delete_rule(c, "p", rule_id)))
    assert asyncio.run(_with(dsn, counts)) == dict.fromkeys(TABLES, 0)  # cascaded
    asyncio.run(_with(dsn, fill))

    command.downgrade(alembic_config(settings), "0002")
    assert asyncio.run(_with(dsn, counts)) == {}
    keys = asyncio.run(_with(dsn, lambda c: c.fetchval("SELECT count(*) FROM api_keys")))
    assert keys == 3  # the tables before 0004 keep their rows

    upgrade(settings)
    assert asyncio.run(_with(dsn, counts)) == dict.fromkeys(TABLES, 0)
    asyncio.run(_with(dsn, fill))
    assert asyncio.run(_with(dsn, counts)) == dict.fromkeys(TABLES, 1)
