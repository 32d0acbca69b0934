"""Receive robot messages over DingTalk's Stream mode: an asyncio WebSocket client."""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import time
from typing import TYPE_CHECKING, Any, Final, NoReturn
from urllib.parse import quote_plus

import aiohttp
from yarl import URL

from .errors import AppCredentialsError, DingTalkError
from .hosts import is_local_host
from .stream_connect import OPEN_PATH, Connection, open_socket
from .stream_models import (
    BOT_TOPIC,
    CALLBACK_ACK_DATA,
    EVENT_ACK_DATA,
    AckCode,
    FrameType,
    RobotMessage,
    StreamEvent,
    SystemTopic,
    ack,
    find_message_id,
    parse_frame,
)
from .stream_support import (
    DedupeCache,
    EndReason,
    StatsRecorder,
    StreamState,
    StreamStats,
    StreamTuning,
    backoff_delay,
)
from .transport import scrub

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .stream_models import Frame

# One supervisor coroutine makes every connection attempt, one at a time (no
# reconnect storm), each with a fresh single-use ticket. Each socket has one reader
# task: it ACKs a frame before anything else, then puts the message in a bounded
# queue that one consumer task empties, so a slow or failing callback never delays an
# ACK. The reader is also the watchdog: after ping_interval without traffic it sends
# a WebSocket ping, and after pong_timeout more without traffic the socket is dead.
# On a SYSTEM disconnect the old socket keeps being read until the new one is up. No
# log line, exception or repr holds the client secret, a ticket or the socket URL.

_LOGGER: Final = logging.getLogger(__name__)

DEFAULT_API_BASE: Final = "https://api.dingtalk.com"
DEFAULT_TUNING: Final = StreamTuning()

type StreamItem = RobotMessage | StreamEvent
type Callback[T] = Callable[[T], Awaitable[None] | None]
type _Job = tuple[StreamItem, Callback[Any]]


class StreamClient:
    """Receive robot messages (and events) of one enterprise app over Stream mode."""

    def __init__(  # noqa: PLR0913 - credentials, callbacks and test seams, keyword-only
        self,
        client_id: str,
        client_secret: str,
        *,
        session: aiohttp.ClientSession,
        on_message: Callback[RobotMessage],
        on_event: Callback[StreamEvent] | None = None,
        on_state: Callable[[StreamState], None] | None = None,
        api_base: str = DEFAULT_API_BASE,
        local_ip: str | None = None,
        tuning: StreamTuning = DEFAULT_TUNING,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Set up the client; ``run()`` connects. Callbacks may be plain or async."""
        self._client_id, self._secret = client_id.strip(), client_secret.strip()
        if not self._client_id or not self._secret:
            raise ValueError("client_id and client_secret are required")
        base = URL(api_base)
        if base.scheme != "https" and not (
            base.scheme == "http" and is_local_host(base.host or "")
        ):
            raise ValueError("api_base must be https:// (http:// only for local hosts)")
        self._open_url = base / OPEN_PATH
        self._secrets = (self._secret, quote_plus(self._secret))
        self._session = session
        self._on_message = on_message
        self._on_event = on_event
        self._local_ip = local_ip
        self._tuning = tuning
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._sleep = sleep
        self._dedupe = DedupeCache(
            ttl=tuning.dedupe_ttl, max_entries=tuning.dedupe_max_entries
        )
        self._record = StatsRecorder(clock, on_state)
        self._failures = 0  # consecutive pauses since the last healthy connection
        self._handover_at: float | None = None  # the last disconnect frame
        self._connections: set[Connection] = set()
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(tuning.queue_size)
        self._running = False

    @property
    def state(self) -> StreamState:
        """Return what the client is doing."""
        return self._record.stats.state

    def stats(self) -> StreamStats:
        """Return a snapshot of the counters."""
        return self._record.stats

    def __repr__(self) -> str:
        """Show the Client ID (not a secret) and the state."""
        return f"StreamClient(client_id={self._client_id!r}, state={self.state.value})"

    async def run(self) -> None:
        """Receive messages until cancelled, reconnecting as needed.

        Every robot message goes to ``on_message`` and every event to ``on_event``,
        after it has been ACKed, one at a time and in order. Cancelling the task
        closes the sockets and returns promptly; CancelledError propagates.

        Raises:
            AppCredentialsError: DingTalk refused the Client ID or Client Secret (the
                state is AUTH_FAILED); the caller should start reauthentication.
            RuntimeError: ``run()`` is already running.

        """
        if self._running:
            raise RuntimeError("run() is already running")
        self._running = True
        self._queue = asyncio.Queue(self._tuning.queue_size)
        consumer = asyncio.create_task(self._consume(), name="dingtalk-stream-consumer")
        try:
            await self._supervise()
        finally:
            await self._shutdown(consumer)

    async def _shutdown(self, consumer: asyncio.Task[NoReturn]) -> None:
        """Cancel every task, close every socket, and wait for both to finish."""
        conns = list(self._connections)
        self._connections.clear()
        tasks = {consumer, *(conn.reader for conn in conns)}
        for task in tasks:
            task.cancel()
        for conn in conns:
            conn.closing = True
        closing = asyncio.gather(
            *(conn.ws.close() for conn in conns), *tasks, return_exceptions=True
        )
        # Closing is bounded by close_timeout: a repeated cancellation waits for it
        # (so no socket or task is left behind) and is raised afterwards.
        cancelled = False
        while not closing.done():
            try:
                await asyncio.shield(closing)
            except asyncio.CancelledError:
                cancelled = True
        self._running = False
        if self.state is not StreamState.AUTH_FAILED:
            self._record.set_state(StreamState.STOPPED)
        if cancelled:
            raise asyncio.CancelledError

    async def _supervise(self) -> NoReturn:
        """Keep one connection open: the only place that opens connections."""
        current: Connection | None = None
        pause = False
        while True:
            if pause:
                self._record.set_state(StreamState.BACKING_OFF)
                delay = backoff_delay(self._failures, self._tuning, self._rng)
                self._failures += 1
                _LOGGER.debug("Reconnecting to DingTalk Stream in %.1f s", delay)
                await self._sleep(delay)
            if pause or current is None:
                self._record.set_state(StreamState.CONNECTING)
            try:
                new = await self._open()
            except AppCredentialsError as err:
                self._note_error(err)
                self._record.set_state(StreamState.AUTH_FAILED)
                raise
            except DingTalkError as err:
                self._note_error(err, "open_failures")
                pause = True
                continue
            if current is not None:  # a hand-over: the new socket is up, let go
                await self._retire(current)
            current = new
            self._record.set_state(StreamState.CONNECTED)
            reason = await current.outcome
            self._record.bump(f"reconnects_{reason}")
            if self._clock() - current.opened_at >= self._tuning.healthy_after:
                self._failures = 0
            if (
                reason is EndReason.DISCONNECT
            ):  # keep reading it until the new one is up
                # At once, but once per healthy_after: a server that keeps asking
                # would be a reconnect storm, so back off as after an error.
                now, last = self._clock(), self._handover_at
                pause = last is not None and now - last < self._tuning.healthy_after
                self._handover_at = now
            else:
                pause = True
                await self._retire(current)
                current = None

    async def _open(self) -> Connection:
        """Open a socket with a fresh ticket and start its reader."""
        ws = await open_socket(
            self._session,
            self._open_url,
            self._client_id,
            self._secret,
            local_ip=self._local_ip,
            tuning=self._tuning,
        )
        loop = asyncio.get_running_loop()
        conn = Connection(ws, self._clock(), loop.create_future())
        self._connections.add(conn)
        conn.reader = asyncio.create_task(
            self._read(conn), name="dingtalk-stream-reader"
        )
        self._record.bump("connections_opened")
        return conn

    async def _retire(self, conn: Connection) -> None:
        """Close a socket (bounded by close_timeout) and wait for its reader."""
        conn.closing = True
        await conn.ws.close()
        await asyncio.wait({conn.reader})
        self._connections.discard(conn)

    async def _read(self, conn: Connection) -> None:
        """Read one socket until it ends, then report why."""
        reason = EndReason.ERROR
        try:
            reason = await self._receive(conn)
        except (aiohttp.ClientError, OSError) as err:  # an ACK or ping failed
            self._lost(conn, type(err).__name__)
        finally:
            conn.end(reason)

    async def _receive(self, conn: Connection) -> EndReason:
        """Handle frames; return when the socket closes or goes silent."""
        ws, tuning = conn.ws, self._tuning
        pinged = False
        while True:
            try:
                wait = tuning.pong_timeout if pinged else tuning.ping_interval
                msg = await ws.receive(timeout=wait)
            except TimeoutError:
                if pinged:
                    _LOGGER.info("DingTalk Stream socket went silent: replacing it")
                    self._record.note("SilentSocket")
                    return EndReason.WATCHDOG
                await ws.ping()
                self._record.bump("heartbeats")
                pinged = True
                continue
            pinged = False  # any traffic, a pong included, proves the socket alive
            if msg.type is aiohttp.WSMsgType.TEXT:
                await self._on_frame(conn, msg.data)
            elif msg.type is aiohttp.WSMsgType.BINARY:
                await self._on_frame(conn, msg.data.decode("utf-8", "replace"))
            elif msg.type is aiohttp.WSMsgType.PING:
                await ws.pong(msg.data)
            elif msg.type is not aiohttp.WSMsgType.PONG:  # closed or failed
                error = msg.data if isinstance(msg.data, Exception) else None
                self._lost(conn, type(error).__name__ if error else "SocketClosed")
                return EndReason.ERROR

    async def _on_frame(self, conn: Connection, text: str) -> None:
        """ACK one frame at once, then queue what it carries."""
        self._record.bump("frames_received")
        if len(text.encode()) > self._tuning.max_frame_bytes:
            self._record.bump("oversized_frames")
            message_id = find_message_id(text)
            _LOGGER.warning(
                "Dropped an oversized DingTalk Stream frame (%s)", message_id
            )
            if message_id:
                await self._send(conn, message_id, "frame too large", AckCode.ERROR)
            return
        frame = parse_frame(text)
        if frame is None:
            self._record.bump("malformed_frames")
            _LOGGER.debug("Dropped a DingTalk Stream frame that is not a frame")
            return
        _LOGGER.debug(
            "DingTalk Stream %s %s %s", frame.type, frame.topic, frame.message_id
        )
        if frame.type == FrameType.SYSTEM:
            await self._on_system(conn, frame)
            return
        is_event = frame.type == FrameType.EVENT
        is_robot = frame.type == FrameType.CALLBACK and frame.topic == BOT_TOPIC
        if not (is_event or is_robot):
            self._record.bump("unhandled_frames")
            await self._send(conn, frame.message_id, "not handled", AckCode.NOT_HANDLED)
            return
        data = frame.data_object()
        if data is None:
            self._record.bump("malformed_frames")
            await self._send(conn, frame.message_id, "malformed data", AckCode.ERROR)
            return
        await self._send(
            conn,
            frame.message_id,
            data=EVENT_ACK_DATA if is_event else CALLBACK_ACK_DATA,
        )
        self._accept(
            StreamEvent.from_frame(frame, data)
            if is_event
            else RobotMessage.from_payload(frame.message_id, data)
        )

    async def _on_system(self, conn: Connection, frame: Frame) -> None:
        """Echo a SYSTEM frame's data; hand over on disconnect."""
        await self._send(conn, frame.message_id, data=frame.data)
        if frame.topic == SystemTopic.PING:
            self._record.bump("pings")
        elif frame.topic == SystemTopic.DISCONNECT:
            reason = scrub(str((frame.data_object() or {}).get("reason", "")))[:200]
            _LOGGER.debug("DingTalk Stream asked to reconnect: %s", reason)
            conn.end(EndReason.DISCONNECT)

    async def _send(
        self,
        conn: Connection,
        message_id: str,
        message: str = "OK",
        code: int = AckCode.OK,
        *,
        data: str = CALLBACK_ACK_DATA,
    ) -> None:
        """Send one ACK."""
        await conn.ws.send_str(ack(message_id, data, code=code, message=message))
        self._record.bump("acks_sent")

    def _accept(self, item: StreamItem) -> None:
        """Queue an ACKed message for the consumer, unless it is a redelivery."""
        if self._dedupe.check(item.dedupe_keys, self._clock()):
            self._record.bump("duplicates_dropped")
            _LOGGER.debug("Dropped redelivered DingTalk message %s", item.message_id)
            return
        callback: Callback[Any] | None = (
            self._on_event if isinstance(item, StreamEvent) else self._on_message
        )
        if callback is None:
            return
        if self._queue.full():
            dropped, _ = self._queue.get_nowait()
            self._record.bump("queue_drops")
            _LOGGER.warning("Consumer too slow: dropped message %s", dropped.message_id)
        self._queue.put_nowait((item, callback))
        self._record.bump("messages")

    async def _consume(self) -> NoReturn:
        """Hand queued messages to their callback; contain the callback's errors."""
        task = asyncio.current_task()
        while True:
            item, callback = await self._queue.get()
            try:
                result = callback(item)
                if inspect.isawaitable(result):
                    await result
            except (Exception, asyncio.CancelledError) as err:
                if isinstance(err, asyncio.CancelledError) and (
                    task is None or task.cancelling()
                ):
                    raise
                self._record.bump("consumer_errors")
                _LOGGER.exception(
                    "DingTalk message callback failed: %s", item.message_id
                )
            else:
                self._record.bump("delivered")

    def _note_error(self, err: Exception, *counters: str) -> None:
        """Record an error's kind (its class name, never its text) and count it."""
        _LOGGER.debug("DingTalk Stream: %s", scrub(str(err), self._secrets))
        self._record.note(type(err).__name__)
        self._record.bump(*counters)

    def _lost(self, conn: Connection, kind: str) -> None:
        """Record why a socket failed, unless it failed because we closed it."""
        if not conn.closing:
            self._record.note(kind)
