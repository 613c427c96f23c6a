"""Alert rules, their states per (rule, group), and the delivery outbox/log.

- ``alert_rules``: one row per rule, scoped to a project; ``spec`` is the validated rule
  (``runtally.alerts.rules.RuleSpec``) as JSON, so new rule fields need no migration;
  ``secret`` signs its webhooks; ``evaluated_at`` is the start of the last evaluation
  interval a scheduler claimed (each rule is evaluated once per interval).
- ``alert_states``: the current state of each (rule, group) ('' = the whole project).
- ``alert_deliveries``: one row per notification, the outbox senders claim from and the
  delivery log a rule's owner reads; ``dedupe_key`` is unique, so a notification is
  queued at most once.

Revision ID: 0004_alerts
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0004_alerts"
down_revision = "0003_prices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE alert_rules (
        id           bigserial   PRIMARY KEY,
        project      text        NOT NULL,
        spec         jsonb       NOT NULL,
        secret       text        NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now(),
        evaluated_at timestamptz
    )""")
    op.execute("CREATE INDEX alert_rules_project ON alert_rules (project, id)")
    op.execute("""
    CREATE TABLE alert_states (
        rule_id          bigint      NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
        group_key        text        NOT NULL,
        state            text        NOT NULL,
        value            double precision,
        runs             bigint      NOT NULL DEFAULT 0,
        since            timestamptz NOT NULL,
        evaluated_at     timestamptz NOT NULL,
        last_notified_at timestamptz,
        PRIMARY KEY (rule_id, group_key)
    )""")
    op.execute("""
    CREATE TABLE alert_deliveries (
        id              bigserial   PRIMARY KEY,
        rule_id         bigint      NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
        group_key       text        NOT NULL,
        state           text        NOT NULL,
        previous_state  text,
        dedupe_key      text        NOT NULL UNIQUE,
        url             text        NOT NULL,
        body            text        NOT NULL,
        status          text        NOT NULL DEFAULT 'pending',
        attempts        integer     NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL,
        last_status     integer,
        last_error      text,
        created_at      timestamptz NOT NULL,
        delivered_at    timestamptz
    )""")
    op.execute("CREATE INDEX alert_deliveries_rule ON alert_deliveries (rule_id, id DESC)")
    op.execute(
        "CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at)"
        " WHERE status = 'pending'"
    )


def downgrade() -> None:
    op.execute("DROP TABLE alert_deliveries")
    op.execute("DROP TABLE alert_states")
    op.execute("DROP TABLE alert_rules")
