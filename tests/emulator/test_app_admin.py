"""The JSON API of the app side: apps, users, groups, chat, logs, Stream state."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

from dingtalk_emulator.testing import TEST_APP_KEY, TEST_APP_SECRET, TEST_GROUP_ID

from .app_helpers import BATCH, batch, frame, get, get_token, open_stream, post, send_v1

if TYPE_CHECKING:
    import aiohttp

    from dingtalk_emulator import Emulator, EmulatorServer

APP = f"/api/apps/{TEST_APP_KEY}"


async def _call(
    http: aiohttp.ClientSession, method: str, url: str, payload: object = None
) -> tuple[int, Any, str]:
    """Call the API; return status, JSON answer and raw text."""
    async with http.request(method, url, json=payload) as response:
        raw = await response.text()
        return response.status, json.loads(raw), raw


async def test_list_apps_hides_secrets(
    app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """GET /api/apps: settings and counters, never the secret."""
    await get_token(http, app_server)
    status, answer, raw = await _call(http, "GET", app_server.url("/api/apps"))
    assert status == 200
    assert TEST_APP_SECRET not in raw
    assert answer["apps"] == [
        {
            "client_id": TEST_APP_KEY,
            "robot_code": TEST_APP_KEY,
            "name": "Butler",
            "published": True,
            "permissions": [
                "qyapi_base",
                "qyapi_get_member_by_mobile",
                "qyapi_robot_sendmsg",
            ],
            "token_requests": 1,
            "delivered": 0,
            "faults": [],
            "stream_faults": [],
            "connections_open": 0,
        }
    ]
    assert (await _call(http, "GET", app_server.url(APP)))[1]["app"]["name"] == "Butler"
    assert (await _call(http, "GET", app_server.url("/api/apps/nope")))[0] == 404


async def test_add_app(app_server: EmulatorServer, http: aiohttp.ClientSession) -> None:
    """POST /api/apps adds an app; bad ones are refused with 400."""
    body = {"client_id": "dingnew", "client_secret": "s3cret", "name": "New"}
    status, answer, raw = await _call(http, "POST", app_server.url("/api/apps"), body)
    assert status == 201
    assert answer["app"]["robot_code"] == "dingnew"
    assert "s3cret" not in raw
    assert (await _call(http, "POST", app_server.url("/api/apps"), body))[0] == 400
    for bad in (
        {"client_id": "x"},
        {"client_id": "x", "client_secret": "y", "colour": "red"},
        {"client_id": "x", "client_secret": "y", "published": "yes"},
        {"client_id": "x", "client_secret": "y", "permissions": "qyapi_base"},
        [1],
    ):
        assert (await _call(http, "POST", app_server.url("/api/apps"), bad))[0] == 400


async def test_published_and_permissions(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """POST …/published and …/permissions change the app."""
    url = app_server.url(f"{APP}/published")
    status, answer, _ = await _call(http, "POST", url, {"published": False})
    assert (status, answer["app"]["published"]) == (200, False)
    assert (await _call(http, "POST", url, {"published": "no"}))[0] == 400
    assert (await _call(http, "POST", app_server.url("/api/apps/x/published"), {}))[
        0
    ] == 404
    url = app_server.url(f"{APP}/permissions")
    status, answer, _ = await _call(http, "POST", url, {"permissions": ["qyapi_base"]})
    assert answer["app"]["permissions"] == ["qyapi_base"]
    assert (await _call(http, "POST", url, {"permissions": [1]}))[0] == 400
    assert app_emulator.apps.app(TEST_APP_KEY).permissions == {"qyapi_base"}


async def test_expire_tokens(
    app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """DELETE …/tokens makes the current token invalid."""
    token = await get_token(http, app_server)
    assert (await _call(http, "DELETE", app_server.url(f"{APP}/tokens")))[0] == 200
    status, answer = await send_v1(http, app_server, BATCH, batch(), token)
    assert (status, answer["code"]) == (400, "InvalidAuthentication")


async def test_app_faults_api(
    app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """POST/DELETE …/faults queue and clear app faults; bad faults are 400."""
    url = app_server.url(f"{APP}/faults")
    status, answer, _ = await _call(http, "POST", url, {"kind": "busy", "count": 2})
    assert status == 201
    assert answer["faults"] == [
        {
            "kind": "busy",
            "count": 2,
            "delay": 1.0,
            "status": 503,
            "after_delivery": False,
        }
    ]
    for bad in (
        {"kind": "explode"},
        {"kind": "busy", "count": 0},
        {"kind": "busy", "count": True},
        {"kind": "busy", "status": 404},
        {"kind": "busy", "after_delivery": True},
        {"kind": "delay", "delay": -1},
        {"kind": "delay", "delay": "1"},
        {"kind": "busy", "when": "now"},
    ):
        assert (await _call(http, "POST", url, bad))[0] == 400, bad
    assert await _call(http, "DELETE", url) == (200, {"faults": []}, '{"faults":[]}')
    assert (await _call(http, "POST", app_server.url("/api/apps/x/faults"), {}))[
        0
    ] == 404


async def test_stream_api(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """GET …/stream, …/stream/pushes and POST/DELETE …/stream/faults."""
    async with await open_stream(http, app_server) as ws:
        app_emulator.apps.chat(TEST_APP_KEY, "alice", "hi")
        await frame(ws)
        status, answer, _ = await _call(http, "GET", app_server.url(f"{APP}/stream"))
        assert status == 200
        assert answer["stats"]["connections_open"] == 1
        assert answer["stats"]["frames_pushed"] == 1
        [connection] = answer["connections"]
        assert connection["subscriptions"] == [
            {"type": "CALLBACK", "topic": "/v1.0/im/bot/messages/get"}
        ]
        assert (connection["ua"], connection["local_ip"]) == ("tests/1.0", "127.0.0.1")
        _, answer, _raw = await _call(
            http, "GET", app_server.url(f"{APP}/stream/pushes")
        )
        [push] = answer["pushes"]
        assert push["state"] == "pending"
        assert push["attempts"][0]["connection"] == connection["connection_id"]
        assert "session=" in push["data"]["sessionWebhook"]
        assert push["data"]["sessionWebhook"].endswith("…")
        url = app_server.url(f"{APP}/stream/faults")
        status, answer, _ = await _call(http, "POST", url, {"kind": "ignore_acks"})
        assert (status, answer["faults"][0]["kind"]) == (201, "ignore_acks")
        status, answer, _ = await _call(http, "POST", url, {"kind": "disconnect"})
        assert status == 201
        assert (await frame(ws))["headers"]["topic"] == "disconnect"
        for bad in (
            {"kind": "nope"},
            {"kind": "silent", "connection": 5},
            {"kind": "refuse_open", "status": 200},
            {"kind": "silent", "connection": "conn-404"},
        ):
            assert (await _call(http, "POST", url, bad))[0] in {400, 404}
        assert (await _call(http, "DELETE", url))[1] == {"faults": []}
    for path in ("stream", "stream/pushes", "stream/faults"):
        assert (
            await _call(
                http,
                "GET" if "faults" not in path else "DELETE",
                app_server.url(f"/api/apps/x/{path}"),
            )
        )[0] == 404


async def test_users_and_groups(
    app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """GET/POST /api/users and /api/groups."""
    status, answer, _ = await _call(http, "GET", app_server.url("/api/users"))
    assert [u["user_id"] for u in answer["users"]] == ["alice", "bob", "carol"]
    assert answer["users"][0] == {
        "user_id": "alice",
        "name": "Alice",
        "mobile": "13800000001",
        "admin": True,
    }
    user = {"user_id": "dave", "name": "Dave", "mobile": "13800000004"}
    assert (await _call(http, "POST", app_server.url("/api/users"), user))[0] == 201
    assert (await _call(http, "POST", app_server.url("/api/users"), user))[0] == 400
    bad_user = {"user_id": "e", "admin": 1}
    assert (await _call(http, "POST", app_server.url("/api/users"), bad_user))[0] == 400
    group = {
        "open_conversation_id": "cidNew==",
        "title": "New",
        "members": ["dave"],
        "robots": [TEST_APP_KEY],
    }
    status, answer, _ = await _call(http, "POST", app_server.url("/api/groups"), group)
    assert (status, answer["group"]) == (201, group)
    _, answer, _ = await _call(http, "GET", app_server.url("/api/groups"))
    assert [g["open_conversation_id"] for g in answer["groups"]] == [
        TEST_GROUP_ID,
        "cidNew==",
    ]
    for bad, code in (
        ({**group, "open_conversation_id": "cidOther", "members": ["zed"]}, 404),
        ({**group, "open_conversation_id": "cidOther", "robots": ["dingx"]}, 404),
        ({**group, "members": "dave"}, 400),
        (group, 400),
    ):
        assert (await _call(http, "POST", app_server.url("/api/groups"), bad))[
            0
        ] == code


async def test_people_leave_and_robots_leave_groups(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """DELETE /api/users/{id} and POST /api/groups/leave."""
    apps = app_emulator.apps
    assert "bob" in apps.group(TEST_GROUP_ID).members
    status, answer, _ = await _call(http, "DELETE", app_server.url("/api/users/bob"))
    assert (status, answer["user"]["user_id"]) == (200, "bob")
    assert "bob" not in [p.user_id for p in apps.people]
    assert "bob" not in apps.group(TEST_GROUP_ID).members
    assert (await _call(http, "DELETE", app_server.url("/api/users/bob")))[0] == 404
    leave = app_server.url("/api/groups/leave")
    body = {"open_conversation_id": TEST_GROUP_ID, "client_id": TEST_APP_KEY}
    for _ in range(2):  # leaving twice changes nothing the second time
        status, answer, _ = await _call(http, "POST", leave, body)
        assert status == 200
        assert answer["group"]["robots"] == []
    assert apps.group(TEST_GROUP_ID).robots == ()
    missing = {**body, "open_conversation_id": "cidNone"}
    assert (await _call(http, "POST", leave, missing))[0] == 404
    assert (await _call(http, "POST", leave, {**body, "client_id": 1}))[0] == 400


async def test_conversations(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """GET …/conversations lists each person's 1:1 chat and the app's groups."""
    status, answer, _ = await _call(http, "GET", app_server.url(f"{APP}/conversations"))
    assert status == 200
    conversations = answer["conversations"]
    assert [c["conversation_type"] for c in conversations] == ["1", "1", "1", "2"]
    assert conversations[0] == {
        "conversation_id": app_emulator.apps.conversation_id(TEST_APP_KEY, "alice"),
        "conversation_type": "1",
        "title": "Alice",
        "user_id": "alice",
    }
    assert conversations[-1]["conversation_id"] == TEST_GROUP_ID
    assert (await _call(http, "GET", app_server.url("/api/apps/x/conversations")))[
        0
    ] == 404


async def test_chat_endpoint(
    app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """POST …/chat writes as a person; the answer has the full sessionWebhook."""
    url = app_server.url(f"{APP}/chat")
    status, answer, _ = await _call(
        http,
        "POST",
        url,
        {"user_id": "bob", "text": "ping", "group": TEST_GROUP_ID, "at_robot": True},
    )
    assert status == 201
    chat = answer["chat"]
    assert (chat["pushed"], chat["at_robot"], chat["conversation_type"]) == (
        True,
        True,
        "2",
    )
    webhook = chat["callback"]["sessionWebhook"]
    assert not webhook.endswith("…")
    assert (
        await post(http, webhook, {"msgtype": "text", "text": {"content": "pong"}})
    )[1]["errcode"] == 0
    _, listed, _ = await _call(http, "GET", app_server.url(f"{APP}/chats"))
    assert listed["chats"][0]["callback"]["sessionWebhook"].endswith("…")
    assert listed["chats"][0]["message_id"] == chat["message_id"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"user_id": "alice"}, 400),
        ({"user_id": 1, "text": "x"}, 400),
        ({"user_id": "alice", "text": "x", "group": 1}, 400),
        ({"user_id": "alice", "text": "x", "at_robot": "yes"}, 400),
        ({"user_id": "alice", "text": "  "}, 400),
        ({"user_id": "zed", "text": "x"}, 404),
        ({"user_id": "alice", "text": "x", "group": "cidnone"}, 404),
        ({"user_id": "carol", "text": "x", "group": TEST_GROUP_ID}, 400),
    ],
)
async def test_chat_errors(
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    body: dict[str, object],
    status: int,
) -> None:
    """Unknown people and groups, non-members, bad types are refused."""
    assert (await _call(http, "POST", app_server.url(f"{APP}/chat"), body))[0] == status
    assert (await _call(http, "POST", app_server.url("/api/apps/x/chat"), body))[
        0
    ] == 404


async def test_chat_needs_the_robot_in_the_group(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """A group without the app's robot: 400."""
    from dingtalk_emulator.testing import make_test_app  # noqa: PLC0415

    other = make_test_app(app_emulator, group=False)
    url = app_server.url(f"/api/apps/{other.client_id}/chat")
    body = {"user_id": "alice", "text": "x", "group": TEST_GROUP_ID}
    status, answer, _ = await _call(http, "POST", url, body)
    assert (status, answer["error"]) == (
        400,
        f"the robot of {other.client_id} is not in group {TEST_GROUP_ID}",
    )


async def test_messages_by_conversation(
    app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """GET …/messages[?conversation=] lists robot messages (cids need encoding)."""
    token = await get_token(http, app_server)
    await send_v1(http, app_server, BATCH, batch(userIds=["alice", "bob"]), token)
    await send_v1(
        http,
        app_server,
        "/v1.0/robot/groupMessages/send",
        {
            "robotCode": TEST_APP_KEY,
            "openConversationId": TEST_GROUP_ID,
            "msgKey": "sampleText",
            "msgParam": '{"content": "all"}',
        },
        token,
    )
    _, answer = await get(http, app_server.url(f"{APP}/messages"))
    assert [m["via"] for m in answer["messages"]] == [
        "batchSend",
        "batchSend",
        "groupMessages",
    ]
    url = app_server.url(f"{APP}/messages?conversation={quote(TEST_GROUP_ID, safe='')}")
    [message] = (await get(http, url))[1]["messages"]
    assert message["msg_param"] == {"content": "all"}
    assert message["conversation_type"] == "2"
    assert (await get(http, app_server.url("/api/apps/x/messages")))[0] == 404
    assert (await get(http, app_server.url("/api/apps/x/chats")))[0] == 404


async def test_app_requests_log(
    app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """GET /api/app-requests: tokens and secrets masked; filters."""
    token = await get_token(http, app_server)
    await send_v1(http, app_server, BATCH, batch(), token)
    await send_v1(http, app_server, BATCH, batch(), "bad-token")
    status, answer, raw = await _call(http, "GET", app_server.url("/api/app-requests"))
    assert status == 200
    assert token not in raw
    assert TEST_APP_SECRET not in raw
    first, second, third = answer["requests"]
    assert (first["api"], first["ok"], first["code"]) == ("token", True, None)
    assert second["headers"]["x-acs-dingtalk-access-token"] == token[:6] + "…"
    assert (second["delivered"], third["code"], third["client_id"]) == (
        1,
        "InvalidAuthentication",
        None,
    )

    async def seqs(query: str) -> list[int]:
        """Return the sequence numbers the log answers for ``query``."""
        _, found, _ = await _call(
            http, "GET", app_server.url(f"/api/app-requests?{query}")
        )
        return [r["seq"] for r in found["requests"]]

    assert await seqs(f"client_id={TEST_APP_KEY}") == [1, 2]
    assert await seqs("api=batchSend") == [2, 3]
    assert await seqs("since=2") == [3]
    assert await seqs("limit=1") == [3]
    assert await seqs("limit=0") == []
    assert (await _call(http, "GET", app_server.url("/api/app-requests?since=x")))[
        0
    ] == 400


async def test_reset_forgets_app_history(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """POST /api/reset forgets messages, calls and counters; apps and tokens stay."""
    token = await get_token(http, app_server)
    await send_v1(http, app_server, BATCH, batch(), token)
    assert (await _call(http, "POST", app_server.url("/api/reset")))[0] == 200
    assert app_emulator.apps.messages() == []
    assert app_emulator.apps.requests == []
    assert app_emulator.apps.token_requests(TEST_APP_KEY) == 0
    assert (await send_v1(http, app_server, BATCH, batch(), token))[0] == 200
