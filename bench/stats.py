"""Median, minimum and maximum of repeated measurements."""

from __future__ import annotations

from dataclasses import dataclass
import statistics
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from collections.abc import Iterable


@dataclass(frozen=True, slots=True)
class Summary:
    """The median, minimum and maximum of ``count`` measurements."""

    median: float
    minimum: float
    maximum: float
    count: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Self:
        """Summarise measurements (at least one)."""
        data = [float(value) for value in values]
        if not data:
            raise ValueError("no measurements to summarise")
        return cls(statistics.median(data), min(data), max(data), len(data))

    def scaled(self, factor: float) -> Summary:
        """Return the summary with every figure multiplied by ``factor``."""
        return Summary(
            self.median * factor,
            self.minimum * factor,
            self.maximum * factor,
            self.count,
        )

    @property
    def constant(self) -> bool:
        """Whether every measurement was the same."""
        return self.minimum == self.maximum


def ratio(numerator: Summary, denominator: Summary) -> float:
    """Return the ratio of two medians (0.0 when the denominator is 0)."""
    if denominator.median == 0:
        return 0.0
    return numerator.median / denominator.median


def percentile(values: Iterable[float], fraction: float) -> float:
    """Return the ``fraction`` quantile (0.95: p95), interpolated between samples."""
    data = sorted(float(value) for value in values)
    if not data:
        raise ValueError("no measurements to take a percentile of")
    position = (len(data) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (position - low)
