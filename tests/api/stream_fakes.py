"""A scripted DingTalk Stream gateway on 127.0.0.1, following dingtalk-api.md §7."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
import itertools
import json
import random
import secrets
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

import aiohttp
from aiohttp import WSMsgType, web
import pytest

from custom_components.dingtalk.api.stream import StreamClient
from custom_components.dingtalk.api.stream_support import StreamTuning

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from custom_components.dingtalk.api.stream_models import RobotMessage, StreamEvent
    from custom_components.dingtalk.api.stream_support import StreamState

CLIENT_ID = "dingappkey0123456789"
CLIENT_SECRET = "Zx9+Secret/Value=" * 3  # characters that URL encoding changes
BOT_TOPIC = "/v1.0/im/bot/messages/get"
OPEN_PATH = "/v1.0/gateway/connections/open"
SESSION_WEBHOOK = "https://oapi.dingtalk.com/robot/sendBySession?session=SESSION0001"
WAIT = 5.0  # seconds a condition may take before the test fails
FAST = StreamTuning(
    request_timeout=2, connect_timeout=2, pong_timeout=5, close_timeout=0.5
)
"""Tuning for tests: short network timeouts, no heartbeat within a test."""


async def until(condition: Callable[[], object], within: float = WAIT) -> None:
    """Wait until ``condition()`` is true (fail after ``within`` seconds)."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - state of two peers, no one event
            await asyncio.sleep(0.002)


def frame(
    kind: str, topic: str, message_id: str, data: str, **headers: str
) -> dict[str, Any]:
    """Return a server frame exactly as §7.2 shows it."""
    return {
        "specVersion": "1.0",
        "type": kind,
        "headers": {
            "topic": topic,
            "messageId": message_id,
            "contentType": "application/json",
            "time": "1690362102194",
            "appId": "app-0001",
            **headers,
        },
        "data": data,
    }


def robot_payload(
    msg_id: str = "msgA", text: str = " 开灯", **extra: object
) -> dict[str, Any]:
    """Return a group text message for the robot as §7.5 describes it."""
    return {
        "conversationId": "cidGroup0001==",
        "conversationType": "2",
        "conversationTitle": "家",
        "msgId": msg_id,
        "msgtype": "text",
        "text": {"content": text},
        "senderId": "$:LWCP_v1:$sender",
        "senderNick": "张三",
        "senderStaffId": "user001",
        "senderCorpId": "dingcorp",
        "isAdmin": True,
        "chatbotUserId": "$:LWCP_v1:$robot",
        "chatbotCorpId": "dingcorp",
        "robotCode": CLIENT_ID,
        "atUsers": [{"dingtalkId": "$:LWCP_v1:$robot"}],
        "isInAtList": True,
        "createAt": 1690362102194,
        "sessionWebhook": SESSION_WEBHOOK,
        "sessionWebhookExpiredTime": 1690367502425,
        **extra,
    }


@dataclass(frozen=True, slots=True)
class OpenRequest:
    """One connections/open request as the gateway received it."""

    headers: dict[str, str]
    body: dict[str, Any]


@dataclass(eq=False)
class FakeConnection:
    """One client socket on the gateway: push frames, read what the client sent."""

    index: int
    ticket: str
    ws: web.WebSocketResponse
    received: list[dict[str, Any]] = field(default_factory=list)
    pings: int = 0  # WebSocket pings from the client
    pongs: int = 0
    answer_pings: bool = True  # False: a silent socket (§11.1)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, message: dict[str, Any] | str) -> None:
        """Send a frame (a dict as JSON, a str as is)."""
        text = message if isinstance(message, str) else json.dumps(message)
        await self.ws.send_str(text)

    async def push(self, payload: dict[str, Any], message_id: str) -> None:
        """Push a robot message (a CALLBACK frame)."""
        data = json.dumps(payload, ensure_ascii=False)
        await self.send(frame("CALLBACK", BOT_TOPIC, message_id, data))

    async def system(self, topic: str, data: str, message_id: str) -> None:
        """Push a SYSTEM frame."""
        await self.send(frame("SYSTEM", topic, message_id, data))

    def ack(self, message_id: str) -> dict[str, Any] | None:
        """Return the client's ACK of a frame, if it arrived."""
        for reply in self.received:
            if reply.get("headers", {}).get("messageId") == message_id:
                return reply
        return None

    async def wait_ack(self, message_id: str) -> dict[str, Any]:
        """Wait for the client's ACK of a frame."""
        await until(lambda: self.ack(message_id))
        reply = self.ack(message_id)
        assert reply is not None
        return reply


@dataclass(eq=False)
class FakeGateway:
    """Issue single-use tickets on connections/open and accept sockets with them."""

    port: int = 0
    open_requests: list[OpenRequest] = field(default_factory=list)
    answers: list[tuple[int, Any]] = field(default_factory=list)  # scripted, in order
    hold_open: asyncio.Event | None = None  # while unset, connections/open waits
    hold_connect: asyncio.Event | None = None  # while unset, /connect waits
    endpoint: str | None = None  # None: this gateway's /connect
    refuse_handshakes: int = 0  # refuse this many valid tickets (HTTP 401)
    tickets: dict[str, bool] = field(default_factory=dict)  # ticket -> used
    refused: list[str] = field(default_factory=list)  # tickets refused at /connect
    connections: list[FakeConnection] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # "open 0", "close 0", …
    in_flight: int = 0  # connections/open requests being answered
    max_in_flight: int = 0
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def base_url(self) -> str:
        """Return the API base of the gateway."""
        return f"http://127.0.0.1:{self.port}"

    def new_ticket(self) -> str:
        """Return a fresh ticket with characters that need URL encoding."""
        ticket = f"tk+{next(self._counter)}/{secrets.token_hex(6)}=="
        self.tickets[ticket] = False
        return ticket

    async def handle_open(self, request: web.Request) -> web.Response:
        """Answer connections/open: scripted answers first, then a fresh ticket."""
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer_open(request)
        finally:
            self.in_flight -= 1

    async def _answer_open(self, request: web.Request) -> web.Response:
        """Record the request and answer it."""
        body = await request.json()
        self.open_requests.append(OpenRequest(dict(request.headers), body))
        if self.hold_open is not None:
            await self.hold_open.wait()
        if self.answers:
            status, answer = self.answers.pop(0)
            if isinstance(answer, bytes):
                return web.Response(status=status, body=answer)
            return web.json_response(answer, status=status)
        endpoint = self.endpoint or f"ws://127.0.0.1:{self.port}/connect"
        return web.json_response({"endpoint": endpoint, "ticket": self.new_ticket()})

    async def handle_connect(self, request: web.Request) -> web.StreamResponse:
        """Accept a socket for an unused ticket; read ACKs and pings until it closes."""
        ticket = request.query.get("ticket", "")
        used = self.tickets.get(ticket, True)  # unknown counts as used
        self.tickets[ticket] = True
        if self.hold_connect is not None:
            await self.hold_connect.wait()
        if used or self.refuse_handshakes:
            self.refuse_handshakes = max(0, self.refuse_handshakes - 1)
            self.refused.append(ticket)
            error = {"code": "invalidTicket", "message": "ticket 无效或已过期"}
            return web.json_response(error, status=401)
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        conn = FakeConnection(len(self.connections), ticket, ws)
        self.connections.append(conn)
        self.log.append(f"open {conn.index}")
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    conn.received.append(json.loads(msg.data))
                elif msg.type is WSMsgType.PING:
                    conn.pings += 1
                    if conn.answer_pings:
                        await ws.pong(msg.data)
                elif msg.type is WSMsgType.PONG:
                    conn.pongs += 1
        finally:
            self.log.append(f"close {conn.index}")
            conn.closed.set()
        return ws

    async def connection(self, index: int) -> FakeConnection:
        """Wait for the socket with this index (0 is the first)."""
        await until(lambda: len(self.connections) > index)
        return self.connections[index]

    async def connected(self, client: StreamClient, index: int = 0) -> FakeConnection:
        """Wait until both ends have the socket with this index."""
        conn = await self.connection(index)
        await until(lambda: client.stats().connections_opened > index)
        return conn


@asynccontextmanager
async def serve_gateway() -> AsyncIterator[FakeGateway]:
    """Serve a FakeGateway on a free 127.0.0.1 port."""
    gateway = FakeGateway()
    app = web.Application()
    app.router.add_post(OPEN_PATH, gateway.handle_open)
    app.router.add_get("/connect", gateway.handle_connect)
    # No access log: it would print the ticket= URL the tests look for in caplog.
    runner = web.AppRunner(app, shutdown_timeout=1, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    gateway.port = runner.addresses[0][1]
    try:
        yield gateway
    finally:
        for hold in (gateway.hold_open, gateway.hold_connect):
            if hold is not None:
                hold.set()
        for conn in gateway.connections:
            await conn.ws.close()
        await runner.cleanup()


@pytest.fixture(name="gateway")
async def gateway_fixture() -> AsyncIterator[FakeGateway]:
    """Serve a scripted gateway for the test."""
    async with serve_gateway() as fake:
        yield fake


@pytest.fixture(name="session")
async def session_fixture() -> AsyncIterator[aiohttp.ClientSession]:
    """Return an aiohttp session (Home Assistant's shared one, in production)."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        """Start at ``now``."""
        self.now = now

    def __call__(self) -> float:
        """Return the time."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


class FakeSleep:
    """Record back-off delays instead of sleeping; optionally block until released."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        """Record delays and move ``clock`` by each."""
        self.clock = clock
        self.delays: list[float] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, delay: float) -> None:
        """Record the delay; yield to the loop without waiting for it."""
        self.delays.append(delay)
        if self.clock is not None:
            self.clock.advance(delay)
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)


class FixedRandom(random.Random):
    """A random source whose random() always returns the same value."""

    def __init__(self, value: float) -> None:
        """Return ``value`` from every random()."""
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        """Return the fixed value."""
        return self.value


class Inbox:
    """Collect the messages a client hands over; optionally hold the consumer."""

    def __init__(self) -> None:
        """Start empty, with the consumer free to run."""
        self.messages: list[RobotMessage] = []
        self.acks_when_called: list[int] = []
        self.gate: asyncio.Event | None = None
        self.client: StreamClient | None = None

    async def __call__(self, message: RobotMessage) -> None:
        """Record the message (and the ACKs sent so far), then wait for the gate."""
        self.messages.append(message)
        if self.client is not None:
            self.acks_when_called.append(self.client.stats().acks_sent)
        if self.gate is not None:
            await self.gate.wait()

    @property
    def msg_ids(self) -> list[str]:
        """Return the msgIds received, in order."""
        return [message.msg_id for message in self.messages]


class ClientOptions(TypedDict, total=False):
    """StreamClient keyword arguments the tests vary."""

    tuning: StreamTuning
    sleep: Callable[[float], Awaitable[None]]
    clock: Callable[[], float]
    rng: random.Random
    on_state: Callable[[StreamState], None]
    on_event: Callable[[StreamEvent], None]
    local_ip: str


def make_client(
    gateway: FakeGateway,
    session: aiohttp.ClientSession,
    inbox: Inbox,
    **kwargs: Unpack[ClientOptions],
) -> StreamClient:
    """Return a client for the gateway; back-off sleeps are recorded, not slept."""
    kwargs.setdefault("tuning", FAST)
    kwargs.setdefault("sleep", FakeSleep())
    client = StreamClient(
        CLIENT_ID,
        CLIENT_SECRET,
        session=session,
        api_base=gateway.base_url,
        on_message=inbox,
        **kwargs,
    )
    inbox.client = client
    return client


def stream_tasks() -> list[asyncio.Task[Any]]:
    """Return the client's tasks still alive (reader, consumer)."""
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("dingtalk-")]


@asynccontextmanager
async def running(client: StreamClient) -> AsyncIterator[asyncio.Task[None]]:
    """Run the client in a task; cancel it after, and check nothing is left."""
    task = asyncio.create_task(client.run(), name="test-run")
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.wait({task})
        assert not stream_tasks()


@dataclass(frozen=True, slots=True)
class Running:
    """A running client, its run() task, its first socket and its inbox."""

    client: StreamClient
    task: asyncio.Task[None]
    conn: FakeConnection
    inbox: Inbox


@asynccontextmanager
async def connected(
    gateway: FakeGateway,
    session: aiohttp.ClientSession,
    inbox: Inbox | None = None,
    **kwargs: Unpack[ClientOptions],
) -> AsyncIterator[Running]:
    """Run a client until its first socket is up on both ends; stop it after."""
    inbox = inbox or Inbox()
    client = make_client(gateway, session, inbox, **kwargs)
    async with running(client) as task:
        yield Running(client, task, await gateway.connected(client), inbox)
