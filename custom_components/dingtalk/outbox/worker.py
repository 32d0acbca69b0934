"""The worker: sends the head of the queue whenever pace, pauses and back-off allow."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import logging
from typing import TYPE_CHECKING, Final

from custom_components.dingtalk.api import (
    DingTalkApiError,
    DingTalkError,
    DingTalkTransportError,
)
from custom_components.dingtalk.policy import (
    MaybeLostError,
    Outcome,
    UnexpectedDeliveryError,
)

from .combine import Combiner
from .halt import Halt, HaltState
from .report import Reporter, stored
from .retry import decide, error_kind, send_delay
from .sender import UnsureDelivery
from .store import StoreError

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from homeassistant.core import HomeAssistant

    from .items import Item
    from .queue import DurableQueue
    from .rate import RateWindow
    from .sender import Sender
    from .settings import OutboxSettings
    from .stats import OutboxStats

_LOGGER: Final = logging.getLogger(__name__)

EVENT_DELIVERY_FAILED: Final = "dingtalk_delivery_failed"
PAUSE_RATE_LIMITED: Final = "rate_limited"
STORE_RETRY_DELAY: Final = 5.0
"""Seconds before trying again when the store refused the write-ahead record."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerContext:
    """What the worker shares with its outbox."""

    hass: HomeAssistant
    outbox_id: str
    name: str
    sender: Sender
    settings: OutboxSettings
    queue: DurableQueue
    window: RateWindow
    stats: OutboxStats
    on_delivered: Callable[[], None]
    on_failed: Callable[[DingTalkError], None]
    combine: bool
    unsure: UnsureDelivery


class Worker:
    """One outbox's sending loop, its pauses and its reaction to every answer."""

    def __init__(self, ctx: WorkerContext) -> None:
        """Start idle; the outbox runs ``async_run`` as a task."""
        self._ctx = ctx
        self._settings = ctx.settings
        self._queue = ctx.queue
        self._wakeup = asyncio.Event()
        self.progress = asyncio.Event()
        """Set whenever the queue moved (for the shutdown drain)."""
        self.in_flight = False
        self.holding = False
        """Messages near the limit wait for others to join them (callers don't)."""
        self._stopping = False
        self.sleeping_until: float | None = None
        self.paused_until: float | None = None
        self.halts = HaltState(ctx.hass, ctx.name)
        self._halts = self.halts
        self._reporter = Reporter(ctx)
        self._combiner = Combiner(
            ctx.sender, ctx.settings, ctx.queue, ctx.window, enabled=ctx.combine
        )

    # ----------------------------------------------------------------- public

    def wake(self) -> None:
        """Tell the loop that messages arrived."""
        self._wakeup.set()

    def pause_from_store(self, wall_until: float | None) -> None:
        """Restore a stored throttle pause (wall time)."""
        if wall_until is None:
            return
        remaining = wall_until - self._settings.wall_clock()
        if remaining > 0:
            self.paused_until = self._settings.clock() + remaining

    async def async_probe(self, halt: Halt, bound: float) -> DingTalkError | None:
        """Have the head sent now during ``halt`` (HaltState.async_probe)."""
        return await self._halts.async_probe(halt, bound)

    def halted(self) -> Halt | None:
        """Return the sender-level pause in force, if any."""
        return self._halts.current(self._settings.clock())

    async def async_expire_everywhere(self) -> None:
        """Drop every expired message, wherever it is in the queue."""
        expired = [item for item in self._queue if self._reporter.is_expired(item)]
        if expired:
            await self._reporter.async_expire(expired)

    def release_all(self) -> None:
        """Answer "queued" to every waiting call and every probe (stopping)."""
        self._halts.answer(None)
        for item in self._queue:
            if item.waiter is not None:
                item.waiter.resolve("queued")
                item.waiter = None

    # ------------------------------------------------------------------- loop

    def stop(self) -> None:
        """Let the loop end after the request in flight (async_stop waits for it)."""
        self._stopping = True
        self._wakeup.set()

    async def async_run(self) -> None:
        """Send until stopped or cancelled."""
        while not self._stopping:
            self._moved()
            item = self._queue.head
            if item is None:
                self._halts.end()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if self._reporter.is_expired(item):
                await self._reporter.async_expire([item])
                continue
            now = self._settings.clock()
            halt = self._halts.halt
            if halt is not None and halt.probe is None and now < halt.until:
                self._release_waiters(halt.until)
                await self._async_sleep_halted(halt.until - now)
                continue
            delay = send_delay(
                now,
                paused_until=self.paused_until,
                not_before=item.not_before,
                window=self._ctx.window if self._settings.pace else None,
            )
            holding = False
            if delay <= 0 and (hold := self._combiner.hold(item, now)) > 0:
                delay, holding = hold, True
            if delay > 0:
                self._release_waiters(now + delay)
                self.holding = holding
                try:
                    await self._async_sleep(delay)
                finally:
                    self.holding = False
                continue
            if self.paused_until is not None:
                self.paused_until = None
                await stored(self._queue.set_pause(None))  # the pause is over
            await self._async_attempt(*self._combiner.group(item))

    def _moved(self) -> None:
        """Signal progress to whoever drains the queue."""
        self.progress.set()
        self.progress = asyncio.Event()

    async def _async_sleep(self, delay: float) -> None:
        """Sleep ``delay`` seconds of the outbox's clock."""
        self.sleeping_until = self._settings.clock() + delay
        try:
            await self._settings.sleep(delay)
        finally:
            self.sleeping_until = None

    async def _async_sleep_halted(self, delay: float) -> None:
        """Sleep through a sender-level pause; a call asking for a probe ends it."""
        self._halts.wakeup.clear()
        self.sleeping_until = self._settings.clock() + delay
        sleeper = asyncio.ensure_future(self._settings.sleep(delay))
        waker = asyncio.ensure_future(self._halts.wakeup.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.sleeping_until = None
            sleeper.cancel()
            waker.cancel()
            await asyncio.wait({sleeper, waker})

    # --------------------------------------------------------------- sending

    async def _async_attempt(
        self, group: list[Item], payload: dict[str, Any], batch: str | None
    ) -> None:
        """Make one request for ``group`` and act on its outcome."""
        ctx = self._ctx
        try:
            # Write-ahead: the send (and the rate window) is on disk before it goes.
            await self._queue.attempt(group, self._settings.wall_clock(), batch)
        except StoreError:
            for item in group:
                item.not_before = self._settings.clock() + STORE_RETRY_DELAY
            return
        if not ctx.sender.idempotent and any(item.maybe_sent for item in group):
            ctx.stats.resent_unsure += len(group)
        self.in_flight = True
        error: DingTalkError | None = None
        try:
            await ctx.sender.send_payload(payload)
        except DingTalkError as err:
            error = err
        except Exception:
            _LOGGER.exception(
                "DingTalk %s: unexpected error sending message %s",
                ctx.name,
                group[0].key,
            )
            error = UnexpectedDeliveryError("unexpected error while sending")
        finally:
            self.in_flight = False
            ctx.window.record(self._settings.clock())
            ctx.stats.requests += 1
        if error is None:
            await self._async_delivered(group)
        else:
            await self._async_failed(group, error)

    async def _async_delivered(self, group: list[Item]) -> None:
        """Forget delivered messages and tell whoever waits for them."""
        ctx = self._ctx
        await self._queue.async_done(group)
        ctx.stats.sent += len(group)
        ctx.stats.last_delivered_at = self._settings.wall_clock()
        if len(group) > 1:
            ctx.stats.combined += len(group)
            ctx.stats.combined_sends += 1
        self._halts.end()
        for item in group:
            if (waiter := item.waiter) is not None:
                waiter.remaining -= 1
                if waiter.remaining == 0:
                    waiter.resolve("sent")
        self._reporter.call_back(ctx.on_delivered)

    async def _async_failed(self, group: list[Item], err: DingTalkError) -> None:
        """Pause, retry later, or fail the head, as policy.POLICIES says."""
        ctx = self._ctx
        head = group[0]
        now = self._settings.clock()
        kind = error_kind(err)
        ctx.stats.last_error = kind
        if isinstance(err, DingTalkTransportError) and await self._async_unsure(
            group, err
        ):
            return
        decision = decide(err, head, self._settings, now)
        for item in group[1:]:
            item.attempts, item.streak = head.attempts, head.streak
            item.last_error = head.last_error
        if decision.outcome is Outcome.THROTTLE:
            await self._async_throttle(kind, now)
        elif decision.outcome is Outcome.RETRY:
            if decision.retry_at > now:
                self._halts.answer(None)  # says nothing about the sender
            ctx.stats.retried += 1
            for item in group:
                item.not_before = decision.retry_at
            _LOGGER.debug(
                "DingTalk %s: %s for message %s, retry %d",
                ctx.name,
                kind,
                head.key,
                head.attempts,
            )
        elif decision.outcome is Outcome.HALT:
            await self._async_halt(group, err, kind, now)
        elif len(group) > 1:
            # DingTalk refused the combined message: which part it minds is
            # unknown, so each goes alone and fails (or not) on its own.
            await stored(self._queue.unbatch(group))
        else:
            if isinstance(err, DingTalkApiError):
                self._halts.end()  # DingTalk judged the message: the sender works
            else:
                self._halts.answer(None)  # says nothing about the sender
            await self._reporter.async_fail(group, err)

    async def _async_unsure(
        self, group: list[Item], err: DingTalkTransportError
    ) -> bool:
        """Note whether a lost answer may hide a delivery; True if handled here."""
        if not err.maybe_delivered:
            await stored(self._queue.settle(group))
            return False
        if self._ctx.sender.idempotent:
            return False
        if self._ctx.unsure is UnsureDelivery.REPORT:
            await self._reporter.async_fail(group, MaybeLostError("answer lost"))
            return True
        for item in group:
            item.maybe_sent = True
        return False

    async def _async_throttle(self, kind: str, now: float) -> None:
        """Pause every message for the throttle time (stored: a restart waits too)."""
        ctx = self._ctx
        ctx.stats.throttled += 1
        pause = self._settings.throttle_pause
        self.paused_until = now + pause
        self._halts.end()
        _LOGGER.warning(
            "DingTalk %s is rate limited (%s); pausing it for %.0f s,"
            " %d message(s) kept in its queue",
            ctx.name,
            kind,
            pause,
            len(self._queue),
        )
        await stored(
            self._queue.set_pause(
                self._settings.wall_clock() + pause, PAUSE_RATE_LIMITED
            )
        )

    async def _async_halt(
        self, group: list[Item], err: DingTalkError, kind: str, now: float
    ) -> None:
        """Fail the head alone and pause, keeping the rest; or refuse probing calls."""
        ctx = self._ctx
        halt = self._halts.halt
        if halt is not None and halt.probe is not None and now < halt.until:
            # A new call had the head sent early and the sender still fails: the
            # head stays as it was (its turn comes when the pause ends) and the
            # waiting calls raise the error.
            for item in group:
                item.streak = 0
            halt.error = err
            self._halts.answer(err)
            _LOGGER.debug(
                "DingTalk %s still refuses messages (%s); %d message(s) kept",
                ctx.name,
                kind,
                len(self._queue),
            )
            self._reporter.call_back(ctx.on_failed, err)
            return
        self._halts.answer(err)
        # Decided before the failure is reported: a call it wakes must find the
        # sender paused only if messages were kept.
        kept = len(self._queue) - len(group)
        self._halts.halt = (
            Halt(error=err, until=now + self._settings.halt_pause) if kept else None
        )
        if kept:
            _LOGGER.warning(
                "DingTalk %s refuses messages (%s); keeping %d queued message(s)"
                " and sending nothing until it is reloaded (reauthenticate or"
                " reconfigure it) or for %.0f s",
                ctx.name,
                kind,
                kept,
                self._settings.halt_pause,
            )
        await self._reporter.async_fail(group, err)

    def _release_waiters(self, wake_at: float) -> None:
        """Answer "queued" to callers whose bound passes before wake_at."""
        for item in self._queue:
            if item.waiter is not None and item.waiter.deadline < wake_at:
                item.waiter.resolve("queued")
