"""StreamClient connection lifecycle: hand-over, back-off, watchdog, auth, cancel."""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

import pytest

from custom_components.dingtalk.api import AppCredentialsError
from custom_components.dingtalk.api.stream_support import StreamState, StreamTuning

from .stream_fakes import (
    CLIENT_SECRET,
    WAIT,
    FakeClock,
    FakeGateway,
    FakeSleep,
    FixedRandom,
    Inbox,
    connected,
    gateway_fixture,  # noqa: F401 - a pytest fixture
    make_client,
    robot_payload,
    running,
    session_fixture,  # noqa: F401 - a pytest fixture
    stream_tasks,
    until,
)

if TYPE_CHECKING:
    import aiohttp

pytestmark = pytest.mark.usefixtures("socket_enabled")

BUSY = (503, {"code": "ServiceUnavailable", "message": "系统繁忙", "requestid": "r"})
DISCONNECT = '{"reason":"persistent connection is timeout"}'


async def test_disconnect_hands_over_without_loss(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Open the new socket at once; keep reading the old one until it is up."""
    inbox, sleep, states = Inbox(), FakeSleep(), list[StreamState]()
    client = make_client(gateway, session, inbox, sleep=sleep, on_state=states.append)
    async with running(client):
        old = await gateway.connected(client, 0)
        await old.push(robot_payload("msg0"), "mid-0")
        gateway.hold_open = asyncio.Event()  # the next connections/open waits
        await old.system("disconnect", DISCONNECT, "sys-1")
        assert (await old.wait_ack("sys-1"))["data"] == DISCONNECT
        await until(lambda: len(gateway.open_requests) == 2)  # at once, no back-off
        await old.push(robot_payload("msg1"), "mid-1")  # during the hand-over
        await old.wait_ack("mid-1")
        await until(lambda: len(inbox.messages) == 2)
        assert not old.closed.is_set()
        gateway.hold_open.set()
        new = await gateway.connected(client, 1)
        await asyncio.wait_for(old.closed.wait(), WAIT)  # let go only now
        await new.push(robot_payload("msg0"), "mid-0")  # a redelivery to the new one
        await new.push(robot_payload("msg2"), "mid-2")
        await until(lambda: len(inbox.messages) == 3)
        assert client.state is StreamState.CONNECTED
    assert gateway.log[:3] == ["open 0", "open 1", "close 0"]
    assert new.ticket != old.ticket
    assert inbox.msg_ids == ["msg0", "msg1", "msg2"]
    assert sleep.delays == []
    assert states == [
        StreamState.CONNECTING,
        StreamState.CONNECTED,
        StreamState.STOPPED,
    ]
    stats = client.stats()
    assert (stats.reconnects_disconnect, stats.duplicates_dropped) == (1, 1)
    assert stats.last_error is None
    assert gateway.max_in_flight == 1


async def test_failed_hand_over_backs_off(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Back off when the new socket cannot be opened; the old one still reads."""
    inbox, sleep, states = Inbox(), FakeSleep(), list[StreamState]()
    client = make_client(
        gateway,
        session,
        inbox,
        sleep=sleep,
        on_state=states.append,
        rng=FixedRandom(0.0),
    )
    async with running(client):
        old = await gateway.connected(client, 0)
        gateway.answers.append(BUSY)
        await old.system("disconnect", DISCONNECT, "sys-1")
        await gateway.connected(client, 1)
        await asyncio.wait_for(old.closed.wait(), WAIT)
        await until(lambda: len(states) == 5)
    assert sleep.delays == [1.0]
    assert states == [
        StreamState.CONNECTING,
        StreamState.CONNECTED,
        StreamState.BACKING_OFF,
        StreamState.CONNECTING,
        StreamState.CONNECTED,
        StreamState.STOPPED,
    ]
    assert (client.stats().open_failures, client.stats().last_error) == (1, "BusyError")


@pytest.mark.parametrize(("spacing", "delays"), [(0.0, [1.0]), (60.0, [])])
async def test_disconnect_storm_backs_off(
    gateway: FakeGateway,
    session: aiohttp.ClientSession,
    spacing: float,
    delays: list[float],
) -> None:
    """Hand over at once once per healthy_after; a quicker repeat backs off."""
    clock, sleep = FakeClock(), FakeSleep()
    client = make_client(
        gateway, session, Inbox(), clock=clock, sleep=sleep, rng=FixedRandom(0.0)
    )
    async with running(client):
        for index in range(2):
            conn = await gateway.connected(client, index)
            clock.advance(spacing)
            await conn.system("disconnect", DISCONNECT, f"sys-{index}")
        await gateway.connected(client, 2)
    assert sleep.delays == delays
    assert client.stats().reconnects_disconnect == 2
    assert client.stats().open_failures == 0


@pytest.mark.parametrize(("jitter", "factor"), [(0.0, 1.0), (0.5, 0.9)])
async def test_backoff_sequence(
    gateway: FakeGateway, session: aiohttp.ClientSession, jitter: float, factor: float
) -> None:
    """After errors wait 1, 2, 4 … 60 s, shortened by at most 20 % of jitter."""
    sleep, states = FakeSleep(), list[StreamState]()
    gateway.answers.extend([BUSY] * 8)
    client = make_client(
        gateway,
        session,
        Inbox(),
        sleep=sleep,
        rng=FixedRandom(jitter),
        on_state=states.append,
    )
    async with running(client):
        await until(lambda: client.state is StreamState.CONNECTED)
    expected = [1, 2, 4, 8, 16, 32, 60, 60]
    assert sleep.delays == pytest.approx([delay * factor for delay in expected])
    assert states[:4] == [
        StreamState.CONNECTING,
        StreamState.BACKING_OFF,
        StreamState.CONNECTING,
        StreamState.BACKING_OFF,
    ]
    stats = client.stats()
    assert (stats.open_failures, stats.last_error, stats.connections_opened) == (
        8,
        "BusyError",
        1,
    )
    assert len(gateway.open_requests) == 9
    assert gateway.max_in_flight == 1  # never two attempts at once


async def test_backoff_resets_after_a_healthy_connection(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Grow the delay while sockets die young; start over after a healthy one."""
    clock = FakeClock()
    sleep = FakeSleep(clock)
    client = make_client(
        gateway, session, Inbox(), clock=clock, sleep=sleep, rng=FixedRandom(0.0)
    )
    async with running(client):
        for index in range(3):
            conn = await gateway.connection(index)
            await until(lambda: client.stats().connections_opened == index + 1)  # noqa: B023
            if index == 2:
                clock.advance(StreamTuning().healthy_after)
            await conn.ws.close()  # the server drops the socket
        await gateway.connected(client, 3)
    assert sleep.delays == [1, 2, 1]
    stats = client.stats()
    assert (stats.reconnects_error, stats.last_error) == (3, "SocketClosed")


async def test_watchdog_replaces_a_silent_socket(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Ping a quiet socket; replace it when not even a pong comes back."""
    sleep = FakeSleep()
    tuning = StreamTuning(ping_interval=0.05, pong_timeout=0.1, close_timeout=0.2)
    client = make_client(gateway, session, Inbox(), sleep=sleep, tuning=tuning)
    async with running(client):
        silent = await gateway.connected(client, 0)
        silent.answer_pings = False
        await gateway.connected(client, 1)
    assert silent.pings >= 1
    assert gateway.connections[1].ticket != silent.ticket  # a fresh ticket
    stats = client.stats()
    assert stats.reconnects_watchdog >= 1  # the new socket is watched too
    assert (stats.last_error, stats.reconnects_error) == ("SilentSocket", 0)
    assert stats.heartbeats >= 1
    assert sleep.delays[0] == pytest.approx(1, rel=0.2)  # then back off as usual


async def test_pongs_keep_a_socket(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Keep a quiet socket that answers pings; answer the server's pings."""
    tuning = StreamTuning(ping_interval=0.02, pong_timeout=WAIT, close_timeout=0.5)
    async with connected(gateway, session, tuning=tuning) as run:
        client, conn = run.client, run.conn
        await until(lambda: conn.pings >= 3)
        await conn.ws.ping(b"hello")
        await until(lambda: conn.pongs == 1)
        assert len(gateway.connections) == 1
    assert client.stats().heartbeats >= 3
    assert client.stats().reconnects_watchdog == 0


@pytest.mark.parametrize(
    ("status", "code"),
    [(401, "authFailed"), (400, "invalid.client"), (403, "InvalidAuthentication")],
)
async def test_refused_credentials_end_run(
    gateway: FakeGateway, session: aiohttp.ClientSession, status: int, code: str
) -> None:
    """Raise AppCredentialsError out of run() after reporting AUTH_FAILED."""
    states: list[StreamState] = []
    body = {"code": code, "message": "鉴权失败", "requestid": "rq-9"}
    gateway.answers.append((status, body))
    client = make_client(gateway, session, Inbox(), on_state=states.append)
    async with running(client) as task:
        with pytest.raises(AppCredentialsError) as caught:
            await task
    assert (caught.value.errcode, caught.value.status) == (code, status)
    assert states == [StreamState.CONNECTING, StreamState.AUTH_FAILED]
    assert client.state is StreamState.AUTH_FAILED
    assert client.stats().last_error == "AppCredentialsError"
    assert not gateway.connections
    assert not stream_tasks()


async def test_refused_ticket_is_retried_with_a_new_one(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Treat a handshake refusal as a passing error: a fresh ticket next time."""
    gateway.refuse_handshakes = 1
    async with connected(gateway, session) as run:
        client, conn = run.client, run.conn
    assert gateway.refused[0] != conn.ticket
    assert client.stats().last_error == "DingTalkHTTPError"


async def test_insecure_endpoint_is_refused(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Never connect to a ws:// endpoint on the internet."""
    gateway.endpoint = "ws://wss-open-connection.dingtalk.com/connect"
    client = make_client(gateway, session, Inbox())
    async with running(client):
        await until(lambda: client.stats().open_failures >= 2)
    assert client.stats().last_error == "DingTalkBadResponseError"
    assert not gateway.connections


def _free_port() -> int:
    """Return a 127.0.0.1 port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_endpoint(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Retry when the socket cannot be opened."""
    gateway.endpoint = f"ws://127.0.0.1:{_free_port()}/connect"
    client = make_client(gateway, session, Inbox())
    async with running(client):
        await until(lambda: client.stats().open_failures >= 1)
    assert client.stats().last_error == "DingTalkConnectionError"


async def test_handshake_timeout(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Give up on a handshake that gets no answer within connect_timeout."""

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Accept the connection and never answer."""
        await reader.read()
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    gateway.endpoint = f"ws://127.0.0.1:{port}/connect"
    tuning = StreamTuning(connect_timeout=0.05, pong_timeout=5, close_timeout=0.5)
    client = make_client(gateway, session, Inbox(), tuning=tuning)
    try:
        async with running(client):
            await until(lambda: client.stats().open_failures >= 1)
    finally:
        server.close()
        await server.wait_closed()
    assert client.stats().last_error == "DingTalkTimeoutError"


async def test_failed_ack_replaces_the_socket(
    gateway: FakeGateway,
    session: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Replace a socket on which an ACK cannot be sent."""

    async def broken(_text: str) -> None:
        """Fail like a reset connection."""
        raise ConnectionResetError

    async with connected(gateway, session) as run:
        client, conn = run.client, run.conn
        (live,) = client._connections
        monkeypatch.setattr(live.ws, "send_str", broken)
        await conn.push(robot_payload(), "mid-1")
        await gateway.connected(client, 1)
    assert client.stats().last_error == "ConnectionResetError"
    assert client.stats().reconnects_error == 1


@pytest.mark.parametrize("stage", ["open", "handshake"])
async def test_cancel_while_connecting(
    gateway: FakeGateway, session: aiohttp.ClientSession, stage: str
) -> None:
    """Return promptly when cancelled during connections/open or the handshake."""
    hold = asyncio.Event()  # never set: the gateway does not answer
    if stage == "open":
        gateway.hold_open = hold
    else:
        gateway.hold_connect = hold
    client = make_client(gateway, session, Inbox())
    async with running(client) as task:
        # Held there: connections/open received, or the ticket presented.
        await until(lambda: any(gateway.tickets.values()) or gateway.hold_open)
        task.cancel()
        await asyncio.wait_for(asyncio.wait({task}), WAIT)
        assert task.cancelled()
    assert (client.state, client.stats().connections_opened) == (StreamState.STOPPED, 0)


async def test_cancel_while_connected(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Close the socket and leave no task behind when cancelled."""
    async with connected(gateway, session) as run:
        client, conn, task = run.client, run.conn, run.task
        task.cancel()
        await asyncio.wait_for(asyncio.wait({task}), WAIT)
        assert task.cancelled()
        assert not stream_tasks()
        await asyncio.wait_for(conn.closed.wait(), WAIT)
    assert not client._connections


@pytest.mark.parametrize("cancels", [1, 2])
async def test_cancel_during_hand_over(
    gateway: FakeGateway, session: aiohttp.ClientSession, cancels: int
) -> None:
    """Close both sockets and leave no task behind, even when cancelled twice."""
    async with connected(gateway, session) as run:
        gateway.hold_open = asyncio.Event()
        await run.conn.system("disconnect", DISCONNECT, "sys-1")
        await until(lambda: len(gateway.open_requests) == 2)
        for _ in range(cancels):
            run.task.cancel()
            await asyncio.sleep(0)  # the second one comes while run() is closing
        await asyncio.wait_for(asyncio.wait({run.task}), WAIT)
        assert run.task.cancelled()
        assert not stream_tasks()
        await asyncio.wait_for(run.conn.closed.wait(), WAIT)
    assert not run.client._connections
    assert run.client.state is StreamState.STOPPED


async def test_cancel_while_backing_off(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Stop during a back-off pause."""
    sleep = FakeSleep()
    sleep.gate = asyncio.Event()  # the pause never ends by itself
    gateway.answers.append(BUSY)
    client = make_client(gateway, session, Inbox(), sleep=sleep)
    async with running(client) as task:
        await until(lambda: sleep.delays)
        assert client.stats().state is StreamState.BACKING_OFF
        task.cancel()
        await asyncio.wait_for(asyncio.wait({task}), WAIT)
        assert task.cancelled()
    assert client.state is StreamState.STOPPED


async def test_secrets_never_logged(
    gateway: FakeGateway,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Keep the secret, tickets and the ticket URL out of logs, errors and repr."""
    gateway.refuse_handshakes = 1
    echo = {"code": "authFailed", "message": f"bad secret {CLIENT_SECRET}"}
    inbox = Inbox()
    client = make_client(gateway, session, inbox)
    async with running(client) as task:
        old = await gateway.connected(client, 0)
        await old.push(robot_payload(), "mid-1")
        await old.system("disconnect", DISCONNECT, "sys-1")
        new = await gateway.connected(client, 1)
        await new.push(robot_payload(text="x" * 300_000), "mid-2")
        await new.wait_ack("mid-2")
        gateway.answers.append((401, echo))
        await new.system("disconnect", DISCONNECT, "sys-2")
        with pytest.raises(AppCredentialsError) as caught:
            await task
    texts = [caplog.text, repr(client), str(caught.value), repr(inbox.messages)]
    assert caplog.text  # the test logged something to look at
    for text in texts:
        assert CLIENT_SECRET not in text
        assert quote_plus(CLIENT_SECRET) not in text
        assert "ticket=" not in text
        assert "SESSION0001" not in text
        for ticket in gateway.tickets:
            assert ticket not in text
            assert quote_plus(ticket) not in text
