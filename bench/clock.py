"""Virtual time: one ManualClock for the emulator and everything that sends to it.

DingTalk's rate window is a minute and its throttle ten; a benchmark that waited for
them would take hours. Instead the emulator, our outbox and the third-party tools
all read one ManualClock, and their sleeps move it forward instead of waiting:

- async code (our outbox) gets ``VirtualTime.sleeper(owner)`` as its ``sleep``; the
  sleep parks until ``VirtualTime.run_until`` sees that nothing else is happening
  (every owner sleeps or has nothing to do) and jumps the clock to the next wake-up;
- synchronous tools (Apprise, DingtalkChatbot) see a ``VirtualTimeModule`` in place
  of their module's ``time`` (and Apprise a ``VirtualDatetime`` for ``datetime``):
  their ``time.sleep(s)`` moves the clock forward by ``s`` at once.

Network round trips still take real time but no virtual time, so virtual elapsed
times are what the pacing logic alone costs: the floor that real DingTalk would show.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import datetime as dt
import threading
import time
from typing import TYPE_CHECKING

from dingtalk_emulator import ManualClock

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

POLL_SECONDS = 0.002
"""How often run_until looks at the system while requests are in flight."""


class VirtualTimeLimitError(RuntimeError):
    """run_until gave up: the virtual or the real time limit passed first."""


@dataclass(slots=True, eq=False)
class _Sleeper:
    """One parked async sleep."""

    wake_at: float
    owner: object
    future: asyncio.Future[None]


class VirtualTime:
    """A ManualClock plus async sleeps that wake when the clock reaches them."""

    def __init__(self, start: float | None = None) -> None:
        """Start the clock at ``start`` (default: the real time now).

        Starting at the real time keeps signatures made with the real clock (our
        client's) inside DingTalk's one-hour window as long as a run stays well
        under an hour of virtual time.
        """
        self.clock = ManualClock(time.time() if start is None else start)
        self.start = self.clock.now()
        self._sleepers: list[_Sleeper] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        """Return the virtual time (Unix seconds)."""
        return self.clock.now()

    def elapsed(self) -> float:
        """Return the virtual seconds since the start."""
        return self.clock.now() - self.start

    def sleeper(self, owner: object) -> Callable[[float], Coroutine[None, None, None]]:
        """Return an ``asyncio.sleep`` replacement whose sleeps belong to ``owner``."""

        async def sleep(delay: float) -> None:
            """Park until the clock reaches now + delay."""
            await self._sleep(owner, delay)

        return sleep

    async def _sleep(self, owner: object, delay: float) -> None:
        """Park one sleep; a cancelled sleep is forgotten."""
        if delay <= 0:
            await asyncio.sleep(0)
            return
        sleeper = _Sleeper(
            self.now() + delay, owner, asyncio.get_running_loop().create_future()
        )
        self._sleepers.append(sleeper)
        try:
            await sleeper.future
        finally:
            if sleeper in self._sleepers:
                self._sleepers.remove(sleeper)

    def is_sleeping(self, owner: object) -> bool:
        """Whether ``owner`` has a parked sleep."""
        return any(sleeper.owner is owner for sleeper in self._sleepers)

    def next_wake(self) -> float | None:
        """Return when the earliest parked sleep ends, if any."""
        return min((s.wake_at for s in self._sleepers), default=None)

    def wake_next(self) -> None:
        """Move the clock to the earliest wake-up and end every sleep due by then."""
        wake_at = self.next_wake()
        if wake_at is None:
            return
        if wake_at > self.now():
            self.clock.advance(wake_at - self.now())
        now = self.now()
        for sleeper in [s for s in self._sleepers if s.wake_at <= now]:
            self._sleepers.remove(sleeper)
            if not sleeper.future.done():
                sleeper.future.set_result(None)

    def blocking_sleep(self, seconds: float) -> None:
        """``time.sleep`` for synchronous code: move the clock at once."""
        with self._lock:
            self.clock.advance(max(0.0, seconds))

    async def run_until(
        self,
        done: Callable[[], bool],
        idle: Callable[[], bool],
        *,
        limit: float,
        real_timeout: float,
    ) -> None:
        """Jump from wake-up to wake-up until ``done()``.

        The clock moves only while ``idle()`` (nothing in flight); the run fails
        once the next wake-up lies more than ``limit`` virtual seconds after the
        start, or after ``real_timeout`` real seconds.
        """
        deadline = time.monotonic() + real_timeout
        while not done():
            if time.monotonic() > deadline:
                raise VirtualTimeLimitError(
                    f"not done after {real_timeout:.0f} real seconds"
                )
            wake_at = self.next_wake()
            if wake_at is not None and idle():
                if wake_at - self.start > limit:
                    raise VirtualTimeLimitError(
                        f"not done within {limit:.0f} virtual seconds"
                    )
                self.wake_next()
                await asyncio.sleep(0)
                continue
            await asyncio.sleep(POLL_SECONDS)


class VirtualTimeModule:
    """Stands in for the ``time`` module inside a third-party module.

    ``time()``, ``monotonic()`` and ``sleep()`` use the virtual clock; every other
    attribute is the real module's.
    """

    def __init__(self, virtual: VirtualTime) -> None:
        """Use ``virtual``'s clock."""
        self._virtual = virtual

    def time(self) -> float:
        """Return the virtual Unix time."""
        return self._virtual.now()

    def monotonic(self) -> float:
        """Return the virtual time (it never goes back)."""
        return self._virtual.now()

    def sleep(self, seconds: float) -> None:
        """Move the virtual clock forward instead of sleeping."""
        self._virtual.blocking_sleep(seconds)

    def __getattr__(self, name: str) -> object:
        """Return the real ``time`` module's attribute."""
        return getattr(time, name)


class VirtualDatetime:
    """Stands in for the ``datetime`` class where a module only calls ``now()``."""

    def __init__(self, virtual: VirtualTime) -> None:
        """Use ``virtual``'s clock."""
        self._virtual = virtual

    def now(self, tz: dt.tzinfo | None = None) -> dt.datetime:
        """Return the virtual time as a datetime."""
        return dt.datetime.fromtimestamp(self._virtual.now(), tz)
