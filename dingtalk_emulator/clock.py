"""Clocks: the machine's wall clock and a manual clock that tests move by hand."""

from __future__ import annotations

import math
import time
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the Unix time in seconds."""

    def now(self) -> float:
        """Return the current Unix time in seconds."""
        ...


class SystemClock:
    """The machine's wall clock (``time.time``)."""

    __slots__ = ()

    def now(self) -> float:
        """Return the current Unix time in seconds."""
        return time.time()

    def __repr__(self) -> str:
        """Name the clock."""
        return "SystemClock()"


class ManualClock:
    """A clock that stands still until ``advance`` moves it forward."""

    __slots__ = ("_now",)

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        """Start the clock at ``start`` (Unix seconds)."""
        if not math.isfinite(start):
            raise ValueError("start must be a finite number of seconds")
        self._now = float(start)

    def now(self) -> float:
        """Return the clock's current Unix time in seconds."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (>= 0) and return the new time."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("a manual clock only moves forward by a finite amount")
        self._now += seconds
        return self._now

    def __repr__(self) -> str:
        """Show the current time."""
        return f"ManualClock(start={self._now!r})"
