"""Send with DingTalkClient to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import socket
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

import aiohttp
import pytest

from custom_components.dingtalk.api import (
    USER_AGENT,
    ActionCard,
    BusyError,
    DingTalkBadResponseError,
    DingTalkClient,
    DingTalkConnectionError,
    DingTalkHTTPError,
    DingTalkTimeoutError,
    FeedCard,
    FeedLink,
    InvalidTokenError,
    KeywordError,
    Link,
    Markdown,
    Mentions,
    Message,
    SignatureError,
    Text,
    Webhook,
    scrub,
    serialize_payload,
)

from .conftest import SECRET, TOKEN, FakeRobot

if TYPE_CHECKING:
    from types import SimpleNamespace

NOW = 1_700_000_000.0
NOW_MS = 1_700_000_000_000


def _reference_sign(timestamp_ms: int, secret: str = SECRET) -> str:
    """Return the raw (not URL-encoded) base64 sign, computed independently."""
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _awkward_timestamp() -> int:
    """Return a timestamp whose base64 sign has '+', '/' and '='."""
    timestamp = NOW_MS
    while not set("+/=") <= set(_reference_sign(timestamp)):
        timestamp += 1
    return timestamp


def _assert_clean(text: str) -> None:
    """Assert that no secret material is in ``text``."""
    assert TOKEN not in text
    assert SECRET not in text
    assert "sign=" not in text or "sign=***" in text


async def test_send_signed_text(robot: FakeRobot) -> None:
    """POST the exact body to the endpoint with token, timestamp and sign."""
    message = Text(content="告警 disk full", msg_uuid="u1")
    async with aiohttp.ClientSession() as session:
        client = DingTalkClient(
            robot.webhook(), SECRET, session=session, clock=lambda: NOW
        )
        await client.send(message)
    (request,) = robot.requests
    assert request.method == "POST"
    assert request.path == "/robot/send"
    assert request.query == {
        "access_token": TOKEN,
        "timestamp": str(NOW_MS),
        "sign": _reference_sign(NOW_MS),
    }
    assert request.body == serialize_payload(message.to_payload())
    assert json.loads(request.body) == message.to_payload()
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["User-Agent"] == USER_AGENT


async def test_sign_is_encoded_once_on_the_wire(robot: FakeRobot) -> None:
    """Send the sign percent-encoded exactly once: no raw '+', '/', '=' or '%25'."""
    timestamp = _awkward_timestamp()
    raw_sign = _reference_sign(timestamp)
    async with aiohttp.ClientSession() as session:
        client = DingTalkClient(
            robot.webhook(), SECRET, session=session, clock=lambda: timestamp / 1000
        )
        await client.send(Text(content="x"))
    (request,) = robot.requests
    query = request.raw_path.partition("?")[2]
    params = dict(pair.split("=", 1) for pair in query.split("&"))
    assert params == {
        "access_token": TOKEN,
        "timestamp": str(timestamp),
        "sign": quote_plus(raw_sign),
    }
    assert not set("+/=") & set(params["sign"])
    assert "%25" not in query
    assert request.query["sign"] == raw_sign


async def test_fresh_sign_per_request(robot: FakeRobot) -> None:
    """Sign every request with the clock's current time."""
    times = iter([NOW, NOW + 1.5])
    async with aiohttp.ClientSession() as session:
        client = DingTalkClient(
            robot.webhook(), SECRET, session=session, clock=lambda: next(times)
        )
        await client.send(Text(content="a"))
        await client.send(Text(content="b"))
    first, second = robot.requests
    assert first.query["timestamp"] == str(NOW_MS)
    assert second.query["timestamp"] == str(NOW_MS + 1500)
    assert second.query["sign"] == _reference_sign(NOW_MS + 1500)
    assert first.query["sign"] != second.query["sign"]


async def test_unsigned(robot: FakeRobot) -> None:
    """Send only the access token when there is no secret (or a blank one)."""
    async with aiohttp.ClientSession() as session:
        for secret in (None, "", "  "):
            client = DingTalkClient(robot.webhook(), secret, session=session)
            assert not client.signed
            await client.send(Text(content="a"))
    assert [r.query for r in robot.requests] == [{"access_token": TOKEN}] * 3


@pytest.mark.parametrize(
    "message",
    [
        Text(content="a", mentions=Mentions(mobiles=("13800000000",))),
        Markdown(title="T", text="**b**"),
        Link(title="T", text="t", message_url="https://example.com"),
        ActionCard(
            title="T", text="t", single_title="S", single_url="https://example.com"
        ),
        FeedCard(
            links=(
                FeedLink(
                    title="T",
                    message_url="https://example.com",
                    pic_url="https://example.com/p.png",
                ),
            )
        ),
    ],
    ids=["text", "markdown", "link", "actionCard", "feedCard"],
)
async def test_send_every_type(robot: FakeRobot, message: Message) -> None:
    """Send each type's payload byte for byte."""
    async with aiohttp.ClientSession() as session:
        await DingTalkClient(robot.webhook(), session=session).send(message)
    assert robot.requests[0].body == serialize_payload(message.to_payload())


@pytest.mark.parametrize(
    "body",
    [
        '{"errcode":0,"errmsg":"ok"}',
        '{"errcode":"0","errmsg":"ok"}',
        '{"errcode":0}',
    ],
)
async def test_success_bodies(robot: FakeRobot, body: str) -> None:
    """Accept errcode 0 as an int or a string."""
    robot.answer(body)
    async with aiohttp.ClientSession() as session:
        await DingTalkClient(robot.webhook(), session=session).send(Text(content="a"))


async def test_json_parsed_regardless_of_content_type(robot: FakeRobot) -> None:
    """Read the errcode even from a text/plain answer."""
    robot.content_type = "text/plain"
    robot.answer('{"errcode":300001,"errmsg":"token is not exist"}')
    async with aiohttp.ClientSession() as session:
        client = DingTalkClient(robot.webhook(), session=session)
        with pytest.raises(InvalidTokenError) as excinfo:
            await client.send(Text(content="a"))
    assert excinfo.value.errcode == 300001
    assert excinfo.value.errmsg == "token is not exist"


@pytest.mark.parametrize(
    ("body", "cls"),
    [
        ('{"errcode":-1,"errmsg":"系统繁忙"}', BusyError),
        ('{"errcode":"310000","errmsg":"keywords not in content"}', KeywordError),
        (
            '{"errcode":310000,"errmsg":"description:机器人发送签名不匹配;"}',
            SignatureError,
        ),
    ],
)
async def test_api_errors(robot: FakeRobot, body: str, cls: type[Exception]) -> None:
    """Raise the decoded API error for an HTTP 200 with a non-zero errcode."""
    robot.answer(body)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(cls):
            await DingTalkClient(robot.webhook(), session=session).send(
                Text(content="a")
            )


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(302, True), (400, False), (404, False), (500, True), (502, True), (503, True)],
)
async def test_http_statuses(robot: FakeRobot, status: int, retryable: bool) -> None:
    """Raise DingTalkHTTPError for a non-2xx status; never follow a redirect."""
    robot.headers = {"Location": "/elsewhere"}
    robot.answer('{"errcode":0}', status=status)
    async with aiohttp.ClientSession() as session:
        client = DingTalkClient(robot.webhook(), SECRET, session=session)
        with pytest.raises(DingTalkHTTPError) as excinfo:
            await client.send(Text(content="a"))
    assert excinfo.value.status == status
    assert excinfo.value.retryable is retryable
    assert len(robot.requests) == 1


@pytest.mark.parametrize(
    "body",
    ["<html>502 Bad Gateway</html>", "", "[0]", '{"errmsg":"ok"}', '{"errcode":null}'],
)
async def test_bad_bodies(robot: FakeRobot, body: str) -> None:
    """Raise DingTalkBadResponseError for non-JSON or JSON without an errcode."""
    robot.answer(body)
    async with aiohttp.ClientSession() as session:
        client = DingTalkClient(robot.webhook(), session=session)
        with pytest.raises(DingTalkBadResponseError) as excinfo:
            await client.send(Text(content="a"))
    assert excinfo.value.retryable


async def test_timeout(robot: FakeRobot) -> None:
    """Raise DingTalkTimeoutError when the answer takes longer than request_timeout."""
    robot.slow = True
    async with aiohttp.ClientSession() as session:
        client = DingTalkClient(
            robot.webhook(), SECRET, session=session, request_timeout=0.2
        )
        with pytest.raises(DingTalkTimeoutError) as excinfo:
            await client.send(Text(content="a"))
    assert excinfo.value.retryable
    assert excinfo.value.__cause__ is None
    assert "0.2 s" in str(excinfo.value)


@pytest.fixture
def closed_port(
    socket_enabled: None,  # noqa: ARG001 - requested for its effect: real sockets
) -> int:
    """Return a 127.0.0.1 port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_connection_refused_is_scrubbed(
    closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Raise DingTalkConnectionError with no secret in str, repr, cause or logs."""
    webhook = Webhook.parse(
        f"http://127.0.0.1:{closed_port}/robot/send?access_token={TOKEN}"
    )
    caplog.set_level(logging.DEBUG)
    async with DingTalkClient(webhook, SECRET, clock=lambda: NOW) as client:
        with pytest.raises(DingTalkConnectionError) as excinfo:
            await client.send(Text(content="a"))
    error = excinfo.value
    assert error.retryable
    assert error.maybe_delivered is False  # no connection: surely not sent
    assert "ClientConnectorError" in str(error)
    assert f"127.0.0.1:{closed_port}" in str(error)
    assert error.__cause__ is None
    assert error.__suppress_context__
    for text in (str(error), repr(error), caplog.text):
        _assert_clean(text)
        assert _reference_sign(NOW_MS) not in text
        assert quote_plus(_reference_sign(NOW_MS)) not in text


async def test_client_error_with_url_is_scrubbed(
    robot: FakeRobot, caplog: pytest.LogCaptureFixture
) -> None:
    """Scrub an aiohttp error whose text holds the signed URL."""

    async def fail(
        _session: aiohttp.ClientSession,
        _context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        """Fail the request with an error whose text holds the signed URL."""
        raise aiohttp.ClientError(f"boom while opening {params.url}")

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(fail)
    caplog.set_level(logging.DEBUG)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        client = DingTalkClient(
            robot.webhook(), SECRET, session=session, clock=lambda: NOW
        )
        with pytest.raises(DingTalkConnectionError) as excinfo:
            await client.send(Text(content="a"))
    error = excinfo.value
    assert error.maybe_delivered is True  # it may have reached DingTalk
    assert str(error) == (
        f"cannot reach DingTalk: ClientError: boom while opening {robot.url}?***"
    )
    assert error.__cause__ is None
    for text in (str(error), repr(error), caplog.text):
        _assert_clean(text)
        assert _reference_sign(NOW_MS) not in text
        assert quote_plus(_reference_sign(NOW_MS)) not in text
    assert not robot.requests


async def test_raise_for_status_session(robot: FakeRobot) -> None:
    """Turn a session's ClientResponseError (URL in its text) into DingTalkHTTPError."""
    robot.answer("oops", status=500)
    async with aiohttp.ClientSession(raise_for_status=True) as session:
        client = DingTalkClient(robot.webhook(), SECRET, session=session)
        with pytest.raises(DingTalkHTTPError) as excinfo:
            await client.send(Text(content="a"))
    assert excinfo.value.status == 500
    assert excinfo.value.__cause__ is None
    _assert_clean(str(excinfo.value))


async def test_errmsg_is_scrubbed(robot: FakeRobot) -> None:
    """Scrub an errmsg that echoes the token, the secret or a signed URL."""
    robot.answer(
        json.dumps(
            {
                "errcode": 400101,
                "errmsg": f"token {TOKEN} bad; secret {SECRET}; "
                f"see https://x/robot/send?access_token={TOKEN}&sign=abc",
            }
        )
    )
    async with aiohttp.ClientSession() as session:
        client = DingTalkClient(robot.webhook(), SECRET, session=session)
        with pytest.raises(InvalidTokenError) as excinfo:
            await client.send(Text(content="a"))
    assert excinfo.value.errmsg == (
        "token *** bad; secret ***; see https://x/robot/send?***"
    )
    _assert_clean(str(excinfo.value))


async def test_debug_log_is_redacted(
    robot: FakeRobot, caplog: pytest.LogCaptureFixture
) -> None:
    """Log each send at debug level with the endpoint and token fingerprint only."""
    caplog.set_level(logging.DEBUG, logger="custom_components.dingtalk.api")
    webhook = robot.webhook()
    async with aiohttp.ClientSession() as session:
        client = DingTalkClient(webhook, SECRET, session=session, clock=lambda: NOW)
        await client.send(Text(content="a", msg_uuid="uuid-1"))
        robot.answer('{"errcode":-1,"errmsg":"busy"}')
        with pytest.raises(BusyError):
            await client.send(Text(content="a"))
    records = [
        r for r in caplog.records if r.name == "custom_components.dingtalk.api.client"
    ]
    assert records
    assert all(r.levelno == logging.DEBUG for r in records)
    where = f"{robot.url} (token {webhook.token_fingerprint()})"
    assert "Sending text message uuid-1 (" in caplog.text
    assert where in caplog.text
    assert "errcode -1: busy" in caplog.text
    _assert_clean(caplog.text)
    assert _reference_sign(NOW_MS) not in caplog.text
    assert quote_plus(_reference_sign(NOW_MS)) not in caplog.text


async def test_injected_session_stays_open(robot: FakeRobot) -> None:
    """Leave an injected session open on close() and on leaving the context."""
    async with aiohttp.ClientSession() as session:
        async with DingTalkClient(robot.webhook(), session=session) as client:
            await client.send(Text(content="a"))
        await client.close()
        assert not session.closed
        await client.send(Text(content="b"))
    assert len(robot.requests) == 2


def _session_of(client: DingTalkClient) -> aiohttp.ClientSession | None:
    """Return the client's current session (read fresh each time)."""
    return client._session


def _closed(session: aiohttp.ClientSession) -> bool:
    """Return whether ``session`` is closed (read fresh each time)."""
    return session.closed


async def test_own_session_is_created_and_closed(robot: FakeRobot) -> None:
    """Create a session on first send and close it on close(); reopen on demand."""
    client = DingTalkClient(robot.webhook())
    await client.close()  # nothing to close yet
    assert _session_of(client) is None
    await client.send(Text(content="a"))
    own = _session_of(client)
    assert own is not None
    assert not _closed(own)
    await client.close()
    assert _closed(own)
    assert _session_of(client) is None
    async with client:
        await client.send(Text(content="b"))
        second = _session_of(client)
        assert second is not None
        assert second is not own
    assert _closed(second)
    assert _session_of(client) is None
    assert len(robot.requests) == 2


async def test_repr_and_properties() -> None:
    """Show neither token nor secret in repr; expose webhook and signed."""
    webhook = Webhook.parse(TOKEN)
    client = DingTalkClient(webhook, f"  {SECRET} ")
    assert client.webhook is webhook
    assert client.signed
    assert repr(client) == f"DingTalkClient(webhook={webhook!r}, signed=True)"
    _assert_clean(repr(client))


@pytest.mark.parametrize("timeout", [0, -1.0])
def test_request_timeout_must_be_positive(timeout: float) -> None:
    """Reject a non-positive request_timeout."""
    with pytest.raises(ValueError, match="positive"):
        DingTalkClient(Webhook.parse(TOKEN), request_timeout=timeout)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "GET http://h:1/robot/send?access_token=abc&sign=x%2B (x)",
            "GET http://h:1/robot/send?*** (x)",
        ),
        (
            "bad access_token=abc&timestamp=1&SIGN=q",
            "bad access_token=***&timestamp=***&SIGN=***",
        ),
        ("why? because", "why? because"),
        ("topsecret and top", "*** and ***"),
    ],
)
def test_scrub(text: str, expected: str) -> None:
    """Replace secrets, their parameters and URL queries with ***."""
    assert scrub(text, ("top", "topsecret", "")) == expected
