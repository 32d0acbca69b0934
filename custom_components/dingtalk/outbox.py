"""Per-robot outbox: pacing, retries, throttle pauses and persistence of messages."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
import logging
import random
import re
import time
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypeIs

from homeassistant.core import HassJob, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.storage import Store
from homeassistant.util.hass_dict import HassKey

from .api import (
    DingTalkApiError,
    DingTalkError,
    DingTalkHTTPError,
    InvalidTokenError,
    IPNotAllowedError,
    Message,
    RateLimitedError,
    RobotUnavailableError,
    SignatureError,
    TimestampError,
)
from .const import DOMAIN

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence

_LOGGER: Final = logging.getLogger(__name__)

EVENT_DELIVERY_FAILED: Final = "dingtalk_delivery_failed"
REASON_EXPIRED: Final = "expired"
REASON_UNEXPECTED: Final = "unexpected"

STORAGE_VERSION: Final = 1
STORAGE_KEY_PREFIX: Final = f"{DOMAIN}.outbox"
SAVE_DELAY: Final = 1.0

DEFAULT_RATE_LIMIT: Final = 20
DEFAULT_RATE_WINDOW: Final = 61.0
DEFAULT_SEND_TIMEOUT: Final = 5.0
DEFAULT_STOP_TIMEOUT: Final = 5.0
DEFAULT_MAX_QUEUE: Final = 500
DEFAULT_MAX_AGE: Final = 24 * 3600.0
DEFAULT_THROTTLE_PAUSE: Final = 600.0
DEFAULT_RETRY_BASE: Final = 2.0
DEFAULT_RETRY_MAX_DELAY: Final = 300.0
DEFAULT_MAX_RETRIES: Final = 8
DEFAULT_ROBOT_ERROR_PAUSE: Final = 30 * 60.0

ROBOT_ERRORS: Final = (
    InvalidTokenError,
    SignatureError,
    IPNotAllowedError,
    RobotUnavailableError,
)
"""Errors about the robot, not the message: every message would fail the same way.

A TimestampError is one too once the re-signed retry failed as well (clock skew)."""

THROTTLE_HTTP_STATUSES: Final = frozenset({302, 429})
"""HTTP statuses treated as throttling (a 302 after throttling is UNCONFIRMED)."""

PAUSE_RATE_LIMITED: Final = "rate_limited"

FLOW_SENDS: Final[HassKey[dict[str, list[float]]]] = HassKey(f"{DOMAIN}_flow_sends")
"""Wall-clock times of the config flow's requests, by robot unique id (the token
fingerprint), kept until the robot's outbox takes them over when it is set up."""

_MAX_BACKOFF_EXPONENT: Final = 60
_CAMEL_BOUNDARY: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

type Status = Literal["sent", "queued"]


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """Outcome of Outbox.async_send: all parts sent, or some still queued."""

    status: Status
    parts: int


class RobotSender(Protocol):
    """What the outbox needs from a robot client (DingTalkClient has it)."""

    async def send_payload(self, payload: Mapping[str, Any]) -> None:
        """Send one pre-built payload (with its msgUuid) in one request."""


@callback
def async_record_flow_send(
    hass: HomeAssistant,
    robot_id: str,
    at: float,
    *,
    window: float = DEFAULT_RATE_WINDOW,
) -> None:
    """Count a request made outside the outbox (the config flow's) at wall time `at`.

    DingTalk counts it in the robot's minute like any other, so the outbox set up
    next must count it too. Times older than `window` are forgotten, for every robot.
    """
    flow_sends = hass.data.setdefault(FLOW_SENDS, {})
    flow_sends.setdefault(robot_id, []).append(at)
    for key, times in list(flow_sends.items()):
        if kept := [sent for sent in times if sent > at - window]:
            flow_sends[key] = kept
        else:
            del flow_sends[key]


@callback
def async_pop_flow_sends(
    hass: HomeAssistant,
    robot_id: str | None,
    *,
    now: float | None = None,
    window: float = DEFAULT_RATE_WINDOW,
) -> list[float]:
    """Take the wall times of the flow's requests to a robot still in its window."""
    flow_sends = hass.data.get(FLOW_SENDS)
    if flow_sends is None or robot_id is None:
        return []
    cutoff = (time.time() if now is None else now) - window
    return [at for at in flow_sends.pop(robot_id, ()) if at > cutoff]


class OutboxFullError(HomeAssistantError):
    """The robot's outbox already holds as many messages as it may."""

    def __init__(self, robot: str, limit: int) -> None:
        """Describe which robot's queue is full and its limit."""
        super().__init__(
            translation_domain=DOMAIN,
            translation_key="queue_full",
            translation_placeholders={"robot": robot, "limit": str(limit)},
        )
        self.robot = robot
        self.limit = limit


class OutboxNotRunningError(HomeAssistantError):
    """The robot's outbox is not running (not started yet, or stopped)."""

    def __init__(self, robot: str) -> None:
        """Describe which robot's outbox refused the message."""
        super().__init__(
            translation_domain=DOMAIN,
            translation_key="outbox_not_running",
            translation_placeholders={"robot": robot},
        )
        self.robot = robot


class MessageExpiredError(DingTalkError):
    """A queued message was older than the maximum age and was dropped."""

    retryable = False


class UnexpectedDeliveryError(DingTalkError):
    """Sending raised something that is not a DingTalkError (a bug); message dropped."""

    retryable = False


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


def backoff_delay(retry: int, *, base: float, cap: float, jitter: float) -> float:
    """Delay before retry number `retry` (1-based): doubling, capped, half jittered."""
    exponent = min(max(retry - 1, 0), _MAX_BACKOFF_EXPONENT)
    ceiling = min(cap, base * 2.0**exponent)
    return ceiling * (0.5 + 0.5 * min(max(jitter, 0.0), 1.0))


def send_delay(
    now: float,
    *,
    paused_until: float | None,
    not_before: float,
    window: RateWindow | None,
) -> float:
    """Seconds until the head message may be sent: throttle, backoff and pace."""
    delay = max(0.0, not_before - now)
    if paused_until is not None:
        delay = max(delay, paused_until - now)
    if window is not None:
        delay = max(delay, window.delay_until_slot(now))
    return delay


def error_kind(err: BaseException) -> str:
    """Short snake_case kind of an error for events and logs (never its message)."""
    if isinstance(err, MessageExpiredError):
        return REASON_EXPIRED
    if isinstance(err, UnexpectedDeliveryError):
        return REASON_UNEXPECTED
    name = type(err).__name__.removeprefix("DingTalk").removesuffix("Error")
    return _CAMEL_BOUNDARY.sub("_", name).lower() or "error"


@dataclass(slots=True, eq=False)
class _Waiter:
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
class _Item:
    """One queued message (one part)."""

    payload: dict[str, Any]
    msg_uuid: str
    enqueued_at: float
    attempts: int = 0
    waiter: _Waiter | None = None
    not_before: float = 0.0
    timestamp_retried: bool = False


@dataclass(slots=True, eq=False)
class _Halt:
    """A pause after a robot-level error, while messages are kept (never persisted).

    Not persisted on purpose: reauthentication and reconfiguring reload the entry,
    and the new outbox must try the kept messages at once with the new settings.
    `probe` is set while calls wait for the head to be sent early.
    """

    error: DingTalkError
    until: float
    probe: asyncio.Future[DingTalkError | None] | None = None


class Outbox:
    """Paced, persistent, first-in-first-out delivery to one DingTalk robot."""

    def __init__(  # noqa: PLR0913 - tuning knobs are keyword-only by design
        self,
        hass: HomeAssistant,
        entry_id: str,
        name: str,
        client: RobotSender,
        *,
        on_delivered: Callable[[], None],
        on_failed: Callable[[DingTalkError], None],
        rate_limit: int = DEFAULT_RATE_LIMIT,
        rate_window: float = DEFAULT_RATE_WINDOW,
        pace: bool = True,
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
        max_queue: int = DEFAULT_MAX_QUEUE,
        max_age: float = DEFAULT_MAX_AGE,
        throttle_pause: float = DEFAULT_THROTTLE_PAUSE,
        robot_error_pause: float = DEFAULT_ROBOT_ERROR_PAUSE,
        retry_base: float = DEFAULT_RETRY_BASE,
        retry_max_delay: float = DEFAULT_RETRY_MAX_DELAY,
        max_retries: int = DEFAULT_MAX_RETRIES,
        recent_sends: Sequence[float] = (),
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        """Set up the outbox; nothing runs until async_start.

        `recent_sends` are the wall times of requests made to the robot outside the
        outbox (the config flow's); they count toward the rate window like the
        persisted sends of a previous outbox.
        """
        self._hass = hass
        self._entry_id = entry_id
        self._name = name
        self._client = client
        self._on_delivered = on_delivered
        self._on_failed = on_failed
        self._window = RateWindow(rate_limit, rate_window)
        self._pace = pace
        self._send_timeout = send_timeout
        self._stop_timeout = stop_timeout
        self._max_queue = max_queue
        self._max_age = max_age
        self._throttle_pause = throttle_pause
        self._robot_error_pause = robot_error_pause
        self._retry_base = retry_base
        self._retry_max_delay = retry_max_delay
        self._max_retries = max_retries
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._jitter = jitter
        self._recent_sends = tuple(recent_sends)
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{STORAGE_KEY_PREFIX}.{entry_id}", private=True
        )
        self._queue: deque[_Item] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running = False
        self._stopping = False
        self._in_flight = False
        self._sleeping_until: float | None = None
        self._paused_until: float | None = None
        self._halt: _Halt | None = None
        self._probe_wakeup = asyncio.Event()
        self._unsub_shutdown: Callable[[], None] | None = None
        self._sent = 0
        self._failed = 0
        self._retried = 0
        self._throttled = 0
        self._dropped_expired = 0
        self._last_error: str | None = None

    # ----------------------------------------------------------------- lifecycle

    async def async_start(self) -> None:
        """Load the persisted queue and start the background worker."""
        if self._running or self._stopping:
            return
        await self._async_load()
        self._drop_expired_everywhere()
        self._async_schedule_save()
        self._running = True
        self._unsub_shutdown = self._hass.async_add_shutdown_job(
            HassJob(self._async_on_hass_shutdown, f"dingtalk outbox {self._name} stop")
        )
        # A Home Assistant (not config entry) background task: unloading an entry
        # would cancel the entry's tasks at once, before async_stop lets the
        # in-flight request finish. Home Assistant still cancels it at shutdown.
        self._task = self._hass.async_create_background_task(
            self._async_worker(), f"dingtalk outbox {self._name}"
        )

    async def _async_on_hass_shutdown(self) -> None:
        """Stop sending when Home Assistant stops (before it cancels tasks)."""
        self._unsub_shutdown = None
        await self.async_stop()

    async def async_stop(self) -> None:
        """Stop within stop_timeout (an in-flight request may finish) and persist."""
        if not self._running:
            return
        self._running = False
        self._stopping = True
        if self._unsub_shutdown is not None:
            self._unsub_shutdown()
            self._unsub_shutdown = None
        task, self._task = self._task, None
        if task is not None and not task.done():
            if self._in_flight:
                await asyncio.wait({task}, timeout=self._stop_timeout)
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
        self._answer_probe(None)
        for item in self._queue:
            if item.waiter is not None:
                item.waiter.resolve("queued")
                item.waiter = None
        await self._store.async_save(self._snapshot())

    # ---------------------------------------------------------------- sending

    async def async_send(self, parts: Sequence[Message]) -> DeliveryResult:
        """Queue parts in order; wait until all are sent or send_timeout passes.

        While the robot is paused on a robot-level error with messages kept, the
        call first has the oldest kept message sent again: if DingTalk still refuses
        the robot, the call raises that error and queues nothing.
        """
        if not self._running or self._task is None or self._task.done():
            raise OutboxNotRunningError(self._name)
        if not parts:
            return DeliveryResult(status="sent", parts=0)
        bound = self._hass.loop.time() + self._send_timeout
        if (halt := self._halt) is not None and self._clock() < halt.until:
            refused = await self._async_probe(halt, bound)
            if not self._running:
                raise OutboxNotRunningError(self._name)
            if refused is not None:
                raise refused
        if len(self._queue) + len(parts) > self._max_queue:
            raise OutboxFullError(self._name, self._max_queue)
        waiter = _Waiter(
            deadline=self._clock() + self._send_timeout,
            remaining=len(parts),
            future=self._hass.loop.create_future(),
        )
        enqueued_at = self._wall_clock()
        self._queue.extend(
            _Item(
                payload=part.to_payload(),
                msg_uuid=part.msg_uuid,
                enqueued_at=enqueued_at,
                waiter=waiter,
            )
            for part in parts
        )
        self._async_schedule_save()
        self._wakeup.set()
        if self._sleeping_until is not None and self._sleeping_until > waiter.deadline:
            waiter.resolve("queued")
        try:
            async with asyncio.timeout_at(bound):
                status = await waiter.future
        except TimeoutError:
            status = "queued"
        finally:
            waiter.resolve("queued")
        return DeliveryResult(status=status, parts=len(parts))

    async def _async_probe(self, halt: _Halt, bound: float) -> DingTalkError | None:
        """Have the head sent now; return the robot's error if DingTalk still refuses.

        None means: the robot works again, the answer said nothing about the robot
        (a transient failure), or no answer came within the call's bound. Calls
        arriving together share one request.
        """
        if halt.probe is None:
            halt.probe = self._hass.loop.create_future()
            self._probe_wakeup.set()
        probe = halt.probe
        # asyncio.wait, not a timeout around `await probe`: the future is shared
        # and a caller giving up must not cancel it for the others.
        await asyncio.wait({probe}, timeout=max(0.0, bound - self._hass.loop.time()))
        return probe.result() if probe.done() else None

    # ------------------------------------------------------------------ worker

    async def _async_worker(self) -> None:
        """Send the head of the queue whenever pace, pause and backoff allow."""
        while not self._stopping:
            if not self._queue:
                self._end_halt()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            item = self._queue[0]
            if self._is_expired(item):
                self._queue.popleft()
                self._report_expired(item)
                self._async_schedule_save()
                continue
            now = self._clock()
            halt = self._halt
            if halt is not None and halt.probe is None and now < halt.until:
                self._release_waiters(halt.until)
                await self._async_sleep_halted(halt.until - now)
                continue
            delay = send_delay(
                now,
                paused_until=self._paused_until,
                not_before=item.not_before,
                window=self._window if self._pace else None,
            )
            if delay > 0:
                self._release_waiters(now + delay)
                self._sleeping_until = now + delay
                try:
                    await self._sleep(delay)
                finally:
                    self._sleeping_until = None
                continue
            self._paused_until = None
            await self._async_attempt(item)

    async def _async_sleep_halted(self, delay: float) -> None:
        """Sleep through a robot-level pause; a call asking for a probe ends it."""
        self._probe_wakeup.clear()
        self._sleeping_until = self._clock() + delay
        sleeper = asyncio.ensure_future(self._sleep(delay))
        waker = asyncio.ensure_future(self._probe_wakeup.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._sleeping_until = None
            sleeper.cancel()
            waker.cancel()
            await asyncio.wait({sleeper, waker})

    async def _async_attempt(self, item: _Item) -> None:
        """Make one request for the head item and act on its outcome."""
        self._in_flight = True
        error: DingTalkError | None = None
        try:
            await self._client.send_payload(item.payload)
        except DingTalkError as err:
            error = err
        except Exception:
            _LOGGER.exception(
                "DingTalk robot %s: unexpected error sending message %s",
                self._name,
                item.msg_uuid,
            )
            error = UnexpectedDeliveryError("unexpected error while sending")
        finally:
            self._in_flight = False
            self._window.record(self._clock())
        if error is None:
            self._handle_delivered(item)
        else:
            self._handle_error(item, error)
        self._async_schedule_save()

    def _handle_delivered(self, item: _Item) -> None:
        """Pop a delivered item and tell whoever waits for it."""
        self._queue.popleft()
        self._sent += 1
        self._end_halt()
        if (waiter := item.waiter) is not None:
            waiter.remaining -= 1
            if waiter.remaining == 0:
                waiter.resolve("sent")
        self._call_back(self._on_delivered)

    def _handle_error(self, item: _Item, err: DingTalkError) -> None:
        """Pause, retry later or fail the head item, depending on the error."""
        kind = error_kind(err)
        self._last_error = kind
        now = self._clock()
        if _is_throttle(err):
            self._throttled += 1
            self._paused_until = now + self._throttle_pause
            self._end_halt()
            _LOGGER.warning(
                "DingTalk robot %s is rate limited (%s); pausing it for %.0f s,"
                " %d message(s) kept in its queue",
                self._name,
                kind,
                self._throttle_pause,
                len(self._queue),
            )
            return
        if isinstance(err, TimestampError) and not item.timestamp_retried:
            item.timestamp_retried = True
            self._retried += 1
            return
        if isinstance(err, (*ROBOT_ERRORS, TimestampError)):
            self._handle_robot_error(item, err, kind, now)
            return
        if isinstance(err, DingTalkApiError) and not err.retryable:
            self._end_halt()  # DingTalk judged the message: the robot itself works
        else:
            self._answer_probe(None)  # says nothing about the robot
        if err.retryable and item.attempts < self._max_retries:
            item.attempts += 1
            self._retried += 1
            item.not_before = now + backoff_delay(
                item.attempts,
                base=self._retry_base,
                cap=self._retry_max_delay,
                jitter=self._jitter(),
            )
            _LOGGER.debug(
                "DingTalk robot %s: %s for message %s, retry %d of %d",
                self._name,
                kind,
                item.msg_uuid,
                item.attempts,
                self._max_retries,
            )
            return
        self._fail_head(item, err, kind)

    def _handle_robot_error(
        self, item: _Item, err: DingTalkError, kind: str, now: float
    ) -> None:
        """Fail the head alone and pause, keeping the rest; or refuse probing calls."""
        halt = self._halt
        if halt is not None and halt.probe is not None and now < halt.until:
            # A new call had the head sent early and the robot still fails: the
            # head stays as it was (its turn comes when the pause ends) and the
            # waiting calls raise the error.
            item.timestamp_retried = False
            halt.error = err
            self._answer_probe(err)
            _LOGGER.debug(
                "DingTalk robot %s still refuses messages (%s); %d message(s) kept",
                self._name,
                kind,
                len(self._queue),
            )
            self._call_back(self._on_failed, err)
            return
        self._answer_probe(err)
        self._fail_head(item, err, kind)
        if not self._queue:
            self._halt = None
            return
        self._halt = _Halt(error=err, until=now + self._robot_error_pause)
        _LOGGER.warning(
            "DingTalk robot %s refuses messages (%s); keeping %d queued message(s)"
            " and sending nothing until it is reloaded (reauthenticate or reconfigure"
            " it) or for %.0f s",
            self._name,
            kind,
            len(self._queue),
            self._robot_error_pause,
        )

    def _fail_head(self, item: _Item, err: DingTalkError, kind: str) -> None:
        """Drop the head item as failed and surface the failure."""
        self._queue.popleft()
        self._failed += 1
        _LOGGER.warning(
            "DingTalk robot %s: message %s failed (%s) and was dropped",
            self._name,
            item.msg_uuid,
            kind,
        )
        self._report_failure(item, err, kind)

    def _answer_probe(self, refused: DingTalkError | None) -> None:
        """Answer the calls waiting for a probe (None: the call may queue)."""
        if self._halt is None or self._halt.probe is None:
            return
        probe, self._halt.probe = self._halt.probe, None
        probe.set_result(refused)

    def _end_halt(self) -> None:
        """Leave a robot-level pause: the robot works again, or nothing is kept."""
        if self._halt is None:
            return
        self._answer_probe(None)
        self._halt = None
        _LOGGER.info("DingTalk robot %s: pause after a robot error ended", self._name)

    def _report_failure(self, item: _Item, err: DingTalkError, kind: str) -> None:
        """Raise to a waiting caller, fire the event and call on_failed."""
        if item.waiter is not None:
            item.waiter.fail(err)
        self._hass.bus.async_fire(
            EVENT_DELIVERY_FAILED,
            {
                "entry_id": self._entry_id,
                "robot": self._name,
                "reason": kind,
                "msg_uuid": item.msg_uuid,
            },
        )
        self._call_back(self._on_failed, err)

    def _call_back[*Ts](self, func: Callable[[*Ts], None], *args: *Ts) -> None:
        """Run an integration callback; a bug there must not stop the worker."""
        try:
            func(*args)
        except Exception:
            _LOGGER.exception("DingTalk robot %s: error in outbox callback", self._name)

    def _release_waiters(self, wake_at: float) -> None:
        """Answer "queued" to callers whose bound passes before wake_at."""
        for item in self._queue:
            if item.waiter is not None and item.waiter.deadline < wake_at:
                item.waiter.resolve("queued")

    def _is_expired(self, item: _Item) -> bool:
        """Whether a message is older than max_age."""
        return self._wall_clock() - item.enqueued_at > self._max_age

    def _report_expired(self, item: _Item) -> None:
        """Count, log and surface one expired message."""
        self._dropped_expired += 1
        self._last_error = REASON_EXPIRED
        _LOGGER.warning(
            "DingTalk robot %s: message %s was queued for %.0f s, longer than the"
            " maximum of %.0f s; dropped",
            self._name,
            item.msg_uuid,
            self._wall_clock() - item.enqueued_at,
            self._max_age,
        )
        self._report_failure(
            item, MessageExpiredError("message expired in the outbox"), REASON_EXPIRED
        )

    def _drop_expired_everywhere(self) -> None:
        """Drop every expired message, wherever it is in the queue."""
        kept: deque[_Item] = deque()
        for item in self._queue:
            if self._is_expired(item):
                self._report_expired(item)
            else:
                kept.append(item)
        self._queue = kept

    # ------------------------------------------------------------- persistence

    def _async_schedule_save(self) -> None:
        """Persist the queue soon (coalesced; flushed at stop and final write)."""
        self._store.async_delay_save(self._snapshot, SAVE_DELAY)

    def _snapshot(self) -> dict[str, Any]:
        """Return the persisted form: messages, recent sends and pause (wall time)."""
        now = self._clock()
        wall = self._wall_clock()
        paused: float | None = None
        if self._paused_until is not None and self._paused_until > now:
            paused = wall + (self._paused_until - now)
        self._window.prune(now)
        return {
            "messages": [
                {
                    "payload": item.payload,
                    "enqueued_at": item.enqueued_at,
                    "attempts": item.attempts,
                }
                for item in self._queue
            ],
            "recent_sends": [wall - (now - at) for at in self._window.sends()],
            "paused_until": paused,
        }

    async def _async_load(self) -> None:
        """Restore messages, pacing history and pause; add the flow's sends."""
        data = await self._store.async_load()
        stored: Mapping[str, Any] = data if isinstance(data, dict) else {}
        now = self._clock()
        wall = self._wall_clock()
        for raw in stored.get("messages", ()):
            item = _item_from_stored(raw)
            if item is None:
                _LOGGER.warning(
                    "DingTalk robot %s: skipped an unreadable stored message",
                    self._name,
                )
                continue
            self._queue.append(item)
        sends = [
            at
            for at in (*stored.get("recent_sends", ()), *self._recent_sends)
            if _is_number(at)
        ]
        for at in sorted(sends):
            self._window.record(now - (wall - at))
        paused = stored.get("paused_until")
        if _is_number(paused) and paused > wall:
            self._paused_until = now + (paused - wall)

    # ------------------------------------------------------------- diagnostics

    def stats(self) -> dict[str, Any]:
        """Counters and state for diagnostics (no message content, no secrets)."""
        paused: str | None = None
        reason: str | None = None
        until: float | None = None
        now = self._clock()
        if self._halt is not None and self._halt.until > now:
            until, reason = self._halt.until, error_kind(self._halt.error)
        elif self._paused_until is not None and self._paused_until > now:
            until, reason = self._paused_until, PAUSE_RATE_LIMITED
        if until is not None:
            wall = self._wall_clock() + (until - now)
            paused = datetime.fromtimestamp(wall, UTC).isoformat()
        return {
            "queued": len(self._queue),
            "sent": self._sent,
            "failed": self._failed,
            "retried": self._retried,
            "throttled": self._throttled,
            "dropped_expired": self._dropped_expired,
            "last_error": self._last_error,
            "paused_until": paused,
            "paused_reason": reason,
        }


def _is_throttle(err: DingTalkError) -> bool:
    """Whether DingTalk throttles the robot (its errcode, or HTTP 302/429)."""
    return isinstance(err, RateLimitedError) or (
        isinstance(err, DingTalkHTTPError) and err.status in THROTTLE_HTTP_STATUSES
    )


def _is_number(value: object) -> TypeIs[float]:
    """Whether a stored value is a real number (bool excluded)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _item_from_stored(raw: object) -> _Item | None:
    """Rebuild a queued item from its stored form; None when malformed."""
    if not isinstance(raw, dict):
        return None
    payload = raw.get("payload")
    enqueued_at = raw.get("enqueued_at")
    attempts = raw.get("attempts", 0)
    if (
        not isinstance(payload, dict)
        or not _is_number(enqueued_at)
        or not isinstance(attempts, int)
    ):
        return None
    return _Item(
        payload=payload,
        msg_uuid=str(payload.get("msgUuid", "")),
        enqueued_at=float(enqueued_at),
        attempts=attempts,
    )
