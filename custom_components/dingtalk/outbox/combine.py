"""Combining: when a sender is at its limit, waiting messages go out as one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .queue import batch_key

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Sequence

    from .items import Item
    from .queue import DurableQueue
    from .rate import RateWindow
    from .sender import Sender
    from .settings import OutboxSettings

MAX_COMBINED: Final = 100
"""Most messages looked at for one combined message (bounds the work)."""


class Combiner:
    """Decide whether the head waits for company and what goes out with it."""

    def __init__(
        self,
        sender: Sender,
        settings: OutboxSettings,
        queue: DurableQueue,
        window: RateWindow,
        *,
        enabled: bool,
    ) -> None:
        """Remember the outbox's parts; ``enabled`` is the entry's option."""
        self._sender = sender
        self._settings = settings
        self._queue = queue
        self._window = window
        self._enabled = enabled

    def active(self, item: Item, now: float) -> bool:
        """Whether the sender is near its limit and ``item`` may join others."""
        return (
            self._enabled
            and self._settings.combine
            and self._settings.pace
            and not item.single
            and item.batch is None
            and self._window.free(now) <= self._settings.combine_reserve
        )

    def hold(self, item: Item, now: float) -> float:
        """Seconds ``item`` waits for others to join it (0: it may go now)."""
        if not self.active(item, now):
            return 0.0
        if item.held_since is None:
            item.held_since = now
        hold = item.held_since + self._settings.combine_delay - now
        if hold > 0:
            # Callers do not wait out the hold: the messages that follow them can
            # only join if they are not kept waiting for this one.
            for waiting in self._queue.leading(MAX_COMBINED):
                if waiting.waiter is not None:
                    waiting.waiter.resolve("queued")
        return max(hold, 0.0)

    def group(self, head: Item) -> tuple[list[Item], dict[str, Any], str | None]:
        """Return the messages of the next request, its payload and batch key."""
        sender = self._sender
        if head.batch is not None:
            # It went out combined before: the same parts again, for the same key.
            group = [
                item
                for item in self._queue.leading(MAX_COMBINED)
                if item.batch == head.batch
            ]
            combined = sender.combine([i.payload for i in group], head.batch)
            if combined is not None and batch_key([i.key for i in group]) == head.batch:
                return group, self._resent(group, combined), head.batch
            self._queue.unbatch(group).add_done_callback(_consume)
            return [head], self._resent([head], head.payload), None
        now = self._settings.clock()
        group = [head]
        payload = head.payload
        if self.active(head, now):
            # Followers are never single or batched: those are always at the head.
            for item in self._queue.leading(MAX_COMBINED)[1:]:
                trial = [*group, item]
                key = batch_key([i.key for i in trial])
                combined = sender.combine([i.payload for i in trial], key)
                if combined is None:
                    break
                group, payload = trial, combined
        if len(group) == 1:
            return group, self._resent(group, head.payload), None
        return group, self._resent(group, payload), batch_key([i.key for i in group])

    def _resent(self, group: Sequence[Item], payload: dict[str, Any]) -> dict[str, Any]:
        """Mark a payload that may have been delivered already (no idempotency key)."""
        if self._sender.idempotent or not any(i.maybe_sent for i in group):
            return payload
        return self._sender.mark_resent(payload)


def _consume(write: asyncio.Future[None]) -> None:
    """Retrieve a store write's outcome nobody waits for (logged by the store)."""
    if not write.cancelled():
        write.exception()
