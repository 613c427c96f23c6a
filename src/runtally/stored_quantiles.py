"""A rollup row's percentiles as stored when it was written, standing in for its bins.

A rollup row keeps p50…p99 beside its latency bins (``lat_pcts``), computed by
``runtally.quantiles`` and clamped to the row's min/max. Where that row alone makes an
answer bucket, the read takes those five numbers instead of the bins
(``runtally.api.rollups``): the answer is the same, without shipping and folding a
sketch. The stand-in cannot be merged, subtracted or folded; any attempt raises, so a
part read this way can never silently lose its runs in a merge.
"""

from __future__ import annotations

from collections.abc import Sequence

from runtally.sketch import QUANTILES, Ints, LatencySketch

NAMES = tuple(name for name, _ in QUANTILES)


class StoredQuantiles(LatencySketch):
    """p50…p99 of a sketch whose bins were not read (``mergeable`` is false)."""

    __slots__ = ("values",)
    mergeable = False

    def __init__(self, values: Sequence[float | None]) -> None:
        if len(values) != len(NAMES):
            raise ValueError(f"need {len(NAMES)} stored percentiles, got {len(values)}")
        super().__init__()
        self.values = tuple(values)

    def as_dict(self) -> dict[str, float | None]:
        return dict(zip(NAMES, self.values, strict=True))

    def quantiles(
        self, low: float | None = None, high: float | None = None
    ) -> dict[str, float | None]:
        """The stored values (already clamped to the row's own min/max)."""
        return self.as_dict()

    def _refuse(self) -> ValueError:
        return ValueError("stored percentiles have no bins: read the row's bins to merge it")

    @property
    def bins(self) -> dict[int, int]:
        raise self._refuse()

    def parts(self) -> list[tuple[Ints, Ints]]:
        raise self._refuse()

    def merge(self, other: LatencySketch) -> None:
        raise self._refuse()

    def subtract(self, other: LatencySketch) -> None:
        raise self._refuse()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredQuantiles):
            return NotImplemented
        return self.values == other.values

    def __repr__(self) -> str:
        return f"StoredQuantiles({self.as_dict()})"
