"""Send as an app robot with DingTalkAppClient to a scripted DingTalk on 127.0.0.1."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pytest

from custom_components.dingtalk.api.app_auth import AccessTokenProvider
from custom_components.dingtalk.api.app_client import (
    MAX_BATCH_USERS,
    TOKEN_HEADER,
    DingTalkAppClient,
)
from custom_components.dingtalk.api.app_config import (
    AppConfigProblem,
    InvalidAppConfigError,
)
from custom_components.dingtalk.api.app_errors import InputRejectedError
from custom_components.dingtalk.api.app_models import AppMessage, Image
from custom_components.dingtalk.api.app_session import AppClientStats
from custom_components.dingtalk.api.errors import (
    AccessTokenInvalidError,
    DingTalkBadResponseError,
    DingTalkConnectionError,
    DingTalkTimeoutError,
    InvalidMessageError,
    InvalidTokenError,
    Problem,
    RecipientNotFoundError,
    RobotUnavailableError,
)
from custom_components.dingtalk.api.media import MediaType
from custom_components.dingtalk.api.models import (
    FeedCard,
    FeedLink,
    Markdown,
    Text,
)
from custom_components.dingtalk.api.transport import USER_AGENT

from .app_fakes import (
    BATCH_PATH,
    CLIENT_ID,
    CLIENT_SECRET,
    CREDENTIALS,
    GROUP_PATH,
    MOBILE_PATH,
    PNG,
    SESSION_PATH,
    SESSION_SECRET,
    TEXT,
    TOKEN_PATH,
    UPLOAD_PATH,
    Answer,
    FakeDingTalk,
    token_value,
)

pytest_plugins = ["tests.api.app_fixtures"]

if TYPE_CHECKING:
    from collections.abc import Iterator

    import aiohttp

BAD_TOKEN = {"code": "InvalidAuthentication", "message": "不合法的access_token"}


@pytest.fixture
def client(
    app_fake: FakeDingTalk, http_session: aiohttp.ClientSession
) -> DingTalkAppClient:
    """Return a client whose both bases point at the app_fake."""
    return DingTalkAppClient(
        CREDENTIALS,
        session=http_session,
        api_base=app_fake.base,
        oapi_base=app_fake.base,
    )


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture DEBUG logs, and check after the test that they hold no secret."""
    caplog.set_level(logging.DEBUG)
    yield caplog
    _assert_clean(caplog.text)


def _assert_clean(*texts: str) -> None:
    """Assert that no secret, token or session is in ``texts``."""
    for text in texts:
        assert CLIENT_SECRET not in text
        assert SESSION_SECRET not in text
        for number in range(1, 6):
            assert token_value(number) not in text


def _sent(request_json: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Return the msgKey and the decoded msgParam (which must be a JSON string)."""
    assert isinstance(request_json["msgParam"], str)
    return request_json["msgKey"], json.loads(request_json["msgParam"])


async def test_check_obtains_a_token(
    app_fake: FakeDingTalk, client: DingTalkAppClient
) -> None:
    """Prove the credentials with one token request and nothing else."""
    await client.async_check()
    assert [request.path for request in app_fake.received] == [TOKEN_PATH]
    assert client.stats == AppClientStats(requests=0, token_requests=1, auth_retries=0)


async def test_send_to_users(
    app_fake: FakeDingTalk,
    client: DingTalkAppClient,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    """POST robotCode, userIds, msgKey and msgParam (a JSON string), token in header."""
    result = await client.async_send_to_users(
        [" u1", "u2", "u1"], Markdown(title="标题", text="**告警**")
    )
    (request,) = app_fake.to(BATCH_PATH)
    assert request.headers[TOKEN_HEADER] == token_value(1)
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.query == {}
    body = request.json()
    assert set(body) == {"robotCode", "userIds", "msgKey", "msgParam"}
    assert body["robotCode"] == CLIENT_ID
    assert body["userIds"] == ["u1", "u2"]
    assert _sent(body) == ("sampleMarkdown", {"title": "标题", "text": "**告警**"})
    assert result.process_query_key == "pqk-1"
    assert result.user_ids == ("u1", "u2")
    assert result.complete
    result.raise_for_recipients()
    assert "sampleMarkdown" in debug_log.text
    assert client.stats == AppClientStats(requests=1, token_requests=1, auth_retries=0)


async def test_send_to_users_takes_an_app_message_and_a_robot_code(
    app_fake: FakeDingTalk, http_session: aiohttp.ClientSession
) -> None:
    """Send an AppMessage as it is, with the robotCode given."""
    client = DingTalkAppClient(
        CREDENTIALS, robot_code="robot9", session=http_session, api_base=app_fake.base
    )
    assert client.robot_code == "robot9"
    message = AppMessage("sampleText", {"content": "hi"})
    await client.async_send_to_users(iter(["u1"]), message)
    body = app_fake.to(BATCH_PATH)[0].json()
    assert body["robotCode"] == "robot9"
    assert _sent(body) == ("sampleText", {"content": "hi"})


async def test_twenty_users_at_most(
    app_fake: FakeDingTalk, client: DingTalkAppClient
) -> None:
    """Send to 20 users; refuse 21 before any request."""
    users = [f"u{n}" for n in range(MAX_BATCH_USERS)]
    await client.async_send_to_users(users, Text(content="x"))
    assert len(app_fake.to(BATCH_PATH)[0].json()["userIds"]) == 20
    app_fake.received.clear()
    with pytest.raises(InvalidMessageError) as excinfo:
        await client.async_send_to_users([*users, "u20"], Text(content="x"))
    assert excinfo.value.problem is Problem.TOO_MANY_RECIPIENTS
    assert excinfo.value.params == {"limit": 20}
    assert not app_fake.received


@pytest.mark.parametrize(
    ("user_ids", "problem"),
    [
        ([], Problem.REQUIRED),
        ("u1", Problem.INVALID_VALUE),
        (None, Problem.INVALID_VALUE),
        (["u1", ""], Problem.INVALID_USER_ID),
        (["u1", 7], Problem.INVALID_USER_ID),
    ],
)
async def test_bad_user_ids(
    app_fake: FakeDingTalk,
    client: DingTalkAppClient,
    user_ids: object,
    problem: Problem,
) -> None:
    """Refuse missing or malformed user ids before any request."""
    with pytest.raises(InvalidMessageError) as excinfo:
        await client.async_send_to_users(user_ids, Text(content="x"))  # type: ignore[arg-type]  # on purpose
    assert excinfo.value.problem is problem
    assert excinfo.value.field == "user_ids"
    assert not app_fake.received


async def test_partial_delivery(
    app_fake: FakeDingTalk, client: DingTalkAppClient
) -> None:
    """Report skipped people from an HTTP 200 answer; raise for them on request."""
    app_fake.script(
        BATCH_PATH,
        Answer(
            body={
                "processQueryKey": "pqk-2",
                "invalidStaffIdList": ["u2"],
                "flowControlledStaffIdList": ["u3"],
                "filteredStaffIdList": ["u4"],
            }
        ),
    )
    result = await client.async_send_to_users(
        ["u1", "u2", "u3", "u4"], Text(content="x")
    )
    assert result.invalid_user_ids == ("u2",)
    assert result.flow_controlled_user_ids == ("u3",)
    assert result.filtered_user_ids == ("u4",)
    assert result.delivered_user_ids == ("u1",)
    assert not result.complete


async def test_unsendable_message_sends_nothing(
    app_fake: FakeDingTalk, client: DingTalkAppClient
) -> None:
    """Refuse a feed card before fetching a token."""
    card = FeedCard(
        links=(
            FeedLink(title="t", message_url="https://a.b/", pic_url="https://a.b/p"),
        )
    )
    with pytest.raises(InvalidMessageError) as excinfo:
        await client.async_send_to_users(["u1"], card)
    assert excinfo.value.problem is Problem.NOT_SUPPORTED
    assert not app_fake.received


async def test_send_to_group(app_fake: FakeDingTalk, client: DingTalkAppClient) -> None:
    """POST to groupMessages/send and return the processQueryKey."""
    key = await client.async_send_to_group(" cidAbC== ", Image(photo_url="@lAmedia1"))
    assert key == "pqk-group"
    (request,) = app_fake.to(GROUP_PATH)
    body = request.json()
    assert set(body) == {"robotCode", "openConversationId", "msgKey", "msgParam"}
    assert body["openConversationId"] == "cidAbC=="
    assert _sent(body) == ("sampleImageMsg", {"photoURL": "@lAmedia1"})
    assert request.headers[TOKEN_HEADER] == token_value(1)


async def test_send_to_group_with_cool_app(
    app_fake: FakeDingTalk, client: DingTalkAppClient
) -> None:
    """Add coolAppCode when given."""
    await client.async_send_to_group("cid1", Text(content="x"), cool_app_code="COOL_1")
    assert app_fake.to(GROUP_PATH)[0].json()["coolAppCode"] == "COOL_1"
    with pytest.raises(InvalidAppConfigError) as excinfo:
        await client.async_send_to_group("cid1", Text(content="x"), cool_app_code=" ")
    assert excinfo.value.field == "cool_app_code"


@pytest.mark.parametrize("conversation", ["", "  ", None])
async def test_send_to_group_needs_a_group(
    app_fake: FakeDingTalk, client: DingTalkAppClient, conversation: object
) -> None:
    """Refuse a blank openConversationId before any request."""
    with pytest.raises(InvalidMessageError) as excinfo:
        await client.async_send_to_group(conversation, Text(content="x"))  # type: ignore[arg-type]  # on purpose
    assert excinfo.value.problem is Problem.REQUIRED
    assert not app_fake.received


@pytest.mark.parametrize("body", [{}, {"processQueryKey": ""}, {"processQueryKey": 5}])
async def test_send_to_group_without_key(
    app_fake: FakeDingTalk, client: DingTalkAppClient, body: dict[str, Any]
) -> None:
    """Raise DingTalkBadResponseError (maybe delivered) without a processQueryKey."""
    app_fake.script(GROUP_PATH, Answer(body=body))
    with pytest.raises(DingTalkBadResponseError) as excinfo:
        await client.async_send_to_group("cid1", Text(content="x"))
    assert excinfo.value.maybe_delivered


async def test_one_retry_with_a_fresh_token(
    app_fake: FakeDingTalk,
    client: DingTalkAppClient,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    """Invalidate a refused token and resend once with a new one."""
    app_fake.script(GROUP_PATH, Answer(400, BAD_TOKEN))
    assert await client.async_send_to_group("cid1", Text(content="x")) == "pqk-group"
    sends = app_fake.to(GROUP_PATH)
    assert [request.headers[TOKEN_HEADER] for request in sends] == [
        token_value(1),
        token_value(2),
    ]
    assert sends[0].body == sends[1].body
    assert client.stats == AppClientStats(requests=2, token_requests=2, auth_retries=1)
    assert "retrying with a new one" in debug_log.text


async def test_second_refusal_is_raised(
    app_fake: FakeDingTalk, client: DingTalkAppClient
) -> None:
    """Raise AccessTokenInvalidError when the fresh token is refused too."""
    app_fake.script(BATCH_PATH, Answer(400, BAD_TOKEN), Answer(400, BAD_TOKEN))
    with pytest.raises(AccessTokenInvalidError) as excinfo:
        await client.async_send_to_users(["u1"], Text(content="x"))
    assert excinfo.value.status == 400
    assert len(app_fake.to(BATCH_PATH)) == 2
    assert client.stats == AppClientStats(requests=2, token_requests=2, auth_retries=1)
    # The second token was dropped too: the next call starts with a third one.
    await client.async_send_to_users(["u1"], Text(content="x"))
    assert app_fake.to(BATCH_PATH)[-1].headers[TOKEN_HEADER] == token_value(3)


async def test_other_errors_are_not_retried(
    app_fake: FakeDingTalk, client: DingTalkAppClient
) -> None:
    """Raise any other refusal at once, with DingTalk's code and request id."""
    body = {
        "code": "invalidParameter.robotCode.notExsit",
        "message": "错误描述: robot 不存在",
        "requestid": "R9",
    }
    app_fake.script(GROUP_PATH, Answer(400, body))
    with pytest.raises(RobotUnavailableError) as excinfo:
        await client.async_send_to_group("cid1", Text(content="x"))
    assert (excinfo.value.errcode, excinfo.value.request_id) == (body["code"], "R9")
    assert len(app_fake.to(GROUP_PATH)) == 1
    assert client.stats.auth_retries == 0


async def test_upload_media(
    app_fake: FakeDingTalk,
    client: DingTalkAppClient,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    """POST multipart: field ``type``, file field ``media``; token and type in query."""
    media_id = await client.async_upload_media(PNG, filename="camera/snapshot")
    assert media_id == "@lAmedia1"
    (request,) = app_fake.to(UPLOAD_PATH)
    assert request.query == {"access_token": token_value(1), "type": "image"}
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert TOKEN_HEADER not in request.headers
    assert set(request.form) == {"type", "media"}
    assert request.form["type"].value == b"image"
    media = request.form["media"]
    assert (media.value, media.filename, media.content_type) == (
        PNG,
        "snapshot.png",
        "image/png",
    )
    assert "/media/upload" in debug_log.text


async def test_upload_retries_with_a_fresh_token(
    app_fake: FakeDingTalk, client: DingTalkAppClient
) -> None:
    """Resend the whole form once after errcode 40014."""
    app_fake.script(
        UPLOAD_PATH, Answer(body={"errcode": 40014, "errmsg": "不合法的access_token"})
    )
    assert await client.async_upload_media(TEXT, filename="a.txt") == "@lAmedia1"
    uploads = app_fake.to(UPLOAD_PATH)
    assert [request.query["access_token"] for request in uploads] == [
        token_value(1),
        token_value(2),
    ]
    assert uploads[1].form["media"].value == TEXT
    assert uploads[1].form["type"].value == b"file"
    assert uploads[1].form["media"].content_type == "application/octet-stream"


async def test_upload_checks_before_any_request(
    app_fake: FakeDingTalk, client: DingTalkAppClient
) -> None:
    """Refuse a text file renamed .png as an image without a token request."""
    with pytest.raises(InvalidMessageError) as excinfo:
        await client.async_upload_media(
            TEXT, filename="photo.png", media_type=MediaType.IMAGE
        )
    assert excinfo.value.problem is Problem.MEDIA_TYPE
    with pytest.raises(InvalidMessageError) as excinfo:
        await client.async_upload_media(b"", filename="a.png")
    assert excinfo.value.problem is Problem.MEDIA_EMPTY
    assert not app_fake.received


async def test_upload_refused(
    app_fake: FakeDingTalk, client: DingTalkAppClient
) -> None:
    """Raise InputRejectedError for a media errcode; BadResponse without media_id."""
    app_fake.script(
        UPLOAD_PATH,
        Answer(body={"errcode": 40004, "errmsg": "不合法的媒体文件类型"}),
        Answer(body={"errcode": 0}),
    )
    with pytest.raises(InputRejectedError) as excinfo:
        await client.async_upload_media(PNG, filename="a.png")
    assert excinfo.value.problem is Problem.MEDIA_TYPE
    assert excinfo.value.errcode == 40004
    with pytest.raises(DingTalkBadResponseError):
        await client.async_upload_media(PNG, filename="a.png")


async def test_user_id_by_mobile(
    app_fake: FakeDingTalk, client: DingTalkAppClient
) -> None:
    """POST the mobile with the token in the query; return result.userid."""
    assert await client.async_get_user_id_by_mobile(" 13800000000 ") == "user-7"
    (request,) = app_fake.to(MOBILE_PATH)
    assert request.json() == {"mobile": "13800000000"}
    assert request.query == {"access_token": token_value(1)}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"errcode": 60121, "errmsg": "找不到该用户"}, RecipientNotFoundError),
        ({"errcode": 40104, "errmsg": "无效的手机号"}, InputRejectedError),
        ({"errcode": 0, "result": {}}, DingTalkBadResponseError),
        ({"errcode": 0, "result": "x"}, DingTalkBadResponseError),
        ({"errcode": 0}, DingTalkBadResponseError),
    ],
)
async def test_user_id_by_mobile_errors(
    app_fake: FakeDingTalk,
    client: DingTalkAppClient,
    body: dict[str, Any],
    expected: type[Exception],
) -> None:
    """Raise the decoded error, or BadResponse without a userid."""
    app_fake.script(MOBILE_PATH, Answer(body=body))
    with pytest.raises(expected):
        await client.async_get_user_id_by_mobile("13800000000")


async def test_user_id_by_mobile_retry_fails_twice(
    app_fake: FakeDingTalk, client: DingTalkAppClient
) -> None:
    """Raise AccessTokenInvalidError after errcode 42001 twice."""
    expired = Answer(body={"errcode": 42001, "errmsg": "access_token超时"})
    app_fake.script(MOBILE_PATH, expired, expired)
    with pytest.raises(AccessTokenInvalidError):
        await client.async_get_user_id_by_mobile("13800000000")
    assert len(app_fake.to(MOBILE_PATH)) == 2


@pytest.mark.parametrize("mobile", ["", "138 0000 0000", "phone", None])
async def test_user_id_by_mobile_refuses_a_bad_number(
    app_fake: FakeDingTalk, client: DingTalkAppClient, mobile: object
) -> None:
    """Refuse what is not a mobile number before any request."""
    with pytest.raises(InvalidMessageError) as excinfo:
        await client.async_get_user_id_by_mobile(mobile)  # type: ignore[arg-type]  # on purpose
    assert excinfo.value.problem is Problem.INVALID_MOBILE
    assert not app_fake.received


async def test_send_by_session(
    app_fake: FakeDingTalk,
    client: DingTalkAppClient,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    """POST the custom-robot payload as it is to the sessionWebhook, no token."""
    payload = {
        "msgtype": "text",
        "text": {"content": "@u1 好的"},
        "at": {"atUserIds": ["u1"]},
    }
    await client.async_send_by_session(app_fake.session_webhook(), payload)
    (request,) = app_fake.received
    assert request.path == SESSION_PATH
    assert request.query == {"session": SESSION_SECRET}
    assert request.json() == payload
    assert TOKEN_HEADER not in request.headers
    assert f"{app_fake.base}{SESSION_PATH}" in debug_log.text
    assert client.stats.token_requests == 0


async def test_send_by_session_error_is_scrubbed(
    app_fake: FakeDingTalk,
    client: DingTalkAppClient,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    """Decode the webhook errcode; keep the session out of the error and logs."""
    answer = {
        "errcode": 300005,
        "errmsg": f"token is not exist session={SESSION_SECRET}",
    }
    app_fake.script(SESSION_PATH, Answer(body=answer))
    with pytest.raises(InvalidTokenError) as excinfo:
        await client.async_send_by_session(
            app_fake.session_webhook(), {"msgtype": "text"}
        )
    _assert_clean(str(excinfo.value), repr(excinfo.value), debug_log.text)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            "http://oapi.dingtalk.com/robot/sendBySession?session=abc",
            AppConfigProblem.INSECURE,
        ),
        ("ftp://oapi.dingtalk.com/robot/sendBySession", AppConfigProblem.SCHEME),
        (
            "https://u:p@oapi.dingtalk.com/robot/sendBySession",
            AppConfigProblem.USER_INFO,
        ),
        (
            "https://oapi.dingtalk.com/robot/sendBySession?session=abc#x",
            AppConfigProblem.QUERY,
        ),
        ("", AppConfigProblem.EMPTY),
    ],
)
async def test_send_by_session_refuses_unsafe_urls(
    app_fake: FakeDingTalk,
    client: DingTalkAppClient,
    url: str,
    problem: AppConfigProblem,
) -> None:
    """Refuse a sessionWebhook that is not https (http only for a local host)."""
    with pytest.raises(InvalidAppConfigError) as excinfo:
        await client.async_send_by_session(url, {"msgtype": "text"})
    assert excinfo.value.problem is problem
    assert excinfo.value.field == "session_webhook"
    assert "abc" not in str(excinfo.value)
    assert not app_fake.received


async def test_send_by_session_needs_a_mapping(
    app_fake: FakeDingTalk, client: DingTalkAppClient
) -> None:
    """Refuse a payload that is not a JSON object."""
    with pytest.raises(InvalidMessageError) as excinfo:
        await client.async_send_by_session(app_fake.session_webhook(), ["x"])  # type: ignore[arg-type]  # on purpose
    assert excinfo.value.field == "payload"


async def test_session_connection_refused_is_scrubbed(
    refused_port: int, client: DingTalkAppClient, debug_log: pytest.LogCaptureFixture
) -> None:
    """Say maybe_delivered=False when nothing listens; show no session anywhere."""
    url = f"http://127.0.0.1:{refused_port}{SESSION_PATH}?session={SESSION_SECRET}"
    with pytest.raises(DingTalkConnectionError) as excinfo:
        await client.async_send_by_session(url, {"msgtype": "text"})
    assert not excinfo.value.maybe_delivered
    assert excinfo.value.retryable
    _assert_clean(str(excinfo.value), repr(excinfo.value), debug_log.text)


async def test_timeout(
    app_fake: FakeDingTalk, http_session: aiohttp.ClientSession
) -> None:
    """Raise DingTalkTimeoutError (maybe delivered) for a slow answer."""
    client = DingTalkAppClient(
        CREDENTIALS, session=http_session, api_base=app_fake.base, request_timeout=0.2
    )
    app_fake.script(BATCH_PATH, Answer(slow=True))
    with pytest.raises(DingTalkTimeoutError) as excinfo:
        await client.async_send_to_users(["u1"], Text(content="x"))
    assert excinfo.value.maybe_delivered
    assert excinfo.value.retryable


async def test_connection_refused_was_not_delivered(
    app_fake: FakeDingTalk,
    http_session: aiohttp.ClientSession,
    refused_port: int,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    """Say maybe_delivered=False when the send's connection cannot be opened."""
    provider = AccessTokenProvider(
        CREDENTIALS, session=http_session, api_base=app_fake.base
    )
    client = DingTalkAppClient(
        CREDENTIALS,
        session=http_session,
        api_base=f"http://127.0.0.1:{refused_port}",
        token_provider=provider,
    )
    with pytest.raises(DingTalkConnectionError) as excinfo:
        await client.async_send_to_group("cid1", Text(content="x"))
    assert not excinfo.value.maybe_delivered
    assert client.stats == AppClientStats(requests=1, token_requests=1, auth_retries=0)
    _assert_clean(str(excinfo.value), repr(excinfo.value), debug_log.text)


async def test_dropped_after_send_may_be_delivered(
    app_fake: FakeDingTalk,
    client: DingTalkAppClient,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    """Say maybe_delivered=True when the connection drops after the request."""
    app_fake.script(GROUP_PATH, Answer(drop=True))
    with pytest.raises(DingTalkConnectionError) as excinfo:
        await client.async_send_to_group("cid1", Text(content="x"))
    assert excinfo.value.maybe_delivered
    assert len(app_fake.to(GROUP_PATH)) == 1
    _assert_clean(str(excinfo.value), repr(excinfo.value), debug_log.text)


async def test_owned_session_is_closed(app_fake: FakeDingTalk) -> None:
    """Create a session when none is given, and close it on exit."""
    async with DingTalkAppClient(CREDENTIALS, api_base=app_fake.base) as client:
        await client.async_check()
        owned = client._session
        assert owned is not None
    assert owned.closed
    assert client._session is None
    assert client.stats.token_requests == 0
    await client.close()
    await client.async_check()  # a new session (and provider) after close
    await client.close()


async def test_injected_provider_outlives_close(
    app_fake: FakeDingTalk, http_session: aiohttp.ClientSession
) -> None:
    """Keep an injected token provider (and its token) when the own session closes."""
    provider = AccessTokenProvider(
        CREDENTIALS, session=http_session, api_base=app_fake.base
    )
    client = DingTalkAppClient(
        CREDENTIALS, api_base=app_fake.base, token_provider=provider
    )
    await client.async_send_to_group("cid1", Text(content="x"))
    await client.close()
    await client.async_send_to_group("cid1", Text(content="x"))
    await client.close()
    assert client.stats == AppClientStats(requests=2, token_requests=1, auth_retries=0)


async def test_injected_session_stays_open(
    app_fake: FakeDingTalk, http_session: aiohttp.ClientSession
) -> None:
    """Leave an injected session open on close."""
    async with DingTalkAppClient(
        CREDENTIALS, session=http_session, api_base=app_fake.base
    ) as client:
        await client.async_check()
    assert not http_session.closed


def test_repr_shows_no_secret() -> None:
    """Show the Client ID and robotCode only."""
    client = DingTalkAppClient(CREDENTIALS)
    assert repr(client) == (
        f"DingTalkAppClient(client_id='{CLIENT_ID}', robot_code='{CLIENT_ID}')"
    )
    assert client.stats == AppClientStats(0, 0, 0)


@pytest.mark.parametrize(
    ("kwargs", "field", "problem"),
    [
        (
            {"api_base": "http://api.dingtalk.com"},
            "api_base",
            AppConfigProblem.INSECURE,
        ),
        ({"api_base": "api.dingtalk.com"}, "api_base", AppConfigProblem.SCHEME),
        ({"api_base": "https://"}, "api_base", AppConfigProblem.NO_HOST),
        ({"api_base": "https://[::1"}, "api_base", AppConfigProblem.NOT_A_URL),
        ({"api_base": "https://h:99999"}, "api_base", AppConfigProblem.NOT_A_URL),
        ({"oapi_base": "https://o.example/?x=1"}, "oapi_base", AppConfigProblem.QUERY),
        ({"oapi_base": "https://o.example/#x"}, "oapi_base", AppConfigProblem.QUERY),
        (
            {"oapi_base": "https://a:b@o.example"},
            "oapi_base",
            AppConfigProblem.USER_INFO,
        ),
        ({"oapi_base": 5}, "oapi_base", AppConfigProblem.EMPTY),
        (
            {"oapi_base": "https://o example.com"},
            "oapi_base",
            AppConfigProblem.NOT_A_URL,
        ),
        ({"robot_code": " "}, "robot_code", AppConfigProblem.EMPTY),
        ({"robot_code": "a b"}, "robot_code", AppConfigProblem.INVALID),
    ],
)
def test_invalid_settings(
    kwargs: dict[str, Any], field: str, problem: AppConfigProblem
) -> None:
    """Refuse unsafe base URLs and a blank robotCode, naming the field."""
    with pytest.raises(InvalidAppConfigError) as excinfo:
        DingTalkAppClient(CREDENTIALS, **kwargs)
    assert excinfo.value.problem is problem
    assert excinfo.value.field == field
    assert str(excinfo.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    "base",
    [
        "https://api.dingtalk.com",
        "https://proxy.example.com/dingtalk/",
        "http://127.0.0.1:8080",
        "http://dingtalk-emulator.local:9000",
        "http://[::1]:8080",
    ],
)
def test_valid_bases(base: str) -> None:
    """Accept https, a path prefix, and http for local hosts."""
    DingTalkAppClient(CREDENTIALS, api_base=base, oapi_base=base)


def test_invalid_timeout() -> None:
    """Refuse a non-positive request timeout."""
    with pytest.raises(ValueError, match="request_timeout must be positive"):
        DingTalkAppClient(CREDENTIALS, request_timeout=0)
