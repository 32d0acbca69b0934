"""Decode DingTalk errcodes into the exception hierarchy."""

from __future__ import annotations

import pytest

from custom_components.dingtalk.api import (
    ERRCODE_CLASSES,
    SECURITY_MESSAGES,
    BodyTooLargeError,
    BusyError,
    ContentRejectedError,
    DingTalkApiError,
    DingTalkBadResponseError,
    DingTalkConnectionError,
    DingTalkError,
    DingTalkHTTPError,
    DingTalkTimeoutError,
    DingTalkTransportError,
    HTTPThrottledError,
    InvalidMessageError,
    InvalidTokenError,
    InvalidWebhookError,
    IPNotAllowedError,
    KeywordError,
    MessageFormatError,
    MessageTooLongError,
    Problem,
    RateLimitedError,
    RobotUnavailableError,
    SecurityCheckError,
    SignatureError,
    TimestampError,
    UnknownApiError,
    WebhookProblem,
    error_from_response,
    http_error,
)
from custom_components.dingtalk.api.errors import parse_errcode

# The table from docs/architecture.md §1, written out independently of ERRCODE_CLASSES.
EXPECTED: dict[int, type[DingTalkApiError]] = {
    -1: BusyError,
    300001: InvalidTokenError,
    300005: InvalidTokenError,
    400101: InvalidTokenError,
    400106: RobotUnavailableError,
    400102: RobotUnavailableError,
    400013: RobotUnavailableError,
    130101: RateLimitedError,
    410100: RateLimitedError,
    660026: RateLimitedError,
    90030: RateLimitedError,
    430101: ContentRejectedError,
    430102: ContentRejectedError,
    430103: ContentRejectedError,
    430104: ContentRejectedError,
    460101: MessageTooLongError,
    101002: MessageTooLongError,
    40035: MessageFormatError,
    43004: MessageFormatError,
    400105: MessageFormatError,
    400402: MessageFormatError,
    400403: MessageFormatError,
    310000: SecurityCheckError,
}

RETRYABLE: frozenset[type[DingTalkApiError]] = frozenset(
    {BusyError, RateLimitedError, TimestampError}
)


def test_table_is_exactly_the_contract() -> None:
    """Keep ERRCODE_CLASSES equal to the architecture's table."""
    assert dict(ERRCODE_CLASSES) == EXPECTED


@pytest.mark.parametrize("as_string", [False, True], ids=["int", "str"])
@pytest.mark.parametrize(("errcode", "cls"), sorted(EXPECTED.items()))
def test_errcode_to_class(
    errcode: int, cls: type[DingTalkApiError], as_string: bool
) -> None:
    """Map every errcode, given as int or string, to its class with its data."""
    error = error_from_response(str(errcode) if as_string else errcode, "why")
    assert type(error) is cls
    assert error.errcode == errcode
    assert error.errmsg == "why"
    assert error.retryable is (cls in RETRYABLE)
    assert str(error) == f"DingTalk error {errcode}: why"
    assert isinstance(error, DingTalkApiError)


SECURITY_TEXTS: list[tuple[str, type[SecurityCheckError]]] = [
    (
        "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]",
        SignatureError,
    ),
    ("Sign Not Match", SignatureError),
    (
        (
            "description:机器人发送签名不匹配;"
            "solution:请确认签名和生成签名的时间戳必须都放在调用的网址中，且签名正确;"
        ),
        SignatureError,
    ),
    ("invalid timestamp", TimestampError),
    ("timestamp is out of range", TimestampError),
    (
        "description:机器人发送签名过期;solution:请保证签名生成时间和发送时间戳不超过1小时;",
        TimestampError,
    ),
    ("keywords not in content, more: [https://ding-doc.dingtalk.com]", KeywordError),
    (
        "description:关键词不匹配;solution:请联系群管理员查看此机器人的关键词，并在发送的信息中包含此关键词;",
        KeywordError,
    ),
    ("ip 203.0.113.7 not in whitelist", IPNotAllowedError),
    (
        (
            "description:ip 不在白名单中;"
            "solution:请联系对应群的管理员，设置机器人安全ip地址段"
        ),
        IPNotAllowedError,
    ),
    ("something new", SecurityCheckError),
    ("", SecurityCheckError),
]


@pytest.mark.parametrize("as_string", [False, True], ids=["int", "str"])
@pytest.mark.parametrize(("errmsg", "cls"), SECURITY_TEXTS)
def test_security_wording(
    errmsg: str, cls: type[SecurityCheckError], as_string: bool
) -> None:
    """Tell the four kinds of 310000 apart in English and Chinese."""
    error = error_from_response("310000" if as_string else 310000, errmsg)
    assert type(error) is cls
    assert isinstance(error, SecurityCheckError)
    assert error.errcode == 310000
    assert error.retryable is (cls is TimestampError)


def test_wording_table_covers_each_kind_once() -> None:
    """List each 310000 kind exactly once, sign before timestamp."""
    classes = [cls for _, cls in SECURITY_MESSAGES]
    assert classes == [SignatureError, TimestampError, KeywordError, IPNotAllowedError]


def test_wording_needs_errcode_310000() -> None:
    """Match wording only for 310000."""
    assert type(error_from_response(-1, "sign not match")) is BusyError


@pytest.mark.parametrize("errcode", [1, 999, "12345", " 7 "])
def test_unknown_errcode(errcode: int | str) -> None:
    """Keep an unknown errcode and errmsg in UnknownApiError."""
    error = error_from_response(errcode, "new")
    assert type(error) is UnknownApiError
    assert error.errcode == int(errcode)
    assert error.errmsg == "new"
    assert not error.retryable


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        ("0", 0),
        (" -1 ", -1),
        (310000, 310000),
        (True, None),
        (None, None),
        (1.0, None),
        ("ok", None),
        ([0], None),
    ],
)
def test_parse_errcode(value: object, expected: int | None) -> None:
    """Accept ints and decimal strings only."""
    assert parse_errcode(value) == expected


def test_error_from_response_rejects_non_integer() -> None:
    """Raise ValueError for an errcode that is not an integer."""
    with pytest.raises(ValueError, match="not an integer"):
        error_from_response("ok", "x")


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (302, True),
        (400, False),
        (403, False),
        (404, False),
        (408, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
    ],
)
def test_http_error_retryable(status: int, retryable: bool) -> None:
    """Retry 5xx, 429, 408 and 302 (throttling); not other 4xx."""
    error = http_error(status)
    assert isinstance(error, HTTPThrottledError) is (status in {302, 429})
    assert error.status == status
    assert error.retryable is retryable
    assert str(error) == f"DingTalk answered HTTP {status}"


def test_hierarchy() -> None:
    """Root everything at DingTalkError with the documented branches and flags."""
    assert issubclass(DingTalkHTTPError, DingTalkTransportError)
    transport: tuple[type[DingTalkTransportError], ...] = (
        DingTalkConnectionError,
        DingTalkTimeoutError,
        DingTalkBadResponseError,
    )
    for transport_cls in transport:
        assert issubclass(transport_cls, DingTalkTransportError)
        assert transport_cls("x").retryable
    inputs: tuple[type[DingTalkError], ...] = (
        InvalidWebhookError,
        InvalidMessageError,
        BodyTooLargeError,
    )
    for input_cls in inputs:
        assert issubclass(input_cls, ValueError)
    assert not InvalidWebhookError(WebhookProblem.EMPTY, "x").retryable
    assert not InvalidMessageError(Problem.REQUIRED, field="x").retryable
    assert issubclass(BodyTooLargeError, InvalidMessageError)
    api_classes = {*EXPECTED.values(), *(c for _, c in SECURITY_MESSAGES)}
    for api_cls in (*api_classes, UnknownApiError):
        assert issubclass(api_cls, DingTalkApiError)
        assert issubclass(api_cls, DingTalkError)
    assert not issubclass(DingTalkApiError, DingTalkTransportError)
