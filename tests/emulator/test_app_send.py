"""batchSend and groupMessages/send: checks in order, deliveries, limits."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from dingtalk_emulator import AppSettings, ConversationType, Via
from dingtalk_emulator.testing import TEST_APP_KEY, TEST_GROUP_ID, make_test_app

from .app_helpers import BATCH, GROUP, batch, get_token, group, param, send_v1

if TYPE_CHECKING:
    import aiohttp

    from dingtalk_emulator import Emulator, EmulatorServer, ManualClock

#: One valid msgParam per msgKey (§6.4).
VALID_PARAMS = {
    "sampleText": {"content": "hi"},
    "sampleMarkdown": {"title": "T", "text": "# hi"},
    "sampleImageMsg": {"photoURL": "https://example.com/a.png"},
    "sampleLink": {"text": "t", "title": "T", "messageUrl": "https://example.com"},
    "sampleActionCard": {
        "title": "T",
        "text": "t",
        "singleTitle": "Open",
        "singleURL": "https://example.com",
    },
    **{
        f"sampleActionCard{n}": {
            "title": "T",
            "text": "t",
            **{f"actionTitle{i}": f"B{i}" for i in range(1, n + 1)},
            **{f"actionURL{i}": f"https://example.com/{i}" for i in range(1, n + 1)},
        }
        for n in range(2, 6)
    },
    "sampleActionCard6": {
        "title": "T",
        "text": "t",
        "buttonTitle1": "Yes",
        "buttonUrl1": "https://example.com/y",
        "buttonTitle2": "No",
        "buttonUrl2": "https://example.com/n",
    },
    "sampleAudio": {"mediaId": "@lAaudio", "duration": "3000"},
    "sampleFile": {"mediaId": "@lAfile", "fileName": "a.pdf", "fileType": "pdf"},
    "sampleVideo": {
        "duration": "10",
        "videoMediaId": "@lAvideo",
        "videoType": "mp4",
        "picMediaId": "@lApic",
    },
}


@pytest.fixture
async def token(app_server: EmulatorServer, http: aiohttp.ClientSession) -> str:
    """Return an access token of the test app."""
    return await get_token(http, app_server)


async def test_batch_send(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
) -> None:
    """Known people get the message in their 1:1 chat; unknown ids are listed."""
    body = batch(userIds=["alice", "ghost", "bob", "alice"])
    status, answer = await send_v1(http, app_server, BATCH, body, token)
    assert status == 200
    assert answer["invalidStaffIdList"] == ["ghost"]
    assert answer["flowControlledStaffIdList"] == []
    messages = app_emulator.apps.messages(TEST_APP_KEY)
    assert [m.user_id for m in messages] == ["alice", "bob"]
    first = messages[0]
    assert first.conversation_id == app_emulator.apps.conversation_id(
        TEST_APP_KEY, "alice"
    )
    assert first.conversation_type is ConversationType.SINGLE
    assert (first.via, first.msg_key, first.msg_param) == (
        Via.BATCH_SEND,
        "sampleText",
        {"content": "hi"},
    )
    assert first.process_query_key == answer["processQueryKey"]
    assert app_emulator.apps.requests[-1].delivered == 2
    assert app_emulator.apps.messages(conversation=first.conversation_id) == [first]


@pytest.mark.parametrize("msg_key", sorted(VALID_PARAMS))
async def test_every_msg_key(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
    msg_key: str,
) -> None:
    """All 13 msgKeys with their keys are delivered, to people and to groups."""
    values = VALID_PARAMS[msg_key]
    body = batch(msgKey=msg_key, msgParam=param(**values))
    assert (await send_v1(http, app_server, BATCH, body, token))[0] == 200
    body = group(msgKey=msg_key, msgParam=param(**values))
    assert (await send_v1(http, app_server, GROUP, body, token))[0] == 200
    assert [m.msg_param for m in app_emulator.apps.messages()] == [values, values]


@pytest.mark.parametrize(
    "case",
    [
        ("sampleMarkdown", "title", "miss.param.markdownTotitle"),
        ("sampleMarkdown", "text", "miss.param.markdownTotext"),
        ("sampleText", "content", "miss.param.textTocontent"),
        ("sampleActionCard3", "actionURL2", "miss.param.actionCardToactionURL2"),
        ("sampleActionCard6", "buttonUrl2", "miss.param.actionCardTobuttonUrl2"),
        ("sampleFile", "fileName", "miss.param.fileTofileName"),
        ("sampleVideo", "picMediaId", "miss.param.videoTopicMediaId"),
    ],
)
async def test_missing_msg_param_keys(
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
    case: tuple[str, str, str],
) -> None:
    """A required msgParam key that is absent or blank: miss.param.<family>To<key>."""
    msg_key, missing, code = case
    values: dict[str, object] = dict(VALID_PARAMS[msg_key])
    for absent in (None, " ", True):
        if absent is None:
            values.pop(missing)
        else:
            values[missing] = absent
        body = batch(msgKey=msg_key, msgParam=json.dumps(values))
        status, answer = await send_v1(http, app_server, BATCH, body, token)
        assert (status, answer["code"]) == (400, code)


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"robotCode": ""}, "invalidParameter.robotCode.empty"),
        ({"robotCode": 5}, "invalidParameter.robotCode.empty"),
        ({"robotCode": "dingother"}, "invalidParameter.robotCode.auth"),
        ({"userIds": []}, "invalidParameter.userIds.empty"),
        ({"userIds": None}, "invalidParameter.userIds.empty"),
        ({"userIds": "alice"}, "invalidParameter.param.invalid"),
        ({"userIds": [1]}, "invalidParameter.param.invalid"),
        ({"userIds": [f"u{i}" for i in range(21)]}, "invalidParameter.userIds.overMax"),
        ({"msgKey": ""}, "invalidParameter.msgKey.empty"),
        ({"msgKey": "sampleActionCard1"}, "invalidParameter.msgKey.invalid"),
        ({"msgParam": "not json"}, "invalidParameter.msgParam.invalid"),
        (
            {"msgParam": {"content": "an object, not a string"}},
            "invalidParameter.msgParam.invalid",
        ),
        ({"msgParam": "[1]"}, "invalidParameter.msgParam.invalid"),
        (
            {"msgParam": param(content="x" * 15_000)},
            "invalidParameter.msgParam.invalid",
        ),
    ],
)
async def test_batch_send_errors(
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
    overrides: dict[str, object],
    code: str,
) -> None:
    """Bad requests: HTTP 400 with the §6.5 codes; nothing is delivered."""
    body = {k: v for k, v in batch(**overrides).items() if v is not None}
    status, answer = await send_v1(http, app_server, BATCH, body, token)
    assert (status, answer["code"]) == (400, code)
    assert app_server.emulator.apps.messages() == []


async def test_twenty_users_and_the_size_limit(
    app_server: EmulatorServer, http: aiohttp.ClientSession, token: str
) -> None:
    """20 user ids pass; a msgParam of exactly 15 000 bytes passes."""
    body = batch(userIds=[f"u{i}" for i in range(20)])
    assert (await send_v1(http, app_server, BATCH, body, token))[0] == 200
    content = "x" * (15_000 - len(param(content="")))
    body = batch(msgParam=param(content=content))
    assert (await send_v1(http, app_server, BATCH, body, token))[0] == 200


async def test_body_not_json(
    app_server: EmulatorServer, http: aiohttp.ClientSession, token: str
) -> None:
    """A body that is not a JSON object: invalidParameter.param.invalid."""
    url = app_server.url(BATCH)
    headers = {"x-acs-dingtalk-access-token": token}
    async with http.post(url, data=b"[1, 2]", headers=headers) as response:
        assert response.status == 400
        assert (await response.json())["code"] == "invalidParameter.param.invalid"


async def test_unpublished_app(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
) -> None:
    """While unpublished the send APIs answer "robot not found"; then they work."""
    app_emulator.apps.set_published(TEST_APP_KEY, published=False)
    for path, body in ((BATCH, batch()), (GROUP, group())):
        status, answer = await send_v1(http, app_server, path, body, token)
        assert (status, answer["code"]) == (400, "invalidParameter.robotCode.notExsit")
    app_emulator.apps.set_published(TEST_APP_KEY, published=True)
    assert (await send_v1(http, app_server, BATCH, batch(), token))[0] == 200


async def test_missing_permission(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
) -> None:
    """Without qyapi_robot_sendmsg both send APIs answer HTTP 403."""
    app_emulator.apps.set_permissions(TEST_APP_KEY, frozenset({"qyapi_base"}))
    for path, body in ((BATCH, batch()), (GROUP, group())):
        status, answer = await send_v1(http, app_server, path, body, token)
        assert status == 403
        assert answer["code"] == "Forbidden.AccessDenied.AccessTokenPermissionDenied"


async def test_flow_control_per_person(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
    token: str,
) -> None:
    """20 messages per person per minute; the 21st lists the person, undelivered."""
    for _ in range(20):
        manual_clock.advance(0.1)  # stay under the QPS limit
        await send_v1(http, app_server, BATCH, batch(userIds=["alice"]), token)
    status, answer = await send_v1(
        http, app_server, BATCH, batch(userIds=["alice", "bob"]), token
    )
    assert status == 200
    assert answer["flowControlledStaffIdList"] == ["alice"]
    assert [m.user_id for m in app_emulator.apps.messages()][-1] == "bob"
    assert len(app_emulator.apps.messages()) == 21
    manual_clock.advance(60)
    answer = (await send_v1(http, app_server, BATCH, batch(), token))[1]
    assert answer["flowControlledStaffIdList"] == []


async def test_qps_limit(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
    token: str,
) -> None:
    """The 21st call within a second: HTTP 403; the next second works again."""
    for index in range(20):
        body = batch(userIds=[f"x{index}"])  # unknown: no flow control
        assert (await send_v1(http, app_server, BATCH, body, token))[0] == 200
    status, answer = await send_v1(http, app_server, BATCH, batch(), token)
    assert (status, answer["code"]) == (403, "Forbidden.AccessDenied.QpsLimitForApi")
    manual_clock.advance(1)
    assert (await send_v1(http, app_server, BATCH, batch(), token))[0] == 200
    assert app_emulator.apps.token_requests(TEST_APP_KEY) == 1


async def test_qps_limit_off(
    manual_clock: ManualClock,
    http: aiohttp.ClientSession,
    socket_enabled: None,  # noqa: ARG001 - the server needs sockets
) -> None:
    """qps_limit=None and flow_limit=None: no limits at all."""
    from dingtalk_emulator import Emulator  # noqa: PLC0415

    emulator = Emulator(
        manual_clock, app_settings=AppSettings(qps_limit=None, flow_limit=None)
    )
    make_test_app(emulator)
    async with emulator.serve() as server:
        token = await get_token(http, server)
        for _ in range(25):
            answer = (await send_v1(http, server, BATCH, batch(), token))[1]
            assert answer["flowControlledStaffIdList"] == []


async def test_group_send(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
) -> None:
    """groupMessages/send answers only processQueryKey; the group gets it."""
    body = group(coolAppCode="COOLAPP")
    status, answer = await send_v1(http, app_server, GROUP, body, token)
    assert status == 200
    assert set(answer) == {"processQueryKey"}
    [message] = app_emulator.apps.messages(conversation=TEST_GROUP_ID)
    assert message.conversation_type is ConversationType.GROUP
    assert message.via is Via.GROUP_SEND
    assert message.user_id is None


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"openConversationId": "cidunknown"}, "invalid.openConversationId"),
        ({"openConversationId": ""}, "invalid.openConversationId"),
        ({"coolAppCode": 1}, "invalidParameter.param.invalid"),
        (
            {"msgParam": param(content="x" * 15_000)},
            "invalidParameter.msgParam.invalid",
        ),
        ({"msgKey": "sampleFeedCard"}, "invalidParameter.msgKey.invalid"),
    ],
)
async def test_group_send_errors(
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
    overrides: dict[str, object],
    code: str,
) -> None:
    """Unknown groups and bad messages: HTTP 400."""
    status, answer = await send_v1(http, app_server, GROUP, group(**overrides), token)
    assert (status, answer["code"]) == (400, code)


async def test_robot_not_in_group(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
) -> None:
    """A second app whose robot is not in the group: HTTP 400; after joining: 200."""
    other = make_test_app(app_emulator, group=False)
    token = await get_token(http, app_server, key=other.client_id)
    body = group(robotCode=other.robot_code)
    status, answer = await send_v1(http, app_server, GROUP, body, token)
    assert (status, answer["code"]) == (400, "invalidParameter.robotCode.notInGroup")
    app_emulator.apps.join_group(TEST_GROUP_ID, other.client_id)
    app_emulator.apps.join_group(TEST_GROUP_ID, other.client_id)  # no change
    assert (await send_v1(http, app_server, GROUP, body, token))[0] == 200


async def test_robot_code_other_than_client_id(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """An app whose robotCode differs: the robotCode, not the client id, is checked."""
    app = make_test_app(app_emulator, robot_code="dingrobot0001")
    token = await get_token(http, app_server, key=app.client_id)
    body = batch(robotCode=app.client_id)
    status, answer = await send_v1(http, app_server, BATCH, body, token)
    assert (status, answer["code"]) == (400, "invalidParameter.robotCode.auth")
    body = batch(robotCode="dingrobot0001")
    assert (await send_v1(http, app_server, BATCH, body, token))[0] == 200


async def test_unknown_media_is_noticed(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
) -> None:
    """A media_id never uploaded is delivered with an unknown_media notice."""
    body = batch(msgKey="sampleImageMsg", msgParam=param(photoURL="@lAnever"))
    assert (await send_v1(http, app_server, BATCH, body, token))[0] == 200
    [message] = app_emulator.apps.messages()
    assert message.notices == ("unknown_media: @lAnever",)
