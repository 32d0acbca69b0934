"""DingTalk's official SDKs against the emulator (independence of the oracle).

alibabacloud-dingtalk (the v1.0 OpenAPI SDK) is synchronous: it runs in a worker
thread, with its endpoint pointed at the emulator over http. dingtalk-stream calls
`requests` synchronously inside its event loop, so it gets a thread and a loop of
its own; its open-connection URL is the class constant it reads at run time.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import TYPE_CHECKING, Any, Self

from alibabacloud_dingtalk.oauth2_1_0 import (  # type: ignore[import-untyped]  # no stubs
    models as oauth_models,
)
from alibabacloud_dingtalk.oauth2_1_0.client import (  # type: ignore[import-untyped]  # no stubs
    Client as OAuthClient,
)
from alibabacloud_dingtalk.robot_1_0 import (  # type: ignore[import-untyped]  # no stubs
    models as robot_models,
)
from alibabacloud_dingtalk.robot_1_0.client import (  # type: ignore[import-untyped]  # no stubs
    Client as RobotClient,
)
from alibabacloud_tea_openapi import (  # type: ignore[import-untyped]  # no stubs
    models as open_api_models,
)
from alibabacloud_tea_util import (  # type: ignore[import-untyped]  # no stubs
    models as util_models,
)
import dingtalk_stream  # type: ignore[import-untyped]  # no stubs
import pytest

from dingtalk_emulator import AppSettings, PushState, StreamFault, StreamFaultKind, Via
from dingtalk_emulator.testing import TEST_APP_KEY, TEST_APP_SECRET, TEST_GROUP_ID

from .app_helpers import post, until
from .helpers import no_proxies

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Coroutine

    import aiohttp

    from dingtalk_emulator import Emulator, EmulatorServer


@pytest.fixture
async def server(
    app_emulator: Emulator,
    socket_enabled: None,  # noqa: ARG001 - enables sockets (127.0.0.1 only)
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[EmulatorServer]:
    """Serve the emulator; make sure `requests` does not use a proxy."""
    no_proxies(monkeypatch)
    async with app_emulator.serve() as running:
        yield running


def _openapi_calls(port: int) -> dict[str, Any]:
    """Token, batchSend, groupMessages/send and a bad token, with the official SDK."""
    config = open_api_models.Config(
        protocol="http", region_id="central", endpoint=f"127.0.0.1:{port}"
    )
    token = (
        OAuthClient(config)
        .get_access_token(
            oauth_models.GetAccessTokenRequest(
                app_key=TEST_APP_KEY, app_secret=TEST_APP_SECRET
            )
        )
        .body
    )
    robot = RobotClient(config)
    runtime = util_models.RuntimeOptions()
    batch = robot.batch_send_otowith_options(
        robot_models.BatchSendOTORequest(
            robot_code=TEST_APP_KEY,
            user_ids=["alice", "nobody"],
            msg_key="sampleMarkdown",
            msg_param=json.dumps({"title": "Disk", "text": "### sda **full**"}),
        ),
        robot_models.BatchSendOTOHeaders(
            x_acs_dingtalk_access_token=token.access_token
        ),
        runtime,
    ).body
    group = robot.org_group_send_with_options(
        robot_models.OrgGroupSendRequest(
            robot_code=TEST_APP_KEY,
            open_conversation_id=TEST_GROUP_ID,
            msg_key="sampleText",
            msg_param=json.dumps({"content": "all good"}),
        ),
        robot_models.OrgGroupSendHeaders(
            x_acs_dingtalk_access_token=token.access_token
        ),
        runtime,
    ).body
    try:
        robot.batch_send_otowith_options(
            robot_models.BatchSendOTORequest(
                robot_code=TEST_APP_KEY,
                user_ids=["alice"],
                msg_key="sampleText",
                msg_param="{}",
            ),
            robot_models.BatchSendOTOHeaders(x_acs_dingtalk_access_token="expired"),
            runtime,
        )
    except Exception as err:  # noqa: BLE001 - the SDK raises its own exception type
        error = err
    return {"token": token, "batch": batch, "group": group, "error": error}


async def test_openapi_sdk(app_emulator: Emulator, server: EmulatorServer) -> None:
    """The official OpenAPI SDK: token, batchSend, group send, an auth error."""
    result = await asyncio.to_thread(_openapi_calls, server.port)
    assert result["token"].expire_in == 7200
    assert app_emulator.apps.token_app(result["token"].access_token) == TEST_APP_KEY
    batch = result["batch"]
    assert batch.invalid_staff_id_list == ["nobody"]
    assert batch.flow_controlled_staff_id_list == []
    assert result["group"].process_query_key
    error = result["error"]
    assert error.code == "InvalidAuthentication"
    assert error.statusCode == 400
    first, second = app_emulator.apps.messages(TEST_APP_KEY)
    assert (first.via, first.user_id, first.msg_key) == (
        Via.BATCH_SEND,
        "alice",
        "sampleMarkdown",
    )
    assert first.msg_param == {"title": "Disk", "text": "### sda **full**"}
    assert first.process_query_key == batch.process_query_key
    assert (second.via, second.conversation_id) == (Via.GROUP_SEND, TEST_GROUP_ID)
    apis = [r.api for r in app_emulator.apps.requests]
    assert apis == ["token", "batchSend", "groupMessages", "batchSend"]
    assert app_emulator.apps.token_requests(TEST_APP_KEY) == 1


class _Bot(dingtalk_stream.ChatbotHandler):  # type: ignore[misc]  # the SDK is untyped
    """Answers every message through its sessionWebhook, as SDK users do."""

    def __init__(self) -> None:
        """Start with no messages."""
        super().__init__()
        self.received: list[Any] = []

    async def process(self, callback: Any) -> tuple[int, str]:  # noqa: ANN401
        """Record the message, reply, ACK."""
        message = dingtalk_stream.ChatbotMessage.from_dict(callback.data)
        self.received.append(message)
        self.reply_text(f"echo: {message.text.content.strip()}", message)
        return dingtalk_stream.AckMessage.STATUS_OK, "OK"


class _SdkThread:
    """Runs the Stream SDK's client in a thread with an event loop of its own."""

    def __init__(self, client: Any) -> None:  # noqa: ANN401 - the SDK is untyped
        """Prepare the thread."""
        self._client = client
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),))

    async def _main(self) -> None:
        """Run the client until stopped (it swallows one cancellation)."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        start: Coroutine[Any, Any, None] = self._client.start()
        task = asyncio.create_task(start)
        await self._stop.wait()
        while not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=0.1)

    def __enter__(self) -> Self:
        """Start the client."""
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stop the client and wait for its thread."""
        assert self._loop is not None
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


async def test_stream_sdk(
    app_emulator: Emulator,
    server: EmulatorServer,
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The official Stream SDK connects, gets a chat message, ACKs it and answers."""
    app_emulator.apps.settings = AppSettings(ack_timeout=30, ping_interval=0.05, seed=1)
    monkeypatch.setattr(
        dingtalk_stream.DingTalkStreamClient,
        "OPEN_CONNECTION_API",
        server.url("/v1.0/gateway/connections/open"),
    )
    client = dingtalk_stream.DingTalkStreamClient(
        dingtalk_stream.Credential(TEST_APP_KEY, TEST_APP_SECRET)
    )
    client.get_host_ip = lambda: "127.0.0.1"  # it would probe 8.8.8.8 otherwise
    bot = _Bot()
    client.register_callback_handler(dingtalk_stream.ChatbotMessage.TOPIC, bot)
    stream = app_emulator.stream
    with _SdkThread(client):
        await until(lambda: stream.connections(TEST_APP_KEY) != [], limit=10)
        [connection] = stream.connections(TEST_APP_KEY)
        assert connection.ua.startswith("dingtalk-sdk-python/v0.24.3")
        status, answer = await post(
            http,
            server.url(f"/api/apps/{TEST_APP_KEY}/chat"),
            {
                "user_id": "bob",
                "text": "disk?",
                "group": TEST_GROUP_ID,
                "at_robot": True,
            },
        )
        assert status == 201
        await until(lambda: app_emulator.apps.messages(TEST_APP_KEY) != [], limit=10)
        [push] = stream.pushes(TEST_APP_KEY)
        await until(lambda: stream.stats(TEST_APP_KEY).ping_echoes >= 1, limit=10)
        stream.inject_fault(TEST_APP_KEY, StreamFault(StreamFaultKind.DISCONNECT))
        await until(
            lambda: stream.stats(TEST_APP_KEY).connections_opened == 2, limit=10
        )
    [received] = bot.received
    assert received.text.content == " disk?"
    assert received.conversation_id == TEST_GROUP_ID
    assert received.sender_staff_id == "bob"
    assert received.message_id == answer["chat"]["msg_id"]
    assert push.state is PushState.ACKED
    assert push.ack is not None
    assert push.ack["code"] == 200
    assert push.ack["headers"]["messageId"] == push.message_id
    assert json.loads(push.ack["data"]) == {"response": "OK"}
    [reply] = app_emulator.apps.messages(TEST_APP_KEY)
    assert (reply.via, reply.conversation_id) == (Via.SESSION, TEST_GROUP_ID)
    assert reply.payload == {
        "msgtype": "text",
        "text": {"content": "echo: disk?"},
        "at": {"atUserIds": ["bob"]},
    }
    stats = stream.stats(TEST_APP_KEY)
    assert (stats.acks, stats.redeliveries, stats.disconnects_sent) == (1, 0, 1)
    assert stats.tickets_used == 2
