"""Decode the app APIs' v1.0 and oapi error answers into the taxonomy."""

from __future__ import annotations

import json
import logging

import pytest

from custom_components.dingtalk.api.app_errors import (
    OAPI_ERRCODE_CLASSES,
    V1_CODE_CLASSES,
    InputRejectedError,
    decode_oapi_answer,
    decode_v1_answer,
    decode_webhook_answer,
    oapi_error,
    v1_error,
    v1_error_class,
)
from custom_components.dingtalk.api.errors import (
    AccessTokenInvalidError,
    AppCredentialsError,
    BusyError,
    ContentRejectedError,
    DingTalkApiError,
    DingTalkBadResponseError,
    DingTalkHTTPError,
    HTTPThrottledError,
    InvalidMessageError,
    InvalidTokenError,
    IPNotAllowedError,
    MessageFormatError,
    PermissionDeniedError,
    Problem,
    QuotaExceededError,
    RateLimitedError,
    RecipientNotFoundError,
    RobotUnavailableError,
    UnknownApiError,
    UserFlowControlledError,
)

TOKEN = "at-" + "b16b00b5" * 6
WHERE = "https://api.dingtalk.com/v1.0/robot/groupMessages/send"

# Written out independently of V1_CODE_CLASSES: (code, HTTP status, class).
V1_EXPECTED: list[tuple[str, int, type[DingTalkApiError]]] = [
    ("InvalidAuthentication", 400, AccessTokenInvalidError),
    ("invalidauthentication", 400, AccessTokenInvalidError),
    ("AuthenticationFailed.MissingParameter", 400, AccessTokenInvalidError),
    ("invalidClientIdOrSecret", 400, AppCredentialsError),
    ("invalid.client", 400, AppCredentialsError),
    ("unauthorized.client", 400, AppCredentialsError),
    ("authFailed", 401, AppCredentialsError),
    ("invalidParameter.robotCode.empty", 400, RobotUnavailableError),
    ("invalidParameter.robotCode.auth", 400, RobotUnavailableError),
    ("invalidParameter.robotCode.coolApp", 400, RobotUnavailableError),
    ("invalidParameter.robotCode.notExsit", 400, RobotUnavailableError),
    ("bot.stopped", 400, RobotUnavailableError),
    ("robot.notFound", 404, RobotUnavailableError),
    ("invalidParameter.userIds.empty", 400, RecipientNotFoundError),
    ("invalidParameter.userIds.invalid", 400, RecipientNotFoundError),
    ("invalid.openConversationId", 400, RecipientNotFoundError),
    ("invalidParameter.openConversationId.invalid", 400, RecipientNotFoundError),
    ("group.disbanded", 400, RecipientNotFoundError),
    ("invalidParameter.msgKey.empty", 400, MessageFormatError),
    ("invalidParameter.msgKey.invalid", 400, MessageFormatError),
    ("invalidParameter.msgParam.invalid", 400, MessageFormatError),
    ("invalidParameter.param.invalid", 400, MessageFormatError),
    ("miss.param.markdownTotitle", 400, MessageFormatError),
    ("Missingbody", 400, MessageFormatError),
    ("Invalidbody", 400, MessageFormatError),
    ("param.contentUnsafe", 400, ContentRejectedError),
    ("Forbidden.AccessDenied.AccessTokenPermissionDenied", 403, PermissionDeniedError),
    ("Forbidden.AccessDenied.SomethingNew", 403, PermissionDeniedError),
    ("Forbidden.AccessDenied.IpNotInWhiteList", 403, IPNotAllowedError),
    ("Forbidden.AccessDenied.QpsLimitForApi", 403, RateLimitedError),
    ("Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", 403, RateLimitedError),
    ("send.too.fast", 400, RateLimitedError),
    ("send.byToken.tooFast", 400, RateLimitedError),
    ("too.many.group", 400, RateLimitedError),
    ("too.many.people", 400, RateLimitedError),
    ("server.error", 500, BusyError),
    ("system.err", 400, BusyError),
    # Unknown codes: the status decides.
    ("Unknown.Code", 401, AccessTokenInvalidError),
    ("Unknown.Code", 403, PermissionDeniedError),
    ("Unknown.Code", 429, RateLimitedError),
    ("Unknown.Code", 500, BusyError),
    ("Unknown.Code", 504, BusyError),
    ("Unknown.Code", 400, UnknownApiError),
    ("Unknown.Code", 404, UnknownApiError),
    # A known code wins over the status.
    ("InvalidAuthentication", 500, AccessTokenInvalidError),
    ("invalidParameter.robotCodeX", 400, UnknownApiError),
]

OAPI_EXPECTED: dict[int, type[DingTalkApiError] | Problem] = {
    -1: BusyError,
    88: AccessTokenInvalidError,
    40001: AccessTokenInvalidError,
    40014: AccessTokenInvalidError,
    41001: AccessTokenInvalidError,
    42001: AccessTokenInvalidError,
    40004: Problem.MEDIA_TYPE,
    40005: Problem.MEDIA_TYPE,
    40006: Problem.MEDIA_TOO_LARGE,
    40009: Problem.MEDIA_TOO_LARGE,
    40010: Problem.MEDIA_TOO_LARGE,
    40011: Problem.MEDIA_TOO_LARGE,
    41005: Problem.MEDIA_EMPTY,
    40035: MessageFormatError,
    43008: MessageFormatError,
    40104: Problem.INVALID_MOBILE,
    400002: MessageFormatError,
    60011: PermissionDeniedError,
    60020: IPNotAllowedError,
    60121: RecipientNotFoundError,
    90002: QuotaExceededError,
    90018: RateLimitedError,
    90020: QuotaExceededError,
}


def _raw(data: object) -> bytes:
    """Return ``data`` as a JSON body."""
    return json.dumps(data, ensure_ascii=False).encode()


@pytest.mark.parametrize(("code", "status", "expected"), V1_EXPECTED)
def test_v1_code_table(code: str, status: int, expected: type) -> None:
    """Map each v1.0 code (prefixes, case-insensitively) and status to its class."""
    assert v1_error_class(code, status) is expected


def _matches(pattern: str, code: str) -> bool:
    """Return whether a table row's pattern matches ``code``."""
    pattern, code = pattern.casefold(), code.casefold()
    if pattern.endswith("*"):
        return code.startswith(pattern[:-1])
    return code == pattern


@pytest.mark.parametrize(("pattern", "cls"), V1_CODE_CLASSES)
def test_every_v1_row_is_exercised(pattern: str, cls: type) -> None:
    """Cover every table row with one of the independent expectations above."""
    assert any(
        _matches(pattern, code) and expected is cls for code, _, expected in V1_EXPECTED
    )


def test_oapi_table_is_as_expected() -> None:
    """Keep the oapi table exactly as written out here."""
    assert dict(OAPI_ERRCODE_CLASSES) == OAPI_EXPECTED


@pytest.mark.parametrize(("errcode", "expected"), OAPI_EXPECTED.items())
def test_oapi_error(errcode: int, expected: type | Problem) -> None:
    """Build the class of each errcode, or an InputRejectedError for input rows."""
    error = oapi_error(errcode, {"errcode": errcode, "errmsg": "m", "request_id": "r"})
    if isinstance(expected, Problem):
        assert isinstance(error, InputRejectedError)
        assert isinstance(error, InvalidMessageError)
        assert error.problem is expected
        assert error.params == {"errcode": errcode}
        assert (error.errcode, error.errmsg, error.request_id) == (errcode, "m", "r")
    else:
        assert type(error) is expected
        assert isinstance(error, DingTalkApiError)
        assert (error.errcode, error.errmsg, error.request_id) == (errcode, "m", "r")


def test_oapi_unknown_errcode() -> None:
    """Fall back on UnknownApiError, keeping the code and message."""
    error = oapi_error(123456, {"errmsg": "new"})
    assert type(error) is UnknownApiError
    assert (error.errcode, error.errmsg, error.request_id) == (123456, "new", None)


@pytest.mark.parametrize(
    ("sub_code", "expected", "errcode"),
    [
        ("60011", PermissionDeniedError, 60011),
        (60020, IPNotAllowedError, 60020),
        ("99999", AccessTokenInvalidError, 88),
        (None, AccessTokenInvalidError, 88),
    ],
)
def test_errcode_88_is_refined_by_sub_code(
    sub_code: object, expected: type, errcode: int
) -> None:
    """Use a known sub_code's row for errcode 88, else the bad-token row."""
    error = oapi_error(88, {"errcode": 88, "sub_code": sub_code, "errmsg": "鉴权异常"})
    assert type(error) is expected
    assert isinstance(error, DingTalkApiError)
    assert error.errcode == errcode


def test_retryable_classes() -> None:
    """Throttling, quota, busy and a bad token are retryable; input is not."""
    assert QuotaExceededError(90020, "").retryable
    assert RateLimitedError("send.too.fast", "").retryable
    assert BusyError(-1, "").retryable
    assert AccessTokenInvalidError("InvalidAuthentication", "").retryable
    assert not InputRejectedError(Problem.MEDIA_TYPE, 40004, "").retryable
    assert not RecipientNotFoundError(60121, "").retryable
    assert issubclass(UserFlowControlledError, RateLimitedError)


def test_v1_error_keeps_code_message_request_id_status() -> None:
    """Keep DingTalk's code, message, requestid and HTTP status."""
    error = v1_error(
        400,
        {
            "code": "InvalidAuthentication",
            "message": "不合法的access_token",
            "requestid": "R1",
        },
    )
    assert type(error) is AccessTokenInvalidError
    assert error.errcode == "InvalidAuthentication"
    assert error.errmsg == "不合法的access_token"
    assert error.request_id == "R1"
    assert error.status == 400
    assert str(error) == "DingTalk error InvalidAuthentication: 不合法的access_token"


def test_v1_error_scrubs_the_message() -> None:
    """Scrub the token from a message that echoes it."""
    error = v1_error(400, {"code": "X", "message": f"bad {TOKEN}"}, secrets=(TOKEN,))
    assert TOKEN not in str(error)
    assert error.errmsg == "bad ***"
    assert error.request_id is None


def test_decode_v1_success() -> None:
    """Return a 2xx answer's JSON object."""
    assert decode_v1_answer(200, b'{"processQueryKey":"k"}', where=WHERE) == {
        "processQueryKey": "k"
    }


@pytest.mark.parametrize("raw", [b"<html>", b"[1]", b"", b'"ok"'])
def test_decode_v1_success_without_object(raw: bytes) -> None:
    """Raise DingTalkBadResponseError for a 2xx body that is not a JSON object."""
    with pytest.raises(DingTalkBadResponseError) as excinfo:
        decode_v1_answer(200, raw, where=WHERE)
    assert excinfo.value.maybe_delivered
    assert excinfo.value.retryable


def test_decode_v1_error(caplog: pytest.LogCaptureFixture) -> None:
    """Raise the decoded error for a non-2xx answer with a code; log the code only."""
    caplog.set_level(logging.DEBUG)
    raw = _raw({"code": "InvalidAuthentication", "message": TOKEN, "requestid": "x"})
    with pytest.raises(AccessTokenInvalidError) as excinfo:
        decode_v1_answer(400, raw, secrets=(TOKEN,), where=WHERE)
    assert excinfo.value.status == 400
    assert "InvalidAuthentication" in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN not in str(excinfo.value)


@pytest.mark.parametrize(
    ("status", "raw", "expected"),
    [
        (502, b"<html>Bad Gateway</html>", DingTalkHTTPError),
        (404, b"", DingTalkHTTPError),
        (429, b"too many", HTTPThrottledError),
        (400, b'{"message": "no code"}', DingTalkHTTPError),
        (400, b'{"code": ""}', DingTalkHTTPError),
        (400, b'{"code": 5}', DingTalkHTTPError),
        (403, b"[]", DingTalkHTTPError),
    ],
)
def test_decode_v1_error_without_code(
    status: int, raw: bytes, expected: type[DingTalkHTTPError]
) -> None:
    """Raise http_error(status) when a non-2xx body is not DingTalk's error JSON."""
    with pytest.raises(expected) as excinfo:
        decode_v1_answer(status, raw, where=WHERE)
    assert excinfo.value.status == status


def test_decode_oapi_success() -> None:
    """Return an errcode 0 answer (an int or a digit string)."""
    data = decode_oapi_answer(200, b'{"errcode":"0","media_id":"@m"}', where=WHERE)
    assert data["media_id"] == "@m"


def test_decode_oapi_error_scrubbed() -> None:
    """Raise the decoded, scrubbed error for a non-zero errcode."""
    raw = _raw({"errcode": 40014, "errmsg": f"不合法的access_token {TOKEN}"})
    with pytest.raises(AccessTokenInvalidError) as excinfo:
        decode_oapi_answer(200, raw, secrets=(TOKEN,), where=WHERE)
    assert TOKEN not in str(excinfo.value)
    assert excinfo.value.errcode == 40014


@pytest.mark.parametrize(
    ("status", "raw", "expected"),
    [
        (500, b'{"errcode":0}', DingTalkHTTPError),
        (302, b"", HTTPThrottledError),
        (200, b"<html>", DingTalkBadResponseError),
        (200, b'["x"]', DingTalkBadResponseError),
        (200, b'{"errmsg":"no code"}', DingTalkBadResponseError),
        (200, b'{"errcode":true}', DingTalkBadResponseError),
    ],
)
def test_decode_oapi_not_an_answer(status: int, raw: bytes, expected: type) -> None:
    """Raise a transport error for a non-2xx status or a body without errcode."""
    with pytest.raises(expected):
        decode_oapi_answer(status, raw, where=WHERE)


def test_decode_webhook_answer_uses_the_webhook_table() -> None:
    """Decode a sessionWebhook's errcode with the webhook's own table."""
    assert decode_webhook_answer(200, b'{"errcode":0,"errmsg":"ok"}', where=WHERE)
    raw = _raw({"errcode": 300005, "errmsg": f"token is not exist {TOKEN}"})
    with pytest.raises(InvalidTokenError) as excinfo:
        decode_webhook_answer(200, raw, secrets=(TOKEN,), where=WHERE)
    assert excinfo.value.errmsg == "token is not exist ***"
    with pytest.raises(RateLimitedError):
        decode_webhook_answer(200, _raw({"errcode": 410100}), where=WHERE)
