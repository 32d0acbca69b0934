"""Faults waiting to strike an app's APIs or its Stream gateway, in order."""

from __future__ import annotations

from collections import deque
from dataclasses import replace

from .app_models import AppFault, StreamFault


class FaultQueue[F: (AppFault, StreamFault)]:
    """Queued faults (FIFO), each striking for its ``count``."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        """Start empty."""
        self._items: deque[tuple[F, list[int]]] = deque()  # (fault, [strikes left])

    def add(self, fault: F) -> None:
        """Queue a fault after the others."""
        self._items.append((fault, [fault.count]))

    def take(self, kind: object = None) -> F | None:
        """Consume one strike of the first fault (of ``kind``, if given)."""
        for item in self._items:
            fault, left = item
            if kind is None or fault.kind is kind:
                left[0] -= 1
                if left[0] == 0:
                    self._items.remove(item)
                return fault
        return None

    def pending(self) -> list[F]:
        """Return the queued faults, each with the count still to strike."""
        return [replace(fault, count=left[0]) for fault, left in self._items]

    def clear(self) -> None:
        """Drop every queued fault."""
        self._items.clear()
