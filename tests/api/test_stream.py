"""StreamClient against a scripted Stream gateway on 127.0.0.1: frames and ACKs."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import pytest

from custom_components.dingtalk.api.stream_connect import STREAM_UA
from custom_components.dingtalk.api.stream_models import (
    CALLBACK_ACK_DATA,
    EVENT_ACK_DATA,
    ConversationType,
    StreamEvent,
)
from custom_components.dingtalk.api.stream_support import StreamState, StreamTuning

from .stream_fakes import (
    BOT_TOPIC,
    CLIENT_ID,
    CLIENT_SECRET,
    SESSION_WEBHOOK,
    FakeGateway,
    Inbox,
    connected,
    frame,
    gateway_fixture,  # noqa: F401 - a pytest fixture
    make_client,
    robot_payload,
    running,
    session_fixture,  # noqa: F401 - a pytest fixture
    until,
)

if TYPE_CHECKING:
    import aiohttp

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def test_connect_ack_and_deliver(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Open with a fresh ticket, ACK the message per §7.3, then hand it over."""
    inbox, states = Inbox(), list[StreamState]()
    client = make_client(gateway, session, inbox, on_state=states.append)
    assert client.state is StreamState.STOPPED
    async with running(client):
        conn = await gateway.connected(client, 0)
        await conn.push(robot_payload(), "mid-1")
        assert await conn.wait_ack("mid-1") == {
            "code": 200,
            "headers": {"messageId": "mid-1", "contentType": "application/json"},
            "message": "OK",
            "data": '{"response": null}',
        }
        await until(lambda: inbox.messages)
        assert client.stats().state is StreamState.CONNECTED
        assert client.stats().connected_since is not None
    (message,) = inbox.messages
    assert (message.message_id, message.msg_id, message.text) == (
        "mid-1",
        "msgA",
        "开灯",
    )
    assert message.conversation_type is ConversationType.GROUP
    assert message.session_webhook == SESSION_WEBHOOK
    assert states == [
        StreamState.CONNECTING,
        StreamState.CONNECTED,
        StreamState.STOPPED,
    ]
    stats = client.stats()
    assert (stats.connections_opened, stats.frames_received, stats.acks_sent) == (
        1,
        1,
        1,
    )
    assert (stats.messages, stats.delivered, stats.last_error) == (1, 1, None)
    assert (stats.state, stats.connected_since) == (StreamState.STOPPED, None)
    assert conn.closed.is_set()  # cancelling run() closed the socket


async def test_open_request(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """POST JSON, Accept: application/json, the §7.1 body; use the ticket once."""
    async with connected(gateway, session, local_ip="192.168.1.20") as run:
        conn = run.conn
    (request,) = gateway.open_requests
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert request.body == {
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "subscriptions": [
            {"type": "CALLBACK", "topic": BOT_TOPIC},
            {"type": "EVENT", "topic": "*"},
        ],
        "ua": STREAM_UA,
        "localIp": "192.168.1.20",
    }
    assert gateway.tickets == {conn.ticket: True}  # "+", "/" and "=" arrived intact
    assert not gateway.refused


async def test_open_request_without_local_ip(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Leave out the optional localIp."""
    client = make_client(gateway, session, Inbox())
    async with running(client):
        await gateway.connected(client, 0)
    assert "localIp" not in gateway.open_requests[0].body


async def test_ack_before_the_consumer(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """ACK every frame at once, however long the consumer takes."""
    inbox = Inbox()
    inbox.gate = asyncio.Event()  # the consumer is stuck on the first message
    client = make_client(gateway, session, inbox)
    async with running(client):
        conn = await gateway.connected(client, 0)
        for n in range(3):
            await conn.push(robot_payload(f"msg{n}"), f"mid-{n}")
        for n in range(3):
            await conn.wait_ack(f"mid-{n}")
        assert inbox.msg_ids == ["msg0"]
        inbox.gate.set()
        await until(lambda: len(inbox.messages) == 3)
    assert inbox.msg_ids == ["msg0", "msg1", "msg2"]
    # Each message's ACK had been sent before the consumer saw the message.
    assert [acks >= n + 1 for n, acks in enumerate(inbox.acks_when_called)] == [
        True
    ] * 3


async def test_ping_is_echoed(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Answer a SYSTEM ping with code 200, the same messageId and the same data."""
    async with connected(gateway, session) as run:
        client, conn = run.client, run.conn
        data = '{"opaque":"2fd0-47a1"}'
        await conn.system("ping", data, "ping-1")
        reply = await conn.wait_ack("ping-1")
        assert (reply["code"], reply["data"]) == (200, data)
        for topic in ("CONNECTED", "REGISTERED", "KEEPALIVE"):
            await conn.system(topic, "{}", f"sys-{topic}")
            assert (await conn.wait_ack(f"sys-{topic}"))["code"] == 200
        await conn.system("ping", "", "ping-2")
        assert (await conn.wait_ack("ping-2"))["data"] == ""
        assert client.state is StreamState.CONNECTED
    stats = client.stats()
    assert (stats.pings, stats.acks_sent, stats.connections_opened) == (2, 5, 1)


async def test_events(gateway: FakeGateway, session: aiohttp.ClientSession) -> None:
    """ACK an EVENT with status SUCCESS and hand it to on_event once."""
    events: list[StreamEvent] = []
    async with connected(gateway, session, on_event=events.append) as run:
        client, conn = run.client, run.conn
        headers = {"eventId": "ev-1", "eventType": "chat_update_title"}
        event = frame(
            "EVENT", "chat_update_title", "mid-e1", '{"title":"x"}', **headers
        )
        await conn.send(event)
        assert (await conn.wait_ack("mid-e1"))["data"] == EVENT_ACK_DATA
        redelivered = frame("EVENT", "chat_update_title", "mid-e2", "{}", **headers)
        await conn.send(redelivered)  # same eventId: a redelivery
        await conn.wait_ack("mid-e2")
        await until(lambda: client.stats().delivered == 1)
    assert [(e.event_id, e.data) for e in events] == [("ev-1", {"title": "x"})]
    assert client.stats().duplicates_dropped == 1


async def test_events_without_a_callback(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """ACK events even when nobody listens to them, and drop them."""
    async with connected(gateway, session) as run:
        client, conn = run.client, run.conn
        await conn.send(frame("EVENT", "user_add_org", "mid-e", "{}", eventId="e"))
        assert (await conn.wait_ack("mid-e"))["code"] == 200
    assert (client.stats().messages, client.stats().acks_sent) == (0, 1)


async def test_unhandled_frames(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """ACK other CALLBACK topics and unknown frame types with code 404."""
    async with connected(gateway, session) as run:
        client, conn = run.client, run.conn
        await conn.send(frame("CALLBACK", "/v1.0/card/instances/callback", "c1", "{}"))
        await conn.send(frame("NEWTYPE", BOT_TOPIC, "n1", "{}"))
        assert (await conn.wait_ack("c1"))["code"] == 404
        assert (await conn.wait_ack("n1"))["code"] == 404
    assert client.stats().unhandled_frames == 2


async def test_oversized_frames(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Refuse frames over max_frame_bytes with ACK code 500; keep the socket."""
    inbox = Inbox()
    tuning = StreamTuning(max_frame_bytes=2048, pong_timeout=5, close_timeout=0.5)
    client = make_client(gateway, session, inbox, tuning=tuning)
    async with running(client):
        conn = await gateway.connected(client, 0)
        await conn.push(robot_payload(text="长" * 1000), "mid-big")  # 3000 bytes
        assert (await conn.wait_ack("mid-big"))["code"] == 500
        await conn.send("x" * 3000)  # no messageId to ACK
        await conn.push(robot_payload("msgB"), "mid-2")
        await until(lambda: inbox.messages)
        assert len(gateway.connections) == 1
    assert inbox.msg_ids == ["msgB"]
    assert (client.stats().oversized_frames, client.stats().frames_received) == (2, 3)


async def test_frames_over_the_hard_limit_replace_the_socket(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Let aiohttp drop a socket whose frame is over 4 x max_frame_bytes: reconnect."""
    tuning = StreamTuning(max_frame_bytes=1024, pong_timeout=5, close_timeout=0.5)
    async with connected(gateway, session, tuning=tuning) as run:
        client, conn = run.client, run.conn
        await conn.send("x" * 5000)
        await gateway.connected(client, 1)
    assert client.stats().reconnects_error == 1
    assert client.stats().last_error == "WebSocketError"


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", json.dumps({"type": "CALLBACK", "headers": {}, "data": "{}"})],
)
async def test_malformed_frames_are_dropped(
    gateway: FakeGateway, session: aiohttp.ClientSession, text: str
) -> None:
    """Count and drop what is not a frame, without an ACK or a reconnect."""
    async with connected(gateway, session) as run:
        client, conn, inbox = run.client, run.conn, run.inbox
        await conn.send(text)
        await conn.push(robot_payload(), "mid-ok")
        await conn.wait_ack("mid-ok")
        await until(lambda: inbox.messages)
        assert [reply["headers"]["messageId"] for reply in conn.received] == ["mid-ok"]
    assert client.stats().malformed_frames == 1
    assert len(gateway.connections) == 1


@pytest.mark.parametrize("data", ["{not json", "[1, 2]", '"text"'])
async def test_malformed_data_is_acked_with_an_error(
    gateway: FakeGateway, session: aiohttp.ClientSession, data: str
) -> None:
    """ACK a frame whose data is not a JSON object with code 500 and drop it."""
    async with connected(gateway, session) as run:
        client, conn, inbox = run.client, run.conn, run.inbox
        await conn.send(frame("CALLBACK", BOT_TOPIC, "mid-bad", data))
        reply = await conn.wait_ack("mid-bad")
        assert (reply["code"], reply["data"]) == (500, CALLBACK_ACK_DATA)
    assert (client.stats().malformed_frames, inbox.messages) == (1, [])


async def test_binary_frames(
    gateway: FakeGateway, session: aiohttp.ClientSession
) -> None:
    """Read a frame that arrives as a binary message like a text one."""
    async with connected(gateway, session) as run:
        data = json.dumps(robot_payload(), ensure_ascii=False)
        raw = json.dumps(frame("CALLBACK", BOT_TOPIC, "mid-b", data)).encode()
        await run.conn.ws.send_bytes(raw)
        await until(lambda: run.inbox.messages)
