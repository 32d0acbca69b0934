"""The outbox's tuning: DingTalk's limits, our bounds, and the clocks it runs on."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import random
import time
from typing import TYPE_CHECKING, Final

from homeassistant.util.hass_dict import HassKey

from custom_components.dingtalk.const import DOMAIN

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from homeassistant.core import HomeAssistant


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxSettings:
    """Every knob of an outbox; tests and benchmarks pass their own (DATA_SETTINGS)."""

    rate_limit: int = 20
    """Sends per rate window (DingTalk: 20 a minute per robot, then 10 min blocked)."""
    rate_window: float = 61.0
    """Seconds of the window: one more than DingTalk's 60, for clock differences."""
    pace: bool = True
    send_timeout: float = 5.0
    """How long an action waits for "sent" before it answers "queued"."""
    stop_timeout: float = 5.0
    """How long an unload lets a request in flight finish."""
    drain_budget: float = 15.0
    """How long Home Assistant's shutdown may wait for queued messages to go out
    (its stage for shutdown jobs and shutdown automations lasts 20 s)."""
    max_queue: int = 500
    max_age: float = 24 * 3600.0
    """A message not delivered after this long is dropped and reported."""
    throttle_pause: float = 600.0
    """DingTalk blocks a throttled robot for 10 minutes."""
    halt_pause: float = 30 * 60.0
    """Pause after the sender itself was refused (reload or a new call ends it)."""
    retry_base: float = 2.0
    retry_max_delay: float = 300.0
    max_retries: int = 8
    combine: bool = True
    """Combine waiting text/markdown messages into one when at the limit."""
    combine_reserve: int = 3
    """Sends of the window kept for combined messages once a burst is under way."""
    combine_delay: float = 1.0
    """How long a message near the limit waits for others to join it."""
    database: str | None = None
    """The queue's SQLite file (None: .storage/dingtalk_outbox.db)."""
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    jitter: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        """Refuse settings that cannot work."""
        if self.rate_limit < 1 or self.rate_window <= 0:
            raise ValueError("rate_limit must be >= 1 and rate_window > 0")
        if self.combine_reserve < 0:
            raise ValueError("combine_reserve must be >= 0")


DEFAULT_SETTINGS: Final = OutboxSettings()

DATA_SETTINGS: Final[HassKey[OutboxSettings]] = HassKey(f"{DOMAIN}_outbox_settings")
"""Where tests and benchmarks put their OutboxSettings (none: DEFAULT_SETTINGS)."""


def outbox_settings(hass: HomeAssistant) -> OutboxSettings:
    """Return the settings every outbox of ``hass`` uses."""
    return hass.data.get(DATA_SETTINGS, DEFAULT_SETTINGS)
