"""Helpers of the app-side tests: calls written here, independently of the emulator."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import aiohttp

from dingtalk_emulator.testing import TEST_APP_KEY, TEST_APP_SECRET, TEST_GROUP_ID

if TYPE_CHECKING:
    from dingtalk_emulator import EmulatorServer

TOKEN_HEADER = "x-acs-dingtalk-access-token"
ROBOT_TOPIC = "/v1.0/im/bot/messages/get"
BATCH = "/v1.0/robot/oToMessages/batchSend"
GROUP = "/v1.0/robot/groupMessages/send"
#: The smallest files whose signatures pass DingTalk's checks.
PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)
JPEG = b"\xff\xd8\xff\xe0" + bytes(24)
MP3 = b"ID3\x04" + bytes(24)
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(16)


async def post(
    http: aiohttp.ClientSession,
    url: str,
    payload: object = None,
    *,
    headers: dict[str, str] | None = None,
    data: object = None,
) -> tuple[int, Any]:
    """POST JSON (or ``data``); return the status and the JSON answer (untyped)."""
    kwargs: dict[str, Any] = {"headers": headers or {}}
    if data is not None:
        kwargs["data"] = data
    else:
        kwargs["json"] = payload
    async with http.post(url, **kwargs) as response:
        return response.status, json.loads(await response.text())


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    """GET; return the status and the JSON answer."""
    async with http.get(url) as response:
        return response.status, json.loads(await response.text())


async def get_token(
    http: aiohttp.ClientSession,
    server: EmulatorServer,
    key: str = TEST_APP_KEY,
    secret: str = TEST_APP_SECRET,
) -> str:
    """Return an access token of the app."""
    status, answer = await post(
        http,
        server.url("/v1.0/oauth2/accessToken"),
        {"appKey": key, "appSecret": secret},
    )
    assert status == 200, answer
    token: str = answer["accessToken"]
    return token


def param(**values: object) -> str:
    """Return msgParam: the values as a JSON string."""
    return json.dumps(values, ensure_ascii=False)


def batch(**overrides: object) -> dict[str, object]:
    """Return a batchSend body: a text to alice."""
    body: dict[str, object] = {
        "robotCode": TEST_APP_KEY,
        "userIds": ["alice"],
        "msgKey": "sampleText",
        "msgParam": param(content="hi"),
    }
    body.update(overrides)
    return body


def group(**overrides: object) -> dict[str, object]:
    """Return a groupMessages/send body: a text to the test group."""
    body: dict[str, object] = {
        "robotCode": TEST_APP_KEY,
        "openConversationId": TEST_GROUP_ID,
        "msgKey": "sampleText",
        "msgParam": param(content="hi all"),
    }
    body.update(overrides)
    return body


async def send_v1(
    http: aiohttp.ClientSession,
    server: EmulatorServer,
    path: str,
    body: object,
    token: str | None,
) -> tuple[int, Any]:
    """POST a v1.0 robot API call with the token header (None: no header)."""
    headers = {} if token is None else {TOKEN_HEADER: token}
    return await post(http, server.url(path), body, headers=headers)


def upload_form(
    data: bytes, filename: str = "a.png", media_type: str | None = None
) -> aiohttp.FormData:
    """Return a multipart body with the file field "media" (and "type")."""
    form = aiohttp.FormData()
    if media_type is not None:
        form.add_field("type", media_type)
    form.add_field("media", data, filename=filename)
    return form


async def open_stream(
    http: aiohttp.ClientSession,
    server: EmulatorServer,
    *,
    topics: tuple[str, ...] = (ROBOT_TOPIC,),
) -> aiohttp.ClientWebSocketResponse:
    """Open connections/open with JSON and connect the WebSocket."""
    status, answer = await post(
        http,
        server.url("/v1.0/gateway/connections/open"),
        {
            "clientId": TEST_APP_KEY,
            "clientSecret": TEST_APP_SECRET,
            "subscriptions": [{"type": "CALLBACK", "topic": t} for t in topics],
            "ua": "tests/1.0",
            "localIp": "127.0.0.1",
        },
        headers={"Accept": "application/json"},
    )
    assert status == 200, answer
    url = f"{answer['endpoint']}?ticket={answer['ticket']}"
    return await http.ws_connect(url, autoping=False)


async def frame(ws: aiohttp.ClientWebSocketResponse, limit: float = 5.0) -> Any:  # noqa: ANN401
    """Return the next text frame, parsed (untyped JSON)."""
    message = await asyncio.wait_for(ws.receive(), limit)
    assert message.type is aiohttp.WSMsgType.TEXT, message
    return json.loads(message.data)


def ack(received: dict[str, Any], code: int = 200, data: object = None) -> str:
    """Return the ACK of a frame (§7.3): same messageId."""
    return json.dumps(
        {
            "code": code,
            "headers": {
                "messageId": received["headers"]["messageId"],
                "contentType": "application/json",
            },
            "message": "OK",
            "data": json.dumps({"response": None} if data is None else data),
        }
    )


async def until(probe: Any, limit: float = 5.0) -> None:  # noqa: ANN401
    """Wait until ``probe()`` is true (real time, briefly)."""
    for _ in range(int(limit / 0.01)):
        if probe():
            return
        await asyncio.sleep(0.01)
    msg = "condition not met in time"
    raise AssertionError(msg)
