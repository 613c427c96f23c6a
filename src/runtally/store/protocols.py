"""The Postgres edge as typed Protocols.

asyncpg ships no type information, so code that takes a connection or a pool names these
Protocols instead of ``Any``: mypy then checks every call at the edge. asyncpg's
``Connection``, ``Pool`` and pool-acquired connections satisfy them structurally; an
in-memory fake only has to implement the methods it is used with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol


class Record(Protocol):
    """A result row: by column name or position, like ``asyncpg.Record``."""

    def __getitem__(self, key: str | int, /) -> Any: ...

    def get(self, key: str, default: Any = None, /) -> Any: ...

    def keys(self) -> Iterable[str]: ...


class Transaction(AbstractAsyncContextManager[Any], Protocol):
    """``async with conn.transaction(): ...``"""


class Connection(Protocol):
    """The subset of ``asyncpg.Connection`` runtally uses."""

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str: ...

    async def executemany(
        self, command: str, args: Iterable[Sequence[Any]], *, timeout: float | None = None
    ) -> None: ...

    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[Any]: ...

    async def fetchrow(
        self, query: str, *args: Any, timeout: float | None = None
    ) -> Any | None: ...

    async def fetchval(
        self, query: str, *args: Any, column: int = 0, timeout: float | None = None
    ) -> Any: ...

    async def copy_records_to_table(
        self, table_name: str, *, records: Iterable[Sequence[Any]], columns: Sequence[str]
    ) -> str: ...

    def transaction(
        self, *, isolation: str | None = None, readonly: bool = False, deferrable: bool = False
    ) -> Transaction: ...

    def is_closed(self) -> bool: ...

    def is_in_transaction(self) -> bool: ...

    def terminate(self) -> None:
        """Drop the connection at once (a pool replaces it on a later acquire)."""

    async def close(self, *, timeout: float | None = None) -> None: ...


class Pool(Protocol):
    """The subset of ``asyncpg.Pool`` runtally uses."""

    def acquire(
        self, *, timeout: float | None = None
    ) -> AbstractAsyncContextManager[Connection]: ...

    async def close(self) -> None: ...
