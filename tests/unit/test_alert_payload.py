"""Notification bodies and signatures; the delivery back-off."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from runtally.alerts.deliver import backoff_s
from runtally.alerts.payload import Notice, encode, is_slack, sign, verify

END = datetime(2026, 3, 1, 12, tzinfo=UTC)
NOTICE = Notice(
    rule_id=7, rule_name="cost spike", project="p", measure="cost_usd", op=">", group="u-1",
    state="alert", previous_state="ok", value=12.5, threshold=10.0, runs=40,
    window_start=END - timedelta(hours=1), window_end=END,
)  # fmt: skip


def test_generic_body_has_every_field() -> None:
    body = json.loads(encode("https://example.com/h", NOTICE))
    assert body == {
        "rule_id": 7, "rule_name": "cost spike", "project": "p", "measure": "cost_usd",
        "op": ">", "group": "u-1", "state": "alert", "previous_state": "ok", "value": 12.5,
        "threshold": 10.0, "runs": 40, "window_start": "2026-03-01T11:00:00+00:00",
        "window_end": "2026-03-01T12:00:00+00:00", "repeat": False,
        "dedupe_key": "7:u-1:2026-03-01T12:00:00+00:00",
    }  # fmt: skip


def test_slack_webhooks_get_a_slack_message() -> None:
    url = "https://hooks.slack.com/services/T000/B000/XXXX"
    assert is_slack(url)
    assert not is_slack("https://example.com/hooks.slack.com/services/x")
    body = json.loads(encode(url, NOTICE))
    assert set(body) == {"text"}
    assert "*cost spike* [u-1] is *alert* (was ok)" in body["text"]
    assert "threshold > 10" in body["text"]


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = encode("https://example.com/h", NOTICE).encode()
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert sign("s3cret", body) == f"sha256={expected}"
    assert verify("s3cret", body, f"sha256={expected}")
    assert not verify("other", body, f"sha256={expected}")
    assert not verify("s3cret", body + b" ", f"sha256={expected}")


@pytest.mark.parametrize(
    ("attempts", "base", "cap", "expected"),
    [(1, 2.0, 300.0, 2.0), (2, 2.0, 300.0, 4.0), (5, 2.0, 300.0, 32.0), (20, 2.0, 300.0, 300.0),
     (0, 1.0, 10.0, 1.0)],
)  # fmt: skip
def test_backoff_doubles_up_to_a_cap(
    attempts: int, base: float, cap: float, expected: float
) -> None:
    assert backoff_s(attempts, base, cap) == expected
