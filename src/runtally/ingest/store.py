"""Store step's edge: commit one batch of rows, isolating rows Postgres rejects.

``BatchStore.commit`` stores a batch in one transaction (``store.writes.insert_runs``) on
a connection of an asyncpg pool, and sorts failures in two kinds, because they need
opposite answers:

* ``StoreUnavailable``: Postgres unreachable, restarting, or any failure that is not
  about the data. Nothing was stored; the caller keeps the entries pending and retries
  the same batch later. The connection is dropped; the pool makes a new one when needed.
* a row error (a value Postgres refuses, e.g. a NUL character in text): retrying cannot
  help. ``commit_isolating`` bisects the batch so every good row is committed and only
  the poison rows are returned, each with the database's message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import asyncpg

from runtally.store.protocols import Connection, Pool
from runtally.store.writes import RunRecord, insert_runs

# Errors caused by the values of some row: the same rows fail every time.
ROW_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    UnicodeEncodeError,
)


class PooledConnection(Connection, Protocol):
    """A pool's connection, which can also be dropped at once (``asyncpg`` terminate)."""

    def terminate(self) -> None: ...


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


class BatchStore:
    """Commits batches through the connections of ``pool`` (its size bounds concurrency).

    A connection that failed for any reason but a row error is terminated before it goes
    back to the pool, which then replaces it on a later acquire.
    """

    def __init__(self, pool: Pool, close_timeout_s: float = 5.0) -> None:
        self.pool = pool
        self.close_timeout_s = close_timeout_s

    async def close(self) -> None:
        """Close the pool; a server that does not answer within the timeout is not waited for."""
        with contextlib.suppress(Exception):  # closing must not fail a shutdown
            await asyncio.wait_for(self.pool.close(), self.close_timeout_s)

    async def commit(self, records: Sequence[RunRecord]) -> int:
        """Store ``records`` in one transaction; how many were new.

        Raises ``RowRejected`` or ``StoreUnavailable``; in both cases nothing was stored.
        """
        try:
            async with self.pool.acquire() as conn:
                return await self._insert(conn, records)
        except RowRejected:
            raise
        except Exception as exc:  # unreachable, restarting, schema missing...: retry later
            raise StoreUnavailable(describe_db_error(exc)) from exc

    @staticmethod
    async def _insert(conn: PooledConnection, records: Sequence[RunRecord]) -> int:
        try:
            return await insert_runs(conn, records)
        except ROW_ERRORS as exc:
            raise RowRejected(describe_db_error(exc)) from exc
        except Exception:
            with contextlib.suppress(Exception):
                conn.terminate()  # a broken connection must not be handed out again
            raise

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
