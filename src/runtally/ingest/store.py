"""Store step: commit one batch of rows, isolating rows Postgres rejects.

``BatchStore.commit`` stores a batch in one transaction (``store.writes.insert_runs``)
and sorts failures in two kinds, because they need opposite answers:

* ``StoreUnavailable``: Postgres unreachable, restarting, or any failure that is not
  about the data. Nothing was stored; the caller keeps the entries pending and retries
  the same batch later. The connection is dropped and made again on the next call.
* a row error (a value Postgres refuses, e.g. a NUL character in text): retrying cannot
  help. ``commit_isolating`` bisects the batch so every good row is committed and only
  the poison rows are returned, each with the database's message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import asyncpg

from runtally.events import RunEvent
from runtally.store.writes import RunRecord, insert_runs, run_record

# Errors caused by the values of some row: the same rows fail every time.
ROW_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    UnicodeEncodeError,
)


class Pricer(Protocol):
    """``runtally.pricing.PriceTable``: (cost or None when unpriced, table version)."""

    def cost(self, event: RunEvent) -> tuple[Decimal | None, str | None]: ...


def priced_record(event: RunEvent, prices: Pricer) -> RunRecord:
    """The row of ``event`` with its cost: as sent, else from the price table, else NULL."""
    if event.cost_usd is not None:
        return run_record(event, event.cost_usd, "event", None)
    cost, version = prices.cost(event)
    return run_record(event, cost, None if cost is None else "price_table", version)


class StoreUnavailable(Exception):
    """The batch could not be stored for a reason unrelated to its rows; retry later."""


class RowRejected(Exception):
    """Postgres refused a value of some row of the batch."""


def describe_db_error(exc: BaseException) -> str:
    """One line: the error class and Postgres' message."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


@dataclass
class Isolated:
    """Outcome of ``commit_isolating``: new rows, and rejected row positions → reason."""

    new: int = 0
    rejected: dict[int, str] = field(default_factory=dict)


@dataclass
class _Slot:
    conn: Any = None


class BatchStore:
    """Commits batches through up to ``size`` connections made by ``connect``.

    A connection that failed for any reason but a row error is dropped and made again
    on its next use. ``size`` bounds how many commits run at once.
    """

    def __init__(self, connect: Callable[[], Awaitable[Any]], size: int = 1) -> None:
        self._connect = connect
        self._all = [_Slot() for _ in range(size)]
        self._idle: asyncio.Queue[_Slot] = asyncio.Queue()
        for slot in self._all:
            self._idle.put_nowait(slot)

    async def close(self) -> None:
        for slot in self._all:
            conn, slot.conn = slot.conn, None
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)

    async def commit(self, records: Sequence[RunRecord]) -> int:
        """Store ``records`` in one transaction; how many were new.

        Raises ``RowRejected`` or ``StoreUnavailable``; in both cases nothing was stored.
        """
        slot = await self._idle.get()
        try:
            if slot.conn is None or slot.conn.is_closed():
                slot.conn = await self._connect()
            return await insert_runs(slot.conn, records)
        except ROW_ERRORS as exc:
            raise RowRejected(describe_db_error(exc)) from exc
        except Exception as exc:  # unreachable, restarting, schema missing...: retry later
            conn, slot.conn = slot.conn, None
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.terminate()
            raise StoreUnavailable(describe_db_error(exc)) from exc
        finally:
            self._idle.put_nowait(slot)

    async def commit_isolating(self, records: Sequence[RunRecord]) -> Isolated:
        """Commit every row Postgres accepts; return the rejected ones by position.

        A batch with a poison row is split in halves until the poison rows stand alone
        (about 2·log2(n) transactions per poison row). Raises ``StoreUnavailable``.
        """
        outcome = Isolated()
        await self._isolate(records, 0, outcome)
        return outcome

    async def _isolate(self, part: Sequence[RunRecord], start: int, outcome: Isolated) -> None:
        """Commit ``part``, the records from position ``start`` on, halving on row errors."""
        # Positions as an offset, not (position, record) pairs: the common case, a batch
        # that commits whole, then builds nothing per record.
        try:
            outcome.new += await self.commit(part)
            return
        except RowRejected as exc:
            if len(part) == 1:
                outcome.rejected[start] = str(exc)
                return
        mid = len(part) // 2
        await self._isolate(part[:mid], start, outcome)
        await self._isolate(part[mid:], start + mid, outcome)
