"""What a tag answer's note says of the days past raw retention its rows cannot answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runtally.api.tagged import lost_note
from runtally.store.selection import Selection

DAY = datetime(2026, 10, 1, tzinfo=UTC)
SELECTION = Selection("p", DAY, DAY + timedelta(days=60), tags={"customer": "c7"})


@pytest.mark.parametrize(
    ("folded", "combos", "note"),
    [
        (0, 0, None),
        (2, 0, "2 day(s) before raw retention folded `c7` into `__other__` and are left out"),
        (0, 3, "3 day(s) before raw retention keep `customer` without its agent/model/error "
               "type combinations (too many to roll up) and are left out"),
        (1, 1, "1 day(s) before raw retention folded `c7` into `__other__`; 1 day(s) before "
               "raw retention keep `customer` without its agent/model/error type "
               "combinations (too many to roll up) and are left out"),
    ],
)  # fmt: skip
def test_lost_note(folded: int, combos: int, note: str | None) -> None:
    days = [DAY + timedelta(days=n) for n in range(5)]
    assert lost_note(SELECTION, "customer", days[:folded], days[:combos]) == note
