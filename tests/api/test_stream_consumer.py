"""StreamClient against a scripted gateway: de-duplication, the consumer, misuse."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from custom_components.dingtalk.api.stream import StreamClient
from custom_components.dingtalk.api.stream_support import StreamState, StreamTuning

from .stream_fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    FAST,
    FakeClock,
    FakeGateway,
    Inbox,
    connected,
    gateway_fixture,  # noqa: F401 - a pytest fixture
    make_client,
    robot_payload,
    running,
    session_fixture,  # noqa: F401 - a pytest fixture
    until,
)

if TYPE_CHECKING:
    import aiohttp

    from custom_components.dingtalk.api.stream_models import RobotMessage

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def test_duplicates_are_acked_but_dropped(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Drop a redelivery by messageId or by msgId, after ACKing it."""
    async with connected(gateway, session) as run:
        client, conn, inbox = run.client, run.conn, run.inbox
        await conn.push(robot_payload("msgA"), "mid-1")
        await conn.push(robot_payload("msgA"), "mid-1")  # same messageId
        await conn.push(robot_payload("msgA"), "mid-2")  # same msgId, new messageId
        await conn.push(robot_payload("msgB"), "mid-3")
        await until(lambda: len(conn.received) == 4)
        await until(lambda: len(inbox.messages) == 2)
    assert inbox.msg_ids == ["msgA", "msgB"]
    assert (client.stats().duplicates_dropped, client.stats().acks_sent) == (2, 4)


async def test_duplicates_expire(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Accept the same message again after dedupe_ttl."""
    inbox, clock = Inbox(), FakeClock()
    tuning = StreamTuning(dedupe_ttl=600, pong_timeout=5, close_timeout=0.5)
    client = make_client(gateway, session, inbox, clock=clock, tuning=tuning)
    async with running(client):
        conn = await gateway.connected(client, 0)
        await conn.push(robot_payload("msgA"), "mid-1")
        await until(lambda: len(inbox.messages) == 1)
        clock.advance(601)
        await conn.push(robot_payload("msgA"), "mid-1")
        await until(lambda: len(inbox.messages) == 2)
    assert client.stats().duplicates_dropped == 0


async def test_consumer_errors_are_contained(
    gateway: FakeGateway,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Log a failing callback (an exception or a stray CancelledError) and go on."""
    seen: list[str] = []

    def on_message(message: RobotMessage) -> None:
        """Fail on the first two messages (a plain callback, not a coroutine)."""
        seen.append(message.msg_id)
        if message.msg_id == "msg0":
            raise RuntimeError("boom")
        if message.msg_id == "msg1":
            raise asyncio.CancelledError

    client = StreamClient(
        CLIENT_ID,
        CLIENT_SECRET,
        session=session,
        api_base=gateway.base_url,
        on_message=on_message,
        tuning=FAST,
    )
    async with running(client):
        conn = await gateway.connected(client, 0)
        for n in range(3):
            await conn.push(robot_payload(f"msg{n}"), f"mid-{n}")
        await until(lambda: len(seen) == 3)
        await until(lambda: client.stats().delivered == 1)
    assert (client.stats().consumer_errors, client.stats().acks_sent) == (2, 3)
    failures = [r for r in caplog.records if "callback failed" in r.getMessage()]
    assert [r.exc_info[0] for r in failures if r.exc_info] == [
        RuntimeError,
        asyncio.CancelledError,
    ]


async def test_queue_drops_the_oldest(
    gateway: FakeGateway,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Keep at most queue_size messages waiting; drop the oldest for a new one."""
    inbox = Inbox()
    inbox.gate = asyncio.Event()
    tuning = StreamTuning(queue_size=2, pong_timeout=5, close_timeout=0.5)
    client = make_client(gateway, session, inbox, tuning=tuning)
    async with running(client):
        conn = await gateway.connected(client, 0)
        await conn.push(robot_payload("msg0"), "mid-0")
        await until(lambda: inbox.messages)  # the consumer holds msg0
        for n in range(1, 4):
            await conn.push(robot_payload(f"msg{n}"), f"mid-{n}")
        await until(lambda: client.stats().messages == 4)  # all four queued
        inbox.gate.set()
        await until(lambda: len(inbox.messages) == 3)
    assert inbox.msg_ids == ["msg0", "msg2", "msg3"]
    assert (client.stats().queue_drops, client.stats().messages) == (1, 4)
    assert "dropped message mid-1" in caplog.text


async def test_cancel_with_a_busy_consumer(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Cancel a callback that is still running when run() is cancelled."""
    inbox = Inbox()
    inbox.gate = asyncio.Event()  # never set: the callback runs until cancelled
    client = make_client(gateway, session, inbox)
    async with running(client) as task:
        conn = await gateway.connected(client, 0)
        await conn.push(robot_payload(), "mid-1")
        await until(lambda: inbox.messages)
        task.cancel()
        await asyncio.wait_for(asyncio.wait({task}), 5)
        assert task.cancelled()
    assert (client.stats().delivered, client.stats().consumer_errors) == (0, 0)


async def test_state_callback_errors_are_contained(
    gateway: FakeGateway,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Log a failing on_state and keep running."""

    def on_state(state: StreamState) -> None:
        """Fail on every change."""
        raise ValueError(state)

    async with connected(gateway, session, on_state=on_state) as run:
        await run.conn.push(robot_payload(), "mid-1")
        await until(lambda: run.inbox.messages)
    assert "state callback failed" in caplog.text


async def test_run_twice(gateway: FakeGateway, session: aiohttp.ClientSession) -> None:
    """Refuse a second run() while the first is running; allow one after."""
    client = make_client(gateway, session, Inbox())
    async with running(client):
        await gateway.connected(client, 0)
        with pytest.raises(RuntimeError, match="already running"):
            await client.run()
    async with running(client):
        await gateway.connected(client, 1)
    assert client.stats().connections_opened == 2


@pytest.mark.parametrize(
    ("client_id", "secret", "api_base"),
    [
        ("", "s", "https://api.dingtalk.com"),
        ("id", " ", "https://api.dingtalk.com"),
        ("id", "s", "http://api.dingtalk.com"),
        ("id", "s", "ftp://127.0.0.1"),
    ],
)
async def test_constructor_checks(
    client_id: str, secret: str, api_base: str, session: aiohttp.ClientSession
) -> None:
    """Refuse empty credentials and a plain-http API base on the internet."""
    with pytest.raises(ValueError, match=r"client_id|api_base"):
        StreamClient(
            client_id, secret, session=session, api_base=api_base, on_message=Inbox()
        )


async def test_repr_has_no_secret(session: aiohttp.ClientSession) -> None:
    """Show the Client ID and state, never the secret."""
    client = StreamClient(CLIENT_ID, CLIENT_SECRET, session=session, on_message=Inbox())
    assert repr(client) == f"StreamClient(client_id='{CLIENT_ID}', state=stopped)"
    local = StreamClient(
        "id", "s", session=session, api_base="http://localhost:8080", on_message=Inbox()
    )
    assert local._open_url.path == "/v1.0/gateway/connections/open"
