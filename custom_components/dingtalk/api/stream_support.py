"""Pure parts of the Stream client: tuning, state, stats, de-duplication, back-off."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, fields, replace
from enum import StrEnum
import logging
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    import random

_LOGGER: Final = logging.getLogger(__name__)


class StreamState(StrEnum):
    """What the Stream client is doing."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    BACKING_OFF = "backing_off"
    STOPPED = "stopped"
    AUTH_FAILED = "auth_failed"


class EndReason(StrEnum):
    """Why a connection is being replaced (the reconnect reasons in the stats)."""

    DISCONNECT = "disconnect"  # a SYSTEM disconnect frame: hand over at once
    ERROR = "error"  # closed, reset or failed
    WATCHDOG = "watchdog"  # silent: no traffic, not even a pong


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamTuning:
    """Timings and bounds of the Stream client (seconds, bytes, entries)."""

    request_timeout: float = 10.0  # connections/open
    connect_timeout: float = 10.0  # the WebSocket handshake
    ping_interval: float = 30.0  # a WebSocket ping after this long without traffic
    pong_timeout: float = 10.0  # then no traffic for this long: the socket is dead
    close_timeout: float = 2.0  # wait this long for the server's close frame
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    backoff_jitter: float = 0.2  # each delay is shortened by up to this fraction
    healthy_after: float = 60.0  # a connection this old resets the back-off
    max_frame_bytes: int = 256 * 1024  # larger frames are refused (ACK code 500)
    queue_size: int = 100  # messages waiting for the consumer; then drop the oldest
    dedupe_ttl: float = 600.0
    dedupe_max_entries: int = 4096

    def __post_init__(self) -> None:
        """Reject values that cannot work."""
        for item in fields(self):
            if getattr(self, item.name) <= 0 and item.name != "backoff_jitter":
                raise ValueError(f"{item.name} must be positive")
        if not 0 <= self.backoff_jitter < 1:
            raise ValueError("backoff_jitter must be in [0, 1)")
        if self.backoff_max < self.backoff_base:
            raise ValueError("backoff_max must not be below backoff_base")


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamStats:
    """A snapshot of the Stream client's counters (no secrets, no message text)."""

    state: StreamState = StreamState.STOPPED
    connections_opened: int = 0
    open_failures: int = 0  # connections/open or the handshake failed
    reconnects_disconnect: int = 0
    reconnects_error: int = 0
    reconnects_watchdog: int = 0
    frames_received: int = 0
    acks_sent: int = 0
    pings: int = 0  # SYSTEM ping frames echoed
    heartbeats: int = 0  # WebSocket pings the watchdog sent
    messages: int = 0  # robot messages and events queued for the consumer
    delivered: int = 0  # handed to the callback without an exception
    duplicates_dropped: int = 0
    malformed_frames: int = 0
    oversized_frames: int = 0
    unhandled_frames: int = 0  # unknown type or CALLBACK topic (ACK code 404)
    queue_drops: int = 0  # the oldest waiting message dropped for a new one
    consumer_errors: int = 0
    last_error: str | None = None  # an exception class name, never its text
    connected_since: float | None = None  # on the client's clock

    def as_dict(self) -> dict[str, Any]:
        """Return the stats as JSON-friendly values (for diagnostics)."""
        return {item.name: getattr(self, item.name) for item in fields(self)}


class StatsRecorder:
    """Keep the StreamStats snapshot current and tell ``on_state`` of changes."""

    def __init__(
        self,
        clock: Callable[[], float],
        on_state: Callable[[StreamState], None] | None,
    ) -> None:
        """Start with zero counters, STOPPED."""
        self.stats = StreamStats()
        self._clock = clock
        self._on_state = on_state

    def set_state(self, state: StreamState) -> None:
        """Record a new state and tell ``on_state`` (its exceptions are logged)."""
        if state is self.stats.state:
            return
        # A hand-over stays CONNECTED, so connected_since survives it.
        since = self._clock() if state is StreamState.CONNECTED else None
        self.stats = replace(self.stats, state=state, connected_since=since)
        if self._on_state is not None:
            try:
                self._on_state(state)
            except Exception:
                _LOGGER.exception("DingTalk Stream state callback failed")

    def note(self, kind: str) -> None:
        """Record the kind of the last error (a class name, never error text)."""
        self.stats = replace(self.stats, last_error=kind)

    def bump(self, *counters: str) -> None:
        """Add one to each named counter."""
        stats = self.stats
        self.stats = replace(
            stats, **{name: getattr(stats, name) + 1 for name in counters}
        )


class DedupeCache:
    """Remember keys for ``ttl`` seconds, at most ``max_entries`` of them."""

    def __init__(self, *, ttl: float, max_entries: int) -> None:
        """Start empty."""
        self._ttl = ttl
        self._max_entries = max_entries
        self._expiry: OrderedDict[str, float] = OrderedDict()  # oldest first

    def __len__(self) -> int:
        """Return the number of keys remembered."""
        return len(self._expiry)

    def check(self, keys: Iterable[str], now: float) -> bool:
        """Remember the keys; return whether any of them was already known."""
        while self._expiry and next(iter(self._expiry.values())) <= now:
            self._expiry.popitem(last=False)
        seen = False
        for key in filter(None, keys):
            seen = seen or key in self._expiry
            self._expiry[key] = now + self._ttl
            self._expiry.move_to_end(key)
        while len(self._expiry) > self._max_entries:
            self._expiry.popitem(last=False)
        return seen


def backoff_delay(failures: int, tuning: StreamTuning, rng: random.Random) -> float:
    """Return the pause before an attempt: base * 2**failures, capped, jittered."""
    delay = min(tuning.backoff_max, tuning.backoff_base * 2.0 ** min(failures, 32))
    return delay * (1.0 - tuning.backoff_jitter * rng.random())
