"""An outbox: paced, durable, first-in-first-out delivery to one sender."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from homeassistant.core import HassJob, HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from custom_components.dingtalk.const import DOMAIN, LOGGER

from .items import DeliveryResult, Status, Waiter
from .queue import DurableQueue
from .rate import RateWindow
from .retry import error_kind
from .sender import UnsureDelivery
from .stats import OutboxStats, iso
from .store import EVENT_RESTORE_FAILED, StoreError, async_get_store
from .worker import PAUSE_RATE_LIMITED, Worker, WorkerContext

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from custom_components.dingtalk.api import DingTalkError

    from .halt import Halt
    from .sender import Sender
    from .settings import OutboxSettings


type Part = tuple[str, Mapping[str, Any]]
"""One message to queue: its idempotency key and its payload."""


class OutboxFullError(HomeAssistantError):
    """The outbox already holds as many messages as it may."""

    def __init__(self, robot: str, limit: int) -> None:
        """Describe which queue is full and its limit."""
        super().__init__(
            translation_domain=DOMAIN,
            translation_key="queue_full",
            translation_placeholders={"robot": robot, "limit": str(limit)},
        )
        self.robot = robot
        self.limit = limit


class OutboxNotRunningError(HomeAssistantError):
    """The outbox is not running (not started yet, or stopped)."""

    def __init__(self, robot: str) -> None:
        """Describe which outbox refused the message."""
        super().__init__(
            translation_domain=DOMAIN,
            translation_key="outbox_not_running",
            translation_placeholders={"robot": robot},
        )
        self.robot = robot


class OutboxStorageError(HomeAssistantError):
    """The message could not be written to the durable queue."""

    def __init__(self, robot: str) -> None:
        """Describe which outbox could not store the message."""
        super().__init__(
            translation_domain=DOMAIN,
            translation_key="queue_not_stored",
            translation_placeholders={"robot": robot},
        )


class Outbox:
    """Paced, durable, first-in-first-out delivery of messages to one sender."""

    def __init__(  # noqa: PLR0913 - the outbox's collaborators, keyword-only
        self,
        hass: HomeAssistant,
        outbox_id: str,
        name: str,
        sender: Sender,
        *,
        settings: OutboxSettings,
        on_delivered: Callable[[], None],
        on_failed: Callable[[DingTalkError], None],
        recent_sends: Sequence[float] = (),
        combine: bool = True,
        unsure: UnsureDelivery = UnsureDelivery.RESEND,
    ) -> None:
        """Set up the outbox; nothing runs until async_start.

        `recent_sends` are the wall times of requests made to the sender outside the
        outbox (the config flow's); they count toward the rate window.
        """
        self._hass = hass
        self._id = outbox_id
        self._name = name
        self._sender = sender
        self._settings = settings
        self._on_delivered = on_delivered
        self._on_failed = on_failed
        self._recent_sends = tuple(recent_sends)
        self._combine = combine
        self._unsure = unsure
        self._stats = OutboxStats()
        self._window = RateWindow(settings.rate_limit, settings.rate_window)
        self._queue: DurableQueue | None = None
        self._worker: Worker | None = None
        self._task: asyncio.Task[None] | None = None
        self._running = False
        self._stopped = False
        self._unsub_shutdown: Callable[[], None] | None = None

    # --------------------------------------------------------------- lifecycle

    async def async_start(self) -> None:
        """Restore the durable queue and start sending (once: a stopped one stays)."""
        if self._running or self._stopped:
            return
        settings = self._settings
        store = await async_get_store(self._hass, settings.database)
        queue = DurableQueue(store, self._id)
        wall, now = settings.wall_clock(), settings.clock()
        restored = await queue.async_restore(wall - settings.rate_window)
        legacy = await queue.async_import_legacy(self._hass)
        sends = [*restored.sends, *self._recent_sends]
        unreadable = restored.unreadable
        paused = restored.paused_until
        if legacy is not None:
            sends += legacy.sends
            unreadable += legacy.unreadable
            paused = max(paused or 0.0, legacy.paused_until or 0.0) or None
        if self._recent_sends:
            await queue.record_sends(self._recent_sends)
        for at in sorted(sends):
            self._window.record(now - (wall - at))
        self._stats.restored = len(queue)
        self._stats.unreadable = unreadable
        self._queue = queue
        worker = Worker(
            WorkerContext(
                hass=self._hass,
                outbox_id=self._id,
                name=self._name,
                sender=self._sender,
                settings=settings,
                queue=queue,
                window=self._window,
                stats=self._stats,
                on_delivered=self._on_delivered,
                on_failed=self._on_failed,
                combine=self._combine,
                unsure=self._unsure,
            )
        )
        worker.pause_from_store(paused)
        self._worker = worker
        if unreadable:
            self._report_unreadable(unreadable)
        await worker.async_expire_everywhere()
        self._running = True
        self._unsub_shutdown = self._hass.async_add_shutdown_job(
            HassJob(self._async_drain, f"{DOMAIN} outbox {self._name} drain")
        )
        # A Home Assistant (not config entry) background task: unloading an entry
        # would cancel the entry's tasks at once, before async_stop lets the
        # in-flight request finish. Home Assistant cancels it when it stops, after
        # the shutdown jobs (the drain) ran.
        self._task = self._hass.async_create_background_task(
            worker.async_run(), f"{DOMAIN} outbox {self._name}"
        )

    async def async_stop(self) -> None:
        """Stop within stop_timeout (an in-flight request may finish)."""
        worker = self._worker
        if not self._running or worker is None:
            return
        self._running = False
        self._stopped = True
        if self._unsub_shutdown is not None:
            self._unsub_shutdown()
            self._unsub_shutdown = None
        task, self._task = self._task, None
        worker.stop()
        if task is not None and not task.done():
            if worker.in_flight:
                await asyncio.wait({task}, timeout=self._settings.stop_timeout)
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
        worker.release_all()

    async def _async_drain(self) -> None:
        """Keep sending while Home Assistant stops, within the drain budget.

        Runs with the shutdown jobs, where automations triggered by Home Assistant's
        shutdown run too: the worker keeps running, so their messages go out. What
        cannot go within the budget stays in the durable queue for the next start.
        """
        self._unsub_shutdown = None
        worker, queue, task = self._worker, self._queue, self._task
        clock = self._settings.clock
        deadline = clock() + self._settings.drain_budget
        while (
            worker is not None
            and queue is not None
            and task is not None
            and not task.done()
            and len(queue)
            and worker.halted() is None
            and not (
                not worker.in_flight
                and worker.sleeping_until is not None
                and worker.sleeping_until > deadline
            )
        ):
            try:
                async with asyncio.timeout(max(deadline - clock(), 0.0)):
                    await worker.progress.wait()
            except TimeoutError:
                break
        LOGGER.debug(
            "DingTalk %s: %d message(s) left in the queue at shutdown",
            self._name,
            0 if queue is None else len(queue),
        )

    # ----------------------------------------------------------------- sending

    async def async_send(self, parts: Sequence[Part]) -> DeliveryResult:
        """Queue parts in order; wait until all are sent or send_timeout passes.

        When the call returns, the parts are in the durable queue (or delivered).
        While the sender is paused on a sender-level error with messages kept, the
        call first has the oldest kept message sent again: if DingTalk still refuses
        the sender, the call raises that error and queues nothing.
        """
        queue, worker = self._queue, self._worker
        if queue is None or worker is None or not self._accepting():
            raise OutboxNotRunningError(self._name)
        if not parts:
            return DeliveryResult(status="sent", parts=0)
        bound = self._hass.loop.time() + self._settings.send_timeout
        if self._running and (halt := worker.halted()) is not None:
            await self._async_probe(worker, halt, bound)
        if len(queue) + len(parts) > self._settings.max_queue:
            raise OutboxFullError(self._name, self._settings.max_queue)
        items, durable = queue.add(parts, self._settings.wall_clock())
        waiter = Waiter(
            deadline=self._settings.clock() + self._settings.send_timeout,
            remaining=len(parts),
            future=self._hass.loop.create_future(),
        )
        for item in items:
            item.waiter = waiter
        # The worker may take the head now: its write-ahead record joins the same
        # transaction as the enqueue (or a later one), and it sends only after that
        # record is on disk, so nothing goes out that a crash could forget.
        worker.wake()
        try:
            await durable
        except StoreError as err:
            queue.discard(items)
            worker.wake()
            raise OutboxStorageError(self._name) from err
        if self._task is None or self._task.done():
            # Home Assistant is stopping: stored, it goes out after the start.
            return DeliveryResult(status="queued", parts=len(parts))
        return DeliveryResult(
            status=await self._async_wait(waiter, bound), parts=len(parts)
        )

    async def _async_probe(self, worker: Worker, halt: Halt, bound: float) -> None:
        """Raise the sender's error if the halted sender still refuses messages."""
        refused = await worker.async_probe(halt, bound)
        if not self._accepting():
            raise OutboxNotRunningError(self._name)
        if refused is not None:
            raise refused

    def _accepting(self) -> bool:
        """Whether a message may be queued (also while Home Assistant stops).

        While Home Assistant stops, its shutdown cancels the worker: a message is
        still stored, and goes out after the next start.
        """
        if self._hass.is_stopping:
            return self._queue is not None
        return self._running and self._task is not None and not self._task.done()

    async def _async_wait(self, waiter: Waiter, bound: float) -> Status:
        """Wait for the parts until ``bound``: "sent", or "queued" if not yet."""
        worker = self._worker
        if worker is not None and (
            worker.holding
            or (
                worker.sleeping_until is not None
                and worker.sleeping_until > waiter.deadline
            )
        ):
            # A caller never waits out a hold: the next message of a burst could
            # not join this one if the caller sending it were kept waiting.
            waiter.resolve("queued")
        try:
            async with asyncio.timeout_at(bound):
                return await waiter.future
        except TimeoutError:
            return "queued"
        finally:
            waiter.resolve("queued")

    # ------------------------------------------------------------ diagnostics

    def _report_unreadable(self, count: int) -> None:
        """Log and fire an event for stored messages that could not be restored."""
        LOGGER.error(
            "DingTalk %s: %d stored message(s) could not be read and were dropped",
            self._name,
            count,
        )
        self._hass.bus.async_fire(
            EVENT_RESTORE_FAILED,
            {"entry_id": self._id, "robot": self._name, "count": count},
        )

    @property
    def sleeping(self) -> bool:
        """Return whether the worker waits (for its pace, a back-off or a pause)."""
        return self._worker is not None and self._worker.sleeping_until is not None

    @property
    def last_delivered_at(self) -> float | None:
        """Return the wall time of the last delivery (None: none yet)."""
        return self._stats.last_delivered_at

    @property
    def unreadable(self) -> int:
        """Return how many stored messages could not be restored at start."""
        return self._stats.unreadable

    def stats(self) -> dict[str, Any]:
        """Counters and state for diagnostics (no message content, no secrets)."""
        data = self._stats.as_dict()
        worker, queue = self._worker, self._queue
        paused: str | None = None
        reason: str | None = None
        oldest: str | None = None
        if worker is not None:
            now = self._settings.clock()
            until: float | None = None
            if (halt := worker.halts.halt) is not None and halt.until > now:
                until, reason = halt.until, error_kind(halt.error)
            elif worker.paused_until is not None and worker.paused_until > now:
                until, reason = worker.paused_until, PAUSE_RATE_LIMITED
            if until is not None:
                paused = iso(self._settings.wall_clock() + (until - now))
        if queue is not None and (head := queue.head) is not None:
            oldest = iso(head.enqueued_at)
        return {
            "queued": 0 if queue is None else len(queue),
            **data,
            "oldest_queued_at": oldest,
            "paused_until": paused,
            "paused_reason": reason,
        }
