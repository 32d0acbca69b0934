"""Reporting: failed and expired messages reach the caller, the bus and the log."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Final

from custom_components.dingtalk.policy import MessageExpiredError

from .retry import REASON_EXPIRED, error_kind
from .store import StoreError

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Sequence

    from custom_components.dingtalk.api import DingTalkError

    from .items import Item
    from .worker import WorkerContext

_LOGGER: Final = logging.getLogger(__name__)

EVENT_DELIVERY_FAILED: Final = "dingtalk_delivery_failed"


class Reporter:
    """Drop messages that failed or expired, and tell everyone who must know."""

    def __init__(self, ctx: WorkerContext) -> None:
        """Remember the outbox's parts."""
        self._ctx = ctx
        self._settings = ctx.settings
        self._queue = ctx.queue

    async def async_fail(self, group: list[Item], err: DingTalkError) -> None:
        """Drop messages as failed and surface the failure."""
        ctx = self._ctx
        ctx.stats.failed += len(group)
        kind = error_kind(err)
        for item in group:
            _LOGGER.warning(
                "DingTalk %s: message %s failed (%s) and was dropped",
                ctx.name,
                item.key,
                kind,
            )
        # Out of the queue before anyone hears of it: a new call must not find it.
        self._queue.discard(group)
        self.report_failure(group, err, kind)
        await self._queue.async_done(group)

    # ---------------------------------------------------------------- expiry

    def is_expired(self, item: Item) -> bool:
        """Whether a message is older than max_age."""
        return self._settings.wall_clock() - item.enqueued_at > self._settings.max_age

    async def async_expire(self, items: list[Item]) -> None:
        """Count, log and surface expired messages."""
        ctx = self._ctx
        ctx.stats.dropped_expired += len(items)
        ctx.stats.last_error = REASON_EXPIRED
        for item in items:
            _LOGGER.warning(
                "DingTalk %s: message %s was queued for %.0f s, longer than the"
                " maximum of %.0f s; dropped",
                ctx.name,
                item.key,
                self._settings.wall_clock() - item.enqueued_at,
                self._settings.max_age,
            )
        self._queue.discard(items)
        self.report_failure(
            items, MessageExpiredError("message expired in the outbox"), REASON_EXPIRED
        )
        await self._queue.async_done(items)

    # ---------------------------------------------------------------- helpers

    def report_failure(
        self, items: Sequence[Item], err: DingTalkError, kind: str
    ) -> None:
        """Raise to waiting callers, fire one event per message, call on_failed."""
        ctx = self._ctx
        for item in items:
            if item.waiter is not None:
                item.waiter.fail(err)
            ctx.hass.bus.async_fire(
                EVENT_DELIVERY_FAILED,
                {
                    "entry_id": ctx.outbox_id,
                    "robot": ctx.name,
                    "reason": kind,
                    "msg_uuid": item.key,
                },
            )
        self.call_back(ctx.on_failed, err)

    def call_back[*Ts](self, func: Callable[[*Ts], None], *args: *Ts) -> None:
        """Run an integration callback; a bug there must not stop the worker."""
        try:
            func(*args)
        except Exception:
            _LOGGER.exception("DingTalk %s: error in outbox callback", self._ctx.name)


async def stored(write: asyncio.Future[None]) -> None:
    """Wait for a store write whose failure the store has logged already."""
    with contextlib.suppress(StoreError):
        await write
