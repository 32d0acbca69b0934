"""Halts: a sender DingTalk refuses pauses, and new calls probe whether it works."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import logging
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from custom_components.dingtalk.api import DingTalkError

_LOGGER: Final = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class Halt:
    """A pause after a sender-level error, while messages are kept (never persisted).

    Not persisted on purpose: reauthentication and reconfiguring reload the entry,
    and the new outbox must try the kept messages at once with the new settings.
    `probe` is set while calls wait for the head to be sent early.
    """

    error: DingTalkError
    until: float
    probe: asyncio.Future[DingTalkError | None] | None = None


class HaltState:
    """The current halt of one outbox, if any, and the calls probing it."""

    def __init__(self, hass: HomeAssistant, name: str) -> None:
        """Start without a halt."""
        self._hass = hass
        self._name = name
        self.halt: Halt | None = None
        self.wakeup = asyncio.Event()
        """Set when a call asks for a probe (ends the worker's halted sleep)."""

    async def async_probe(self, halt: Halt, bound: float) -> DingTalkError | None:
        """Have the head sent now during ``halt``; return the error if still refused.

        None means: the sender works again, the answer said nothing about it (a
        transient failure), or no answer came within the call's bound. Calls arriving
        together share one request.
        """
        if halt.probe is None:
            halt.probe = self._hass.loop.create_future()
            self.wakeup.set()
        probe = halt.probe
        # asyncio.wait, not a timeout around `await probe`: the future is shared
        # and a caller giving up must not cancel it for the others.
        await asyncio.wait({probe}, timeout=max(0.0, bound - self._hass.loop.time()))
        return probe.result() if probe.done() else None

    def current(self, now: float) -> Halt | None:
        """Return the halt in force at ``now``, if any."""
        return self.halt if self.halt is not None and now < self.halt.until else None

    def answer(self, refused: DingTalkError | None) -> None:
        """Answer the calls waiting for a probe (None: the call may queue)."""
        if self.halt is None or self.halt.probe is None:
            return
        probe, self.halt.probe = self.halt.probe, None
        probe.set_result(refused)

    def end(self) -> None:
        """Leave a sender-level pause: it works again, or nothing is kept."""
        if self.halt is None:
            return
        self.answer(None)
        self.halt = None
        _LOGGER.info("DingTalk %s: pause after a robot error ended", self._name)
