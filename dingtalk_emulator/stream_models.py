"""Value types of Stream mode: tickets, connections, pushes, statistics, frames."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
import json
from typing import TYPE_CHECKING, Any
import uuid

from . import app_checks

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamStats:
    """What one app's Stream connections did (since the last reset)."""

    connections_open: int = 0
    connections_opened: int = 0  # WebSocket connections accepted in total
    tickets_issued: int = 0
    tickets_used: int = 0
    tickets_expired: int = 0  # presented too late, or never used in time
    opens_refused: int = 0  # connections/open refused by a REFUSE_OPEN fault
    auth_failures: int = 0  # connections/open with this clientId, wrong secret
    frames_pushed: int = 0  # CALLBACK frames sent, redeliveries included
    acks: int = 0  # ACKs that settled a callback
    acks_ignored: int = 0  # dropped by an IGNORE_ACKS fault
    acks_failed: int = 0  # ACKs with a code other than 200
    acks_unmatched: int = 0  # ACKs for no pending callback
    redeliveries: int = 0
    undelivered: int = 0  # callbacks given up after MAX_REDELIVERIES
    pings_sent: int = 0
    ping_echoes: int = 0  # ping ACKs that echoed the opaque
    disconnects_sent: int = 0
    bad_frames: int = 0  # frames from the client that are not JSON objects

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Return the counters' names."""
        return tuple(f.name for f in fields(cls))


class PushState(StrEnum):
    """Where a callback is in its life."""

    PENDING = "pending"  # sent (or waiting for a connection), not ACKed yet
    ACKED = "acked"
    GIVEN_UP = "given_up"  # MAX_REDELIVERIES used up without an ACK


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One push of a callback: to which connection (None: none open) and when."""

    connection: str | None
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamPush:
    """A callback (e.g. a robot message) and what became of it."""

    message_id: str
    client_id: str
    topic: str
    data: dict[str, Any] = field(hash=False)
    created_at: float
    attempts: tuple[Attempt, ...]
    state: PushState
    acked_by: str | None = None  # the connection whose ACK settled it
    ack: dict[str, Any] | None = field(default=None, hash=False)  # that ACK frame


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionInfo:
    """A Stream WebSocket connection as the gateway sees it."""

    connection_id: str
    client_id: str
    opened_at: float
    subscriptions: tuple[tuple[str, str], ...]  # (type, topic)
    ua: str
    local_ip: str
    state: str  # open, disconnecting, closed
    silent: bool
    frames_sent: int
    frames_received: int


class Connection:
    """A live connection: how to write to it and close it, and its state."""

    __slots__ = (
        "abort",
        "client_id",
        "close",
        "closed",
        "connection_id",
        "disconnecting",
        "frames_received",
        "frames_sent",
        "local_ip",
        "opened_at",
        "ping_timer",
        "send",
        "silent",
        "subscriptions",
        "system_frames",
        "ua",
    )

    def __init__(  # noqa: PLR0913 - what a connection is made of
        self,
        connection_id: str,
        client_id: str,
        *,
        subscriptions: tuple[tuple[str, str], ...],
        ua: str,
        local_ip: str,
        opened_at: float,
        send: Callable[[str], None],
        close: Callable[[], None],
        abort: Callable[[], None],
    ) -> None:
        """Describe a connection that was just accepted."""
        self.connection_id = connection_id
        self.client_id = client_id
        self.subscriptions = subscriptions
        self.ua = ua
        self.local_ip = local_ip
        self.opened_at = opened_at
        self.send = send  # queues a text frame
        self.close = close  # closes the WebSocket (close frame, then TCP)
        self.abort = abort  # closes the TCP connection without a word
        self.closed = False
        self.disconnecting = False
        self.silent = False
        self.frames_sent = 0
        self.frames_received = 0
        self.system_frames: dict[str, str | None] = {}  # messageId -> ping opaque
        self.ping_timer: asyncio.TimerHandle | None = None

    def info(self) -> ConnectionInfo:
        """Return a snapshot of the connection."""
        state = "closed" if self.closed else "open"
        if self.disconnecting and not self.closed:
            state = "disconnecting"
        return ConnectionInfo(
            connection_id=self.connection_id,
            client_id=self.client_id,
            opened_at=self.opened_at,
            subscriptions=self.subscriptions,
            ua=self.ua,
            local_ip=self.local_ip,
            state=state,
            silent=self.silent,
            frames_sent=self.frames_sent,
            frames_received=self.frames_received,
        )


def dumps(value: object) -> str:
    """Serialise JSON compactly, keeping Chinese text readable."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Ticket:
    """What connections/open granted: a single-use ticket for one app."""

    ticket: str
    client_id: str
    subscriptions: tuple[tuple[str, str], ...]
    ua: str
    local_ip: str
    issued_at: float


class PendingPush:
    """A callback's mutable state."""

    __slots__ = (
        "ack",
        "acked_by",
        "attempts",
        "frame_data",
        "record",
        "state",
        "timer",
    )

    def __init__(self, record: StreamPush) -> None:
        """Start a callback that was not pushed yet."""
        self.record = record
        self.frame_data = dumps(record.data)
        self.attempts: list[Attempt] = []
        self.acked_by: str | None = None
        self.ack: dict[str, Any] | None = None
        self.state = PushState.PENDING
        self.timer: asyncio.TimerHandle | None = None

    def snapshot(self) -> StreamPush:
        """Return the callback as a value."""
        return replace(
            self.record,
            attempts=tuple(self.attempts),
            state=self.state,
            acked_by=self.acked_by,
            ack=self.ack,
        )


def cancel(timer: asyncio.TimerHandle | None) -> None:
    """Cancel a timer if there is one."""
    if timer is not None:
        timer.cancel()


def echoed_opaque(data: object) -> object:
    """Return the opaque an ACK's data (a JSON string) echoes, if any."""
    parsed = app_checks.parse_msg_param(data)
    return None if parsed is None else parsed.get("opaque")


def app_id(client_id: str) -> str:
    """Return the appId DingTalk puts in frame headers (stable per app)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dingtalk-emulator:{client_id}"))
