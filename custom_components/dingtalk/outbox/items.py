"""What the outbox holds: queued messages and the calls waiting for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import asyncio

    from custom_components.dingtalk.api import DingTalkError

type Status = Literal["sent", "queued"]


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """Outcome of Outbox.async_send: all parts sent, or some still queued."""

    status: Status
    parts: int


@dataclass(slots=True, eq=False)
class Waiter:
    """One async_send call waiting for its parts."""

    deadline: float
    remaining: int
    future: asyncio.Future[Status]

    def resolve(self, status: Status) -> None:
        """Give the caller its answer unless it already has one."""
        if not self.future.done():
            self.future.set_result(status)

    def fail(self, err: DingTalkError) -> None:
        """Raise `err` to the caller unless it already has an answer."""
        if not self.future.done():
            self.future.set_exception(err)


@dataclass(slots=True, eq=False)
class Item:
    """One queued message (one part), as the worker sees it."""

    seq: int
    """Its place in the outbox's order (also its key in the durable queue)."""
    key: str
    """The message's idempotency key (the webhook's msgUuid)."""
    payload: dict[str, Any]
    enqueued_at: float
    """Wall-clock time it was accepted."""
    attempts: int = 0
    streak: int = 0
    last_error: str | None = None
    maybe_sent: bool = False
    """A request with it may have reached DingTalk without an answer coming back."""
    batch: str | None = None
    """The key of the combined message it went out in last (fixed from then on)."""
    single: bool = False
    """Never combine it again (a combined message with it was refused)."""
    not_before: float = 0.0
    held_since: float | None = None
    waiter: Waiter | None = field(default=None, repr=False)
