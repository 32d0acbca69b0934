"""A rolling rate window: at most ``limit`` sends in any ``window`` seconds."""

from __future__ import annotations

from collections import deque


class RateWindow:
    """At most `limit` sends in any rolling `window` seconds (pure, clock-free)."""

    __slots__ = ("_sends", "limit", "window")

    def __init__(self, limit: int, window: float) -> None:
        """Create an empty window."""
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._sends: deque[float] = deque()

    def prune(self, now: float) -> None:
        """Forget sends that left the window by `now`."""
        while self._sends and self._sends[0] <= now - self.window:
            self._sends.popleft()

    def free(self, now: float) -> int:
        """Return how many sends fit now."""
        self.prune(now)
        return max(0, self.limit - len(self._sends))

    def delay_until_slot(self, now: float) -> float:
        """Seconds from `now` until one more send fits (0.0 when it fits now)."""
        self.prune(now)
        if len(self._sends) < self.limit:
            return 0.0
        return max(0.0, self._sends[-self.limit] + self.window - now)

    def record(self, at: float) -> None:
        """Count one send made at time `at` (kept in time order)."""
        if self._sends and at < self._sends[-1]:
            at = self._sends[-1]
        self._sends.append(at)

    def sends(self) -> tuple[float, ...]:
        """Return the times of the sends still remembered, oldest first."""
        return tuple(self._sends)
