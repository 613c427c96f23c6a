"""What a notification says and how it is signed (pure).

The body is compact JSON; ``X-Runtally-Signature: sha256=<hex>`` is the HMAC-SHA256 of
the exact body bytes with the rule's secret, so a receiver verifies with
``hmac.compare_digest``. A Slack incoming webhook (``hooks.slack.com/services/...``)
gets a Slack message body (``text``) instead, since Slack refuses other shapes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runtally import constants


@dataclass(frozen=True)
class Notice:
    """One notification: a (rule, group) changed state (or is re-sent while firing)."""

    rule_id: int
    rule_name: str
    project: str
    measure: str
    op: str
    group: str
    state: str
    previous_state: str | None
    value: float | None
    threshold: float
    runs: int
    window_start: datetime
    window_end: datetime
    repeat: bool = False

    @property
    def dedupe_key(self) -> str:
        """Rule id + group + window end: the same evaluation never notifies twice."""
        return f"{self.rule_id}:{self.group}:{self.window_end.isoformat()}"


def generic_body(notice: Notice) -> dict[str, Any]:
    return {
        "rule_id": notice.rule_id,
        "rule_name": notice.rule_name,
        "project": notice.project,
        "measure": notice.measure,
        "op": notice.op,
        "group": notice.group,
        "state": notice.state,
        "previous_state": notice.previous_state,
        "value": notice.value,
        "threshold": notice.threshold,
        "runs": notice.runs,
        "window_start": notice.window_start.isoformat(),
        "window_end": notice.window_end.isoformat(),
        "dedupe_key": notice.dedupe_key,
        "repeat": notice.repeat,
    }


_EMOJI = {"alert": ":rotating_light:", "warn": ":warning:", "ok": ":white_check_mark:"}


def slack_text(notice: Notice) -> str:
    """One line a person reads in a Slack channel."""
    where = f" [{notice.group}]" if notice.group else ""
    value = "no value" if notice.value is None else f"{notice.value:g}"
    was = f" (was {notice.previous_state})" if notice.previous_state else ""
    return (
        f"{_EMOJI.get(notice.state, ':grey_question:')} *{notice.rule_name}*{where} is "
        f"*{notice.state}*{was}: {notice.measure} = {value} "
        f"(threshold {notice.op} {notice.threshold:g}, {notice.runs} runs, "
        f"{notice.window_start.isoformat()} to {notice.window_end.isoformat()})"
    )


def is_slack(url: str) -> bool:
    return url.startswith(constants.SLACK_WEBHOOK_PREFIX)


def encode(url: str, notice: Notice) -> str:
    """The body POSTed to ``url`` for ``notice``."""
    body: dict[str, Any] = generic_body(notice)
    if is_slack(url):
        body = {"text": slack_text(notice)}
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def sign(secret: str, body: bytes) -> str:
    """The ``X-Runtally-Signature`` header value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` (for receivers and tests)."""
    return hmac.compare_digest(sign(secret, body), header)
