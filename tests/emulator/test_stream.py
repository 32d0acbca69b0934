"""Stream mode: connections/open, tickets, frames, ACKs, redelivery, pings, faults."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from dingtalk_emulator import PushState, StreamFault, StreamFaultKind
from dingtalk_emulator.testing import TEST_APP_KEY, TEST_APP_SECRET, TEST_GROUP_ID

from .app_helpers import ROBOT_TOPIC, ack, frame, open_stream, post, until

if TYPE_CHECKING:
    from dingtalk_emulator import Emulator, EmulatorServer, ManualClock

OPEN = "/v1.0/gateway/connections/open"
CREDENTIALS = {"clientId": TEST_APP_KEY, "clientSecret": TEST_APP_SECRET}


def _settings(emulator: Emulator, **changes: Any) -> None:  # noqa: ANN401
    """Change the app settings of a running emulator."""
    emulator.apps.settings = dataclasses.replace(emulator.apps.settings, **changes)


async def test_open_connection_json(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """With Accept: application/json: the emulator's own endpoint and a ticket."""
    status, answer = await post(
        http,
        app_server.url(OPEN),
        {**CREDENTIALS, "subscriptions": []},
        headers={"Accept": "application/json"},
    )
    assert status == 200
    assert answer["endpoint"] == f"ws://127.0.0.1:{app_server.port}/connect"
    assert answer["ticket"]
    record = app_emulator.apps.requests[-1]
    assert (record.api, record.client_id, record.http_status) == (
        "connections/open",
        TEST_APP_KEY,
        200,
    )
    assert TEST_APP_SECRET not in record.body
    assert app_emulator.stream.stats(TEST_APP_KEY).tickets_issued == 1


async def test_open_connection_xml_without_accept(
    app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """Without Accept: application/json the answer is XML (N1), errors too."""
    async with http.post(
        app_server.url(OPEN), json=CREDENTIALS, headers={"Accept": "*/*"}
    ) as response:
        assert response.content_type == "application/xml"
        text = await response.text()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert f"<endpoint>ws://127.0.0.1:{app_server.port}/connect</endpoint>" in text
    bad = {**CREDENTIALS, "clientSecret": "<wrong>"}
    async with http.post(app_server.url(OPEN), json=bad) as response:
        assert response.status == 401
        assert "<code>authFailed</code>" in await response.text()


@pytest.mark.parametrize(
    "body",
    [
        {**CREDENTIALS, "clientSecret": "wrong"},
        {**CREDENTIALS, "clientSecret": 1},
        {**CREDENTIALS, "clientId": "dingnobody"},
        {},
    ],
)
async def test_open_connection_auth_failed(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    body: dict[str, object],
) -> None:
    """Bad credentials: HTTP 401 authFailed 鉴权失败 (I13)."""
    status, answer = await post(
        http, app_server.url(OPEN), body, headers={"Accept": "application/json"}
    )
    assert (status, answer["code"], answer["message"]) == (
        401,
        "authFailed",
        "鉴权失败",
    )
    expected = 1 if body.get("clientId") == TEST_APP_KEY else 0
    assert app_emulator.stream.stats(TEST_APP_KEY).auth_failures == expected


async def test_open_connection_not_json(
    app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """A body that is not JSON: authFailed."""
    async with http.post(
        app_server.url(OPEN), data=b"x", headers={"Accept": "application/json"}
    ) as response:
        assert response.status == 401


async def _ticket(http: aiohttp.ClientSession, server: EmulatorServer) -> str:
    """Return a fresh ticket."""
    status, answer = await post(
        http,
        server.url(OPEN),
        {**CREDENTIALS, "subscriptions": [{"type": "CALLBACK", "topic": ROBOT_TOPIC}]},
        headers={"Accept": "application/json"},
    )
    assert status == 200
    ticket: str = answer["ticket"]
    return ticket


async def test_ticket_is_single_use(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """A ticket opens one WebSocket; presented again it is refused (HTTP 401)."""
    ticket = await _ticket(http, app_server)
    url = app_server.url(f"/connect?ticket={ticket}")
    async with http.ws_connect(url):
        await until(lambda: app_emulator.stream.connections(TEST_APP_KEY) != [])
    with pytest.raises(aiohttp.WSServerHandshakeError) as error:
        await http.ws_connect(url)
    assert error.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await http.ws_connect(app_server.url("/connect"))
    stats = app_emulator.stream.stats(TEST_APP_KEY)
    assert (stats.tickets_used, stats.connections_opened) == (1, 1)


async def test_ticket_expires_after_90_seconds(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> None:
    """Exactly 90 s on the emulator clock still passes; later it is refused."""
    ticket = await _ticket(http, app_server)
    manual_clock.advance(90)
    async with http.ws_connect(app_server.url(f"/connect?ticket={ticket}")):
        pass
    late = await _ticket(http, app_server)
    manual_clock.advance(90.5)
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await http.ws_connect(app_server.url(f"/connect?ticket={late}"))
    await _ticket(http, app_server)  # never used: expires unused
    manual_clock.advance(91)
    stats = app_emulator.stream.stats(TEST_APP_KEY)
    assert (stats.tickets_issued, stats.tickets_used, stats.tickets_expired) == (
        3,
        1,
        2,
    )


async def test_one_to_one_message_frame(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """A person's 1:1 message arrives as a CALLBACK frame of §7.2 with §7.5 data."""
    async with await open_stream(http, app_server) as ws:
        chat = app_emulator.apps.chat(TEST_APP_KEY, "alice", "hello robot")
        received = await frame(ws)
        assert received["specVersion"] == "1.0"
        assert received["type"] == "CALLBACK"
        headers = received["headers"]
        assert headers["topic"] == ROBOT_TOPIC
        assert headers["messageId"] == chat.message_id
        assert headers["contentType"] == "application/json"
        assert headers["time"] == "1700000000000"
        assert headers["appId"]
        assert isinstance(received["data"], str)
        data = json.loads(received["data"])
        assert data == chat.callback
        assert data["conversationType"] == "1"
        assert data["conversationId"] == app_emulator.apps.conversation_id(
            TEST_APP_KEY, "alice"
        )
        assert data["text"] == {"content": "hello robot"}
        assert (data["senderStaffId"], data["senderNick"]) == ("alice", "Alice")
        assert (data["robotCode"], data["msgtype"]) == (TEST_APP_KEY, "text")
        assert data["isInAtList"] is True
        assert data["isAdmin"] is True
        assert data["createAt"] == 1_700_000_000_000
        assert data["sessionWebhookExpiredTime"] == 1_700_000_000_000 + 5_400_000
        assert data["sessionWebhook"].startswith(
            f"http://127.0.0.1:{app_server.port}/robot/sendBySession?session="
        )
        assert "conversationTitle" not in data
        await ws.send_str(ack(received))
        await until(lambda: app_emulator.stream.stats(TEST_APP_KEY).acks == 1)
    [push] = app_emulator.stream.pushes(TEST_APP_KEY)
    assert push.state is PushState.ACKED
    assert push.ack is not None
    assert push.ack["headers"]["messageId"] == chat.message_id
    assert push.acked_by == push.attempts[0].connection


async def test_group_messages_only_with_at(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """In a group only a message that @-mentions the robot is pushed."""
    async with await open_stream(http, app_server) as ws:
        quiet = app_emulator.apps.chat(
            TEST_APP_KEY, "bob", "lunch?", group=TEST_GROUP_ID
        )
        assert (quiet.callback, quiet.message_id) == (None, None)
        loud = app_emulator.apps.chat(
            TEST_APP_KEY, "bob", "status", group=TEST_GROUP_ID, at_robot=True
        )
        data = json.loads((await frame(ws))["data"])
        assert data["msgId"] == loud.msg_id
        assert data["conversationId"] == TEST_GROUP_ID
        assert data["conversationType"] == "2"
        assert data["conversationTitle"] == "Ops"
        assert data["text"]["content"] == " status"  # the space after the @
        assert data["atUsers"] == [{"dingtalkId": data["chatbotUserId"]}]
        assert data["isInAtList"] is True
        assert data["isAdmin"] is False
    assert len(app_emulator.apps.chats(TEST_APP_KEY, TEST_GROUP_ID)) == 2


async def test_unpublished_robot_hides_staff_ids(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """The sender's staffId is only sent once the robot is published (§7.5)."""
    app_emulator.apps.set_published(TEST_APP_KEY, published=False)
    async with await open_stream(http, app_server) as ws:
        app_emulator.apps.chat(TEST_APP_KEY, "alice", "hi")
        assert "senderStaffId" not in json.loads((await frame(ws))["data"])


async def test_unacked_callback_is_redelivered(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """No ACK within the timeout: the same messageId and msgId come again."""
    async with await open_stream(http, app_server) as ws:
        app_emulator.apps.chat(TEST_APP_KEY, "alice", "hello")
        first = await frame(ws)
        again = await frame(ws)
        assert again["headers"]["messageId"] == first["headers"]["messageId"]
        assert json.loads(again["data"])["msgId"] == json.loads(first["data"])["msgId"]
        await ws.send_str(ack(again))
        await until(lambda: app_emulator.stream.stats(TEST_APP_KEY).acks == 1)
        await ws.send_str(ack(again))  # a second ACK matches nothing pending
        await until(lambda: app_emulator.stream.stats(TEST_APP_KEY).acks_unmatched == 1)
    stats = app_emulator.stream.stats(TEST_APP_KEY)
    assert (stats.frames_pushed, stats.redeliveries) == (2, 1)


async def test_callback_given_up(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """After max_redeliveries pushes without ACK the callback is given up."""
    _settings(app_emulator, ack_timeout=0.02, max_redeliveries=2)
    async with await open_stream(http, app_server) as ws:
        app_emulator.apps.chat(TEST_APP_KEY, "alice", "hello")
        for _ in range(3):
            await frame(ws)
        await until(lambda: app_emulator.stream.stats(TEST_APP_KEY).undelivered == 1)
        [push] = app_emulator.stream.pushes()
        assert push.state is PushState.GIVEN_UP
        assert len(push.attempts) == 3


async def test_push_without_a_connection_waits(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """With no connection open the callback is tried again after the timeout."""
    chat = app_emulator.apps.chat(TEST_APP_KEY, "alice", "anyone there?")
    async with await open_stream(http, app_server) as ws:
        received = await frame(ws)
        assert received["headers"]["messageId"] == chat.message_id
        await ws.send_str(ack(received))
        await until(lambda: app_emulator.stream.stats(TEST_APP_KEY).acks == 1)
    [push] = app_emulator.stream.pushes(TEST_APP_KEY)
    assert push.attempts[0].connection is None


async def test_non_200_ack_is_no_ack(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """An ACK with code 500 does not settle the callback: it comes again."""
    async with await open_stream(http, app_server) as ws:
        app_emulator.apps.chat(TEST_APP_KEY, "alice", "hello")
        first = await frame(ws)
        await ws.send_str(ack(first, code=500))
        again = await frame(ws)
        assert again["headers"]["messageId"] == first["headers"]["messageId"]
    assert app_emulator.stream.stats(TEST_APP_KEY).acks_failed == 1


async def test_bad_frames_are_counted(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """Frames that are not JSON objects with headers are counted, not fatal."""
    async with await open_stream(http, app_server) as ws:
        for text in ("not json", "[1]", '{"headers": 1}'):
            await ws.send_str(text)
        await ws.send_bytes(b"binary frames are ignored")
        await until(lambda: app_emulator.stream.stats(TEST_APP_KEY).bad_frames == 3)
        app_emulator.apps.chat(TEST_APP_KEY, "alice", "still alive")
        assert (await frame(ws))["type"] == "CALLBACK"


async def test_pushes_are_spread_at_random(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """Each push goes to one connection picked by the seeded RNG (S12 faq)."""
    sockets = [await open_stream(http, app_server) for _ in range(3)]
    connections = [c.connection_id for c in app_emulator.stream.connections()]
    assert len(connections) == 3
    for index in range(30):
        app_emulator.apps.chat(TEST_APP_KEY, "alice", f"m{index}")
    chosen = [p.attempts[0].connection for p in app_emulator.stream.pushes()]
    rng = random.Random(7)  # noqa: S311 - the emulator's seed in these tests
    assert chosen == [rng.choice(connections) for _ in range(30)]
    assert set(chosen) == set(connections)
    for ws, connection in zip(sockets, connections, strict=True):
        count = chosen.count(connection)
        for _ in range(count):
            received = await frame(ws)
            await ws.send_str(ack(received))
        await ws.close()
    await until(lambda: app_emulator.stream.stats(TEST_APP_KEY).acks == 30)


async def test_only_subscribed_connections_get_pushes(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """A connection that did not subscribe to the robot topic gets nothing."""
    async with await open_stream(
        http, app_server, topics=("/v1.0/card/instances/callback",)
    ):
        app_emulator.apps.chat(TEST_APP_KEY, "alice", "hi")
        [push] = app_emulator.stream.pushes()
        assert push.attempts[0].connection is None


async def test_pings_and_echoes(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """SYSTEM ping frames carry an opaque; an echo with the same data is counted."""
    _settings(app_emulator, ping_interval=0.02)
    async with await open_stream(http, app_server) as ws:
        ping = await frame(ws)
        assert ping["type"] == "SYSTEM"
        assert ping["headers"]["topic"] == "ping"
        opaque = json.loads(ping["data"])["opaque"]
        await ws.send_str(ack(ping, data={"opaque": opaque}))
        second = await frame(ws)
        await ws.send_str(ack(second, data={"opaque": "wrong"}))
        await until(lambda: app_emulator.stream.stats(TEST_APP_KEY).pings_sent >= 3)
    stats = app_emulator.stream.stats(TEST_APP_KEY)
    assert stats.ping_echoes == 1


async def test_websocket_pings_get_pongs(
    app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """WebSocket-level pings (the SDKs' keepalive) are answered."""
    async with await open_stream(http, app_server) as ws:
        await ws.ping(b"k")
        message = await ws.receive(timeout=5)
        assert (message.type, message.data) == (aiohttp.WSMsgType.PONG, b"k")


async def test_disconnect_frame_then_close(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """A disconnect fault sends SYSTEM disconnect; the socket closes a bit later."""
    async with await open_stream(http, app_server) as ws:
        app_emulator.stream.inject_fault(
            TEST_APP_KEY, StreamFault(StreamFaultKind.DISCONNECT)
        )
        received = await frame(ws)
        assert (received["type"], received["headers"]["topic"]) == (
            "SYSTEM",
            "disconnect",
        )
        assert json.loads(received["data"]) == {
            "reason": "persistent connection is timeout"
        }
        await ws.send_str(ack(received))
        [info] = app_emulator.stream.connections()
        assert info.state == "disconnecting"
        app_emulator.stream.inject_fault(  # already disconnecting: no second frame
            TEST_APP_KEY, StreamFault(StreamFaultKind.DISCONNECT)
        )
        app_emulator.apps.chat(TEST_APP_KEY, "alice", "after the disconnect")
        assert app_emulator.stream.pushes()[-1].attempts[0].connection is None
        message = await ws.receive(timeout=5)
        assert message.type is aiohttp.WSMsgType.CLOSE
    await until(lambda: app_emulator.stream.connections() == [])
    stats = app_emulator.stream.stats(TEST_APP_KEY)
    assert (stats.disconnects_sent, stats.acks_unmatched) == (1, 0)


async def test_silent_connection(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """A silent connection stays open but sends nothing, answers nothing."""
    _settings(app_emulator, ping_interval=0.02)
    async with await open_stream(http, app_server) as quiet:
        app_emulator.stream.inject_fault(
            TEST_APP_KEY, StreamFault(StreamFaultKind.SILENT)
        )
        async with await open_stream(http, app_server) as loud:
            assert (await frame(loud))["headers"]["topic"] == "ping"
            await quiet.ping(b"anyone?")
            with pytest.raises(TimeoutError):
                await quiet.receive(timeout=0.2)
            [silent, _] = app_emulator.stream.connections()
            assert silent.silent is True
            await quiet.send_str("ignored")
        app_emulator.apps.chat(TEST_APP_KEY, "alice", "into the void")
        [push] = app_emulator.stream.pushes()
        assert push.attempts[0].connection == silent.connection_id
        with pytest.raises(TimeoutError):
            await quiet.receive(timeout=0.1)
    assert app_emulator.stream.stats(TEST_APP_KEY).bad_frames == 0


async def test_close_fault_and_unknown_connection(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """CLOSE drops the TCP connection of the given connection id."""
    async with await open_stream(http, app_server) as ws:
        [info] = app_emulator.stream.connections()
        with pytest.raises(KeyError, match="no open connection conn-x"):
            app_emulator.stream.inject_fault(
                TEST_APP_KEY, StreamFault(StreamFaultKind.CLOSE, connection="conn-x")
            )
        app_emulator.stream.inject_fault(
            TEST_APP_KEY,
            StreamFault(StreamFaultKind.CLOSE, connection=info.connection_id),
        )
        message = await ws.receive(timeout=5)
        assert message.type in {aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR}
    await until(lambda: app_emulator.stream.connections() == [])
    with pytest.raises(KeyError):
        app_emulator.stream.connection(info.connection_id)


async def test_refuse_open(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """REFUSE_OPEN with count=2: two refusals with the status, then a ticket."""
    app_emulator.stream.inject_fault(
        TEST_APP_KEY, StreamFault(StreamFaultKind.REFUSE_OPEN, count=2, status=502)
    )
    headers = {"Accept": "application/json"}
    for _ in range(2):
        status, answer = await post(
            http, app_server.url(OPEN), CREDENTIALS, headers=headers
        )
        assert (status, answer["code"]) == (502, "ServiceUnavailable")
    assert (await post(http, app_server.url(OPEN), CREDENTIALS, headers=headers))[
        0
    ] == 200
    assert app_emulator.stream.stats(TEST_APP_KEY).opens_refused == 2


async def test_ignore_acks(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """IGNORE_ACKS drops the next ACK: the callback is pushed again."""
    app_emulator.stream.inject_fault(
        TEST_APP_KEY, StreamFault(StreamFaultKind.IGNORE_ACKS)
    )
    assert (
        app_emulator.stream.pending_faults(TEST_APP_KEY)[0].kind
        is StreamFaultKind.IGNORE_ACKS
    )
    async with await open_stream(http, app_server) as ws:
        app_emulator.apps.chat(TEST_APP_KEY, "alice", "hello")
        first = await frame(ws)
        await ws.send_str(ack(first))
        again = await frame(ws)
        await ws.send_str(ack(again))
        await until(lambda: app_emulator.stream.stats(TEST_APP_KEY).acks == 1)
    stats = app_emulator.stream.stats(TEST_APP_KEY)
    assert (stats.acks_ignored, stats.redeliveries) == (1, 1)
    assert app_emulator.stream.pending_faults(TEST_APP_KEY) == []


async def test_delay_push(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """DELAY_PUSH holds the next push back for a while."""
    app_emulator.stream.inject_fault(
        TEST_APP_KEY, StreamFault(StreamFaultKind.DELAY_PUSH, delay=0.1)
    )
    async with await open_stream(http, app_server) as ws:
        app_emulator.apps.chat(TEST_APP_KEY, "alice", "hello")
        assert app_emulator.stream.pushes()[0].attempts == ()
        received = await frame(ws)
        assert received["type"] == "CALLBACK"
        await ws.send_str(ack(received))
        app_emulator.stream.clear_faults(TEST_APP_KEY)


async def test_reset_keeps_connections(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """reset() forgets counters and callbacks; open connections stay."""
    async with await open_stream(http, app_server) as ws:
        app_emulator.apps.chat(TEST_APP_KEY, "alice", "hello")
        await frame(ws)
        app_emulator.reset()
        assert app_emulator.stream.pushes() == []
        stats = app_emulator.stream.stats(TEST_APP_KEY)
        assert (stats.connections_open, stats.frames_pushed) == (1, 0)
        assert app_emulator.apps.chats() == []


async def test_shutdown_closes_connections(
    app_emulator: Emulator,
    http: aiohttp.ClientSession,
    socket_enabled: None,  # noqa: ARG001
) -> None:
    """Leaving serve() closes every Stream connection and stops the timers."""
    async with app_emulator.serve() as server:
        ws = await open_stream(http, server)
        app_emulator.apps.chat(TEST_APP_KEY, "alice", "pending at shutdown")
        app_emulator.stream.inject_fault(
            TEST_APP_KEY, StreamFault(StreamFaultKind.DISCONNECT)
        )
    message = await ws.receive(timeout=5)
    assert message.type in {aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.CLOSE}
    await ws.close()
    await asyncio.sleep(0)
