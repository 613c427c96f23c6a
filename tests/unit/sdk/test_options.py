"""PublisherOptions: one frozen value; every bad value refused at once with its reason."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from runtally.config import Settings
from runtally.sdk.options import PublisherOptions


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"max_buffer": 0}, "max_buffer and batch_size must be >= 1"),
        ({"batch_size": 0}, "max_buffer and batch_size must be >= 1"),
        ({"on_full": "explode"}, "on_full must be 'block' or 'drop', not 'explode'"),
        ({"stream": ""}, "stream must not be empty"),
        ({"block_timeout_s": -1.0}, "block_timeout_s must be >= 0 or None"),
        ({"backoff_initial_s": 0.0}, "backoff_initial_s must be > 0 and <= backoff_max_s"),
        ({"backoff_initial_s": 2.0, "backoff_max_s": 1.0}, "backoff_initial_s must be > 0"),
        ({"marker_ttl_s": 0}, "marker_ttl_s must be >= 1"),
        ({"socket_timeout_s": 0.0}, "socket_timeout_s and close_timeout_s must be > 0"),
        ({"close_timeout_s": -1.0}, "socket_timeout_s and close_timeout_s must be > 0"),
        ({"linger_s": -0.1}, "socket_timeout_s and close_timeout_s must be > 0, linger_s >= 0"),
    ],
)
def test_bad_values_are_refused_with_the_reason(bad: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(f"PublisherOptions: {reason}")):
        PublisherOptions(**bad)


def test_options_are_frozen_and_take_settings() -> None:
    options = PublisherOptions.from_settings(
        Settings(stream="s1", retry_backoff_max_s=7.5), batch_size=9
    )
    assert (options.stream, options.backoff_max_s, options.batch_size) == ("s1", 7.5, 9)
    assert options.max_buffer == PublisherOptions().max_buffer
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.batch_size = 1  # type: ignore[misc]
    with pytest.raises(ValueError, match="batch_size"):
        PublisherOptions.from_settings(Settings(), batch_size=0)
