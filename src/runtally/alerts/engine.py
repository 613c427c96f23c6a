"""One alert pass: claim the rules due this interval, evaluate them, deliver.

Evaluation of a rule: its readings are measured in one REPEATABLE READ READ ONLY
snapshot (``alerts.measure``, the read API's path); then, in one transaction that locks
the rule row, the previous states are read, the state machine (``alerts.states``)
steps every group, the new states are stored and the notifications queued in the
outbox. The lock serializes two evaluators of the same rule, so a transition is
notified once even if they overlap, and an evaluation older than the stored states is
dropped (states never step back in time). Delivery follows from the outbox (``deliver``).

A group stored from an earlier evaluation that is no longer among the measured groups
(no runs in the window, or out of the top N) is stepped as ``no_data``, and forgotten
once it has stayed so, unmeasured, for a whole window.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from runtally.alerts import outbox, store
from runtally.alerts.deliver import Clock, Poster, Sent, deliver
from runtally.alerts.measure import Reading, read_groups
from runtally.alerts.payload import Notice
from runtally.alerts.states import Limits, State, Step, applied_threshold, classify, step
from runtally.alerts.store import Rule, StoredState
from runtally.config import Settings
from runtally.store.protocols import Pool

log = logging.getLogger("runtally.alerts")
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
CONCURRENCY = 4  # rules measured at once (each holds one pooled connection)


@dataclass
class PassStats:
    """What one pass did."""

    rules: int = 0
    groups: int = 0
    notices: int = 0
    errors: int = 0
    sent: Sent = field(default_factory=Sent)

    def summary(self) -> str:
        s = self.sent
        return (
            f"evaluated {self.rules} rules ({self.groups} groups, {self.errors} errors); "
            f"queued {self.notices} notifications; delivered {s.delivered}, "
            f"retrying {s.retrying}, failed {s.failed}"
        )


def slot_of(now: datetime, interval_s: int) -> datetime:
    """Start of the evaluation interval holding ``now`` (aligned to 2000-01-01 UTC)."""
    seconds = int((now - EPOCH).total_seconds()) // interval_s * interval_s
    return EPOCH + timedelta(seconds=seconds)


def _with_vanished(readings: list[Reading], stored: dict[str, StoredState]) -> list[Reading]:
    seen = {r.group for r in readings}
    gone = [
        Reading(group, None, 0)
        for group, s in sorted(stored.items())
        if group not in seen and s.state != State.NO_DATA
    ]
    return readings + gone


def _notice(rule: Rule, reading: Reading, st: Step, start: datetime, now: datetime) -> Notice:
    spec = rule.spec
    limits = Limits(spec.op, spec.threshold, spec.warn_threshold, spec.min_runs)
    return Notice(
        rule_id=rule.id, rule_name=spec.name, project=rule.project, measure=spec.measure,
        op=spec.op, group=reading.group, state=str(st.state),
        previous_state=str(st.previous) if st.previous is not None else None,
        value=reading.value, threshold=applied_threshold(st.state, limits), runs=reading.runs,
        window_start=start, window_end=now, repeat=st.repeat,
    )  # fmt: skip


def _steps(
    rule: Rule, readings: list[Reading], stored: dict[str, StoredState], now: datetime
) -> list[tuple[Reading, Step]]:
    spec = rule.spec
    limits = Limits(spec.op, spec.threshold, spec.warn_threshold, spec.min_runs)
    out = []
    for reading in _with_vanished(readings, stored):
        previous = stored[reading.group].previous() if reading.group in stored else None
        current = classify(reading.value, reading.runs, limits)
        out.append((reading, step(previous, current, now, spec.repeat_span)))
    return out


async def evaluate_rule(pool: Pool, rule: Rule, now: datetime) -> tuple[int, int]:
    """Evaluate ``rule`` over the window ending at ``now``; (groups, notices queued)."""
    start = now - rule.spec.window_span
    async with (
        pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        readings = await read_groups(conn, rule.project, rule.spec, start, now)
    async with pool.acquire() as conn, conn.transaction():
        stored = await store.lock_states(conn, rule.id)
        if stored is None or any(s.evaluated_at > now for s in stored.values()):
            return 0, 0  # deleted meanwhile, or a later evaluation already applied
        steps = _steps(rule, readings, stored, now)
        await store.save_states(
            conn, rule.id, now, [(r.group, r.value, r.runs, s) for r, s in steps]
        )
        await store.prune_states(conn, rule.id, start)
        notices = [_notice(rule, r, s, start, now) for r, s in steps if s.notify]
        queued = await outbox.enqueue(conn, rule.spec.webhook_url, notices, now)
    return len(steps), queued


async def evaluate_due(pool: Pool, settings: Settings, clock: Clock) -> PassStats:
    """Claim this interval's rules and evaluate each (a failing rule is logged, counted
    and skipped; the others go on)."""
    now = clock()
    async with pool.acquire() as conn:
        rules = await store.claim_due(conn, slot_of(now, settings.alerts_interval_s))
    stats = PassStats(rules=len(rules))
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(rule: Rule) -> None:
        async with gate:
            try:
                groups, queued = await evaluate_rule(pool, rule, now)
            except Exception:  # one broken rule must not stop the others
                log.exception("alert rule %s could not be evaluated", rule.id)
                stats.errors += 1
                return
        stats.groups += groups
        stats.notices += queued

    await asyncio.gather(*(one(rule) for rule in rules))
    return stats


async def run_pass(
    pool: Pool, settings: Settings, post: Poster, clock: Clock, budget_s: float | None = None
) -> PassStats:
    """Evaluate the rules due now, then deliver what is due (retrying within the budget)."""
    stats = await evaluate_due(pool, settings, clock)
    budget = settings.alerts_delivery_budget_s if budget_s is None else budget_s
    stats.sent = await deliver(pool, settings, post, clock, budget)
    return stats
