"""The interface of one ingest step, in the spirit of getsentry/arroyo's processing steps.

Ingest is a chain ``read → Prepare → Persist → Acknowledge``; each step knows only the
next one. The reader submits batches to the head of the chain and, at shutdown, joins it
(drain what is in hand) or closes it (abandon it: unacknowledged entries stay pending and
are reclaimed by a live consumer).
"""

from __future__ import annotations

from typing import Protocol, TypeVar

T_contra = TypeVar("T_contra", contravariant=True)


class Step(Protocol[T_contra]):
    """One step of the chain, taking items of type ``T_contra``."""

    async def submit(self, item: T_contra) -> None:
        """Take ``item``; returns when the step has room for the next one (backpressure).

        An error of earlier work of this step or a later one may be raised here.
        """
        ...

    async def join(self, timeout: float | None = None) -> None:
        """Finish everything submitted so far, down to the last step."""
        ...

    async def close(self) -> None:
        """Cancel whatever is still in hand, down to the last step."""
        ...
