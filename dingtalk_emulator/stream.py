"""Stream mode's gateway without HTTP: tickets, connections, pushes, ACKs, pings.

Frames follow dingtalk-api.md §7.2-§7.4. Times of tickets use the emulator's clock;
ACK timeouts, pings and the close after a disconnect frame use real time (asyncio
timers, only while a server is attached).
"""

from __future__ import annotations

from collections import Counter
import hmac
import json
import random
import secrets
from typing import TYPE_CHECKING, Any
import uuid

from . import app_codes, rules
from .app_codes import ApiError
from .app_models import IMMEDIATE_STREAM_FAULTS, StreamFault, StreamFaultKind
from .fault_queue import FaultQueue
from .stream_models import (
    Attempt,
    Connection,
    ConnectionInfo,
    PendingPush,
    PushState,
    StreamPush,
    StreamStats,
    Ticket,
    app_id,
    cancel,
    dumps,
    echoed_opaque,
)

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from .app_models import AppSettings
    from .apps import AppRobots


class StreamHub:
    """The Stream gateway of every app (docs §2, "Stream mode")."""

    def __init__(self, apps: AppRobots) -> None:
        """Serve the apps' robots; pushes go to a random connection per callback."""
        self.apps = apps
        self._rng = random.Random(self.settings.seed)  # noqa: S311 - not crypto
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tickets: dict[str, Ticket] = {}
        self._connections: dict[str, Connection] = {}
        self._pushes: dict[str, PendingPush] = {}
        self._stats: dict[str, Counter[str]] = {}
        self._faults: dict[str, FaultQueue[StreamFault]] = {}
        self._closers: set[asyncio.TimerHandle] = set()
        self._seq = 0
        apps.pusher = self.push

    @property
    def settings(self) -> AppSettings:
        """The app side's settings (timeouts, intervals)."""
        return self.apps.settings

    # -- lifecycle -----------------------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start real-time behaviour (timers) on the server's event loop."""
        self._loop = loop

    def detach(self) -> None:
        """Stop every timer and close every connection (server shutdown)."""
        for push in self._pushes.values():
            cancel(push.timer)
        for handle in self._closers:
            handle.cancel()
        self._closers.clear()
        for connection in tuple(self._connections.values()):
            cancel(connection.ping_timer)
            connection.close()
        self._loop = None

    def reset(self) -> None:
        """Forget statistics, callbacks, tickets and queued faults."""
        # Open connections stay open.
        for push in self._pushes.values():
            cancel(push.timer)
        self._pushes.clear()
        self._tickets.clear()
        self._faults.clear()
        self._stats.clear()

    # -- connections/open and the WebSocket ----------------------------------------

    def open_connection(self, body: dict[str, Any] | None) -> Ticket | ApiError:
        """Answer connections/open: a ticket, or an error (§7.1)."""
        body = body or {}
        client_id = body.get("clientId")
        secret = body.get("clientSecret")
        known = {app.client_id: app for app in self.apps.apps}
        config = known.get(client_id) if isinstance(client_id, str) else None
        if config is None:
            return app_codes.AUTH_FAILED
        refused = self._take_fault(config.client_id, StreamFaultKind.REFUSE_OPEN)
        if refused is not None:
            self._count(config.client_id, "opens_refused")
            message = app_codes.SERVICE_UNAVAILABLE_TEXT
            return ApiError(refused.status, app_codes.SERVICE_UNAVAILABLE_CODE, message)
        if not isinstance(secret, str) or not hmac.compare_digest(
            config.client_secret.encode(), secret.encode()
        ):
            self._count(config.client_id, "auth_failures")
            return app_codes.AUTH_FAILED
        raw = body.get("subscriptions")
        entries = raw if isinstance(raw, list) else []
        subscriptions = tuple(
            (str(s.get("type", "")), str(s.get("topic", "")))
            for s in entries
            if isinstance(s, dict)
        )
        self._sweep_tickets()
        ticket = Ticket(
            ticket=str(uuid.uuid4()),
            client_id=config.client_id,
            subscriptions=subscriptions,
            ua=str(body.get("ua", "")),
            local_ip=str(body.get("localIp", "")),
            issued_at=self.apps.clock.now(),
        )
        self._tickets[ticket.ticket] = ticket
        self._count(config.client_id, "tickets_issued")
        return ticket

    def take_ticket(self, ticket: str | None) -> Ticket | ApiError:
        """Use a ticket once; unknown, used and expired tickets are refused."""
        found = self._tickets.pop(ticket, None) if ticket is not None else None
        if found is None:
            return app_codes.INVALID_TICKET
        if self._expired(found):
            self._count(found.client_id, "tickets_expired")
            return app_codes.INVALID_TICKET
        self._count(found.client_id, "tickets_used")
        return found

    def connect(
        self,
        ticket: Ticket,
        send: Callable[[str], None],
        close: Callable[[], None],
        abort: Callable[[], None],
    ) -> Connection:
        """Register an accepted WebSocket; pings start."""
        self._seq += 1
        connection = Connection(
            f"conn-{self._seq}",
            ticket.client_id,
            subscriptions=ticket.subscriptions,
            ua=ticket.ua,
            local_ip=ticket.local_ip,
            opened_at=self.apps.clock.now(),
            send=send,
            close=close,
            abort=abort,
        )
        self._connections[connection.connection_id] = connection
        self._count(ticket.client_id, "connections_opened")
        self._schedule_ping(connection)
        return connection

    def closed(self, connection: Connection) -> None:
        """Forget a connection whose socket closed."""
        connection.closed = True
        cancel(connection.ping_timer)
        self._connections.pop(connection.connection_id, None)

    def receive(self, connection: Connection, text: str) -> None:
        """Handle a frame from the client: an ACK of a callback or of a ping."""
        connection.frames_received += 1
        client_id = connection.client_id
        try:
            frame = json.loads(text)
        except ValueError:
            frame = None
        headers = frame.get("headers") if isinstance(frame, dict) else None
        if not isinstance(frame, dict) or not isinstance(headers, dict):
            self._count(client_id, "bad_frames")
            return
        message_id = headers.get("messageId")
        if message_id in connection.system_frames:
            opaque = connection.system_frames.pop(message_id)
            if opaque is not None and echoed_opaque(frame.get("data")) == opaque:
                self._count(client_id, "ping_echoes")
            return
        push = self._pushes.get(message_id) if isinstance(message_id, str) else None
        if push is None or push.state is not PushState.PENDING:
            self._count(client_id, "acks_unmatched")
        elif self._take_fault(client_id, StreamFaultKind.IGNORE_ACKS) is not None:
            self._count(client_id, "acks_ignored")
        elif frame.get("code") not in rules.ACK_OK_CODES:
            self._count(client_id, "acks_failed")
        else:
            self._count(client_id, "acks")
            push.acked_by, push.ack = connection.connection_id, frame
            push.state = PushState.ACKED
            cancel(push.timer)

    # -- pushes --------------------------------------------------------------------

    def push(self, client_id: str, data: dict[str, Any]) -> str:
        """Push a robot message to one of the app's connections; return messageId."""
        self._seq += 1
        message_id = f"{secrets.token_hex(4)}_{self._seq}_{secrets.token_hex(6)}"
        now = self.apps.clock.now()
        push = PendingPush(
            StreamPush(
                message_id=message_id,
                client_id=client_id,
                topic=rules.ROBOT_TOPIC,
                data=data,
                created_at=now,
                attempts=(),
                state=PushState.PENDING,
            )
        )
        self._pushes[message_id] = push
        while len(self._pushes) > self.apps.history_limit:
            cancel(self._pushes.pop(next(iter(self._pushes))).timer)
        delay = self._take_fault(client_id, StreamFaultKind.DELAY_PUSH)
        if delay is not None and self._loop is not None:
            push.timer = self._loop.call_later(delay.delay, self._attempt, push)
        else:
            self._attempt(push)
        return message_id

    def _attempt(self, push: PendingPush) -> None:
        """Send a callback to a random eligible connection; wait for its ACK."""
        record = push.record
        eligible = [
            c
            for c in self._connections.values()
            if c.client_id == record.client_id
            and (rules.PUSH_AFTER_DISCONNECT or not c.disconnecting)
            and ("CALLBACK", record.topic) in c.subscriptions
        ]
        connection = self._rng.choice(eligible) if eligible else None
        push.attempts.append(
            Attempt(
                connection=None if connection is None else connection.connection_id,
                at=self.apps.clock.now(),
            )
        )
        if connection is not None:
            headers = {
                "appId": app_id(record.client_id),
                "connectionId": connection.connection_id,
            }
            self._send(
                connection,
                kind="CALLBACK",
                topic=record.topic,
                message_id=record.message_id,
                data=push.frame_data,
                extra_headers=headers,
            )
            self._count(record.client_id, "frames_pushed")
        if self._loop is not None:
            push.timer = self._loop.call_later(
                self.settings.ack_timeout, self._ack_timeout, push
            )

    def _ack_timeout(self, push: PendingPush) -> None:
        """Push an un-ACKed callback again, or give it up (an ACK cancels this)."""
        if len(push.attempts) > self.settings.max_redeliveries:
            push.state = PushState.GIVEN_UP
            self._count(push.record.client_id, "undelivered")
            return
        self._count(push.record.client_id, "redeliveries")
        self._attempt(push)

    # -- SYSTEM frames -------------------------------------------------------------

    def _schedule_ping(self, connection: Connection) -> None:
        """Ping the connection after the ping interval (if pings are on)."""
        interval = self.settings.ping_interval
        if self._loop is not None and interval is not None and not connection.closed:
            connection.ping_timer = self._loop.call_later(
                interval, self.ping, connection
            )

    def ping(self, connection: Connection) -> None:
        """Send a SYSTEM ping with an opaque value; expect it echoed (§7.4)."""
        if not connection.closed and not connection.silent:
            opaque = str(uuid.uuid4())
            message_id = self._system(connection, "ping", {"opaque": opaque})
            connection.system_frames[message_id] = opaque
            self._count(connection.client_id, "pings_sent")
        self._schedule_ping(connection)

    def disconnect(self, connection: Connection) -> None:
        """Send a SYSTEM disconnect frame; close the connection a little later."""
        if connection.closed or connection.disconnecting:
            return
        message_id = self._system(
            connection, "disconnect", {"reason": rules.DISCONNECT_REASON}
        )
        connection.system_frames[message_id] = None
        connection.disconnecting = True
        self._count(connection.client_id, "disconnects_sent")
        if self._loop is None:
            connection.close()
            return
        handles: list[asyncio.TimerHandle] = []

        def close_later() -> None:
            """Close the connection and forget this timer."""
            self._closers.difference_update(handles)
            connection.close()

        handles.append(
            self._loop.call_later(self.settings.disconnect_grace, close_later)
        )
        self._closers.update(handles)

    def _system(self, connection: Connection, topic: str, data: dict[str, str]) -> str:
        """Send a SYSTEM frame; return its messageId."""
        self._seq += 1
        message_id = f"{secrets.token_hex(4)}_{self._seq}_system"
        self._send(
            connection,
            kind="SYSTEM",
            topic=topic,
            message_id=message_id,
            data=dumps(data),
            extra_headers={},
        )
        return message_id

    def _send(  # noqa: PLR0913 - the parts of a frame
        self,
        connection: Connection,
        *,
        kind: str,
        topic: str,
        message_id: str,
        data: str,
        extra_headers: dict[str, str],
    ) -> None:
        """Write one frame of §7.2 (a silent connection swallows it)."""
        headers = {
            **extra_headers,
            "contentType": "application/json",
            "messageId": message_id,
            "time": str(round(self.apps.clock.now() * 1000)),
            "topic": topic,
        }
        frame = {"specVersion": "1.0", "type": kind, "headers": headers, "data": data}
        connection.frames_sent += 1
        if not connection.silent and not connection.closed:
            connection.send(dumps(frame))

    # -- faults --------------------------------------------------------------------

    def inject_fault(self, client_id: str, fault: StreamFault) -> None:
        """Apply an immediate fault now, or queue one for the next occasions."""
        self.apps.app(client_id)  # KeyError for unknown apps
        if fault.kind not in IMMEDIATE_STREAM_FAULTS:
            self._faults.setdefault(client_id, FaultQueue()).add(fault)
            return
        targets = [
            c
            for c in self._connections.values()
            if c.client_id == client_id and fault.connection in {None, c.connection_id}
        ]
        if fault.connection is not None and not targets:
            raise KeyError(f"no open connection {fault.connection} of {client_id}")
        for connection in targets:
            if fault.kind is StreamFaultKind.DISCONNECT:
                self.disconnect(connection)
            elif fault.kind is StreamFaultKind.SILENT:
                connection.silent = True
            else:
                connection.abort()

    def pending_faults(self, client_id: str) -> list[StreamFault]:
        """Return the app's queued faults, each with the count still to strike."""
        self.apps.app(client_id)
        return self._faults.get(client_id, FaultQueue()).pending()

    def clear_faults(self, client_id: str) -> None:
        """Drop the app's queued faults."""
        self.apps.app(client_id)
        self._faults.pop(client_id, None)

    def _take_fault(self, client_id: str, kind: StreamFaultKind) -> StreamFault | None:
        """Consume one strike of the first queued fault of ``kind``, if any."""
        return self._faults.get(client_id, FaultQueue()).take(kind)

    # -- views ---------------------------------------------------------------------

    def stats(self, client_id: str) -> StreamStats:
        """Return the app's counters and how many connections are open."""
        self.apps.app(client_id)
        self._sweep_tickets()
        counts = self._stats.get(client_id, Counter())
        values = {name: counts[name] for name in StreamStats.names()}
        values["connections_open"] = len(self.connections(client_id))
        return StreamStats(**values)

    def connections(self, client_id: str | None = None) -> list[ConnectionInfo]:
        """Open connections (all apps', or one app's), oldest first."""
        return [
            c.info()
            for c in self._connections.values()
            if client_id in {None, c.client_id}
        ]

    def connection(self, connection_id: str) -> Connection:
        """Return a live connection (KeyError if it is not open)."""
        try:
            return self._connections[connection_id]
        except KeyError:
            raise KeyError(f"no open connection {connection_id}") from None

    def pushes(self, client_id: str | None = None) -> list[StreamPush]:
        """Callbacks and what became of them, oldest first."""
        return [
            push.snapshot()
            for push in self._pushes.values()
            if client_id in {None, push.record.client_id}
        ]

    # -- internals -----------------------------------------------------------------

    def _count(self, client_id: str, name: str) -> None:
        """Add one to an app's counter."""
        self._stats.setdefault(client_id, Counter())[name] += 1

    def _expired(self, ticket: Ticket) -> bool:
        """Whether a ticket is older than the ticket TTL (exactly the TTL passes)."""
        return self.apps.clock.now() - ticket.issued_at > self.settings.ticket_ttl

    def _sweep_tickets(self) -> None:
        """Forget unused tickets that expired, counting them."""
        for ticket in [t for t in self._tickets.values() if self._expired(t)]:
            del self._tickets[ticket.ticket]
            self._count(ticket.client_id, "tickets_expired")
