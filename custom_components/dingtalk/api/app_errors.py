"""Decode the app APIs' error answers (v1.0 ``code`` and oapi ``errcode``)."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Final

from .errors import (
    FIRST_SERVER_ERROR_STATUS,
    AccessTokenInvalidError,
    AppCredentialsError,
    BusyError,
    ContentRejectedError,
    DingTalkApiError,
    DingTalkBadResponseError,
    DingTalkError,
    InvalidMessageError,
    IPNotAllowedError,
    MessageFormatError,
    PermissionDeniedError,
    Problem,
    QuotaExceededError,
    RateLimitedError,
    RecipientNotFoundError,
    RobotUnavailableError,
    UnknownApiError,
    error_from_response,
    http_error,
    parse_errcode,
)
from .transport import scrub

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

# Two dialects (dingtalk-api.md §6.5, §11.2):
# * v1.0 (api.dingtalk.com): a non-2xx status and {"code","message","requestid"}.
#   V1_CODE_CLASSES maps the code (case-insensitively; a row ending in "*" is a
#   prefix, the longest matching prefix wins, an exact row beats every prefix);
#   an unknown code falls back on V1_STATUS_CLASSES, 5xx on BusyError, else
#   UnknownApiError. A non-2xx answer without a string "code" is not a decoded
#   DingTalk answer (a proxy or gateway page): http_error(status), like the webhook.
# * oapi (oapi.dingtalk.com: media upload, user lookup, sessionWebhook): HTTP 200 and
#   {"errcode","errmsg"}, 0 = ok. OAPI_ERRCODE_CLASSES maps the errcode to a class,
#   or to a Problem for input DingTalk refused (InputRejectedError). errcode 88 is
#   "auth exception, see sub_code": a known sub_code's row wins.
# Every row without a source DingTalk documents is marked UNCONFIRMED: each is a
# one-line change. Nothing raised contains the access token (messages are scrubbed).

_LOGGER: Final = logging.getLogger(__name__)

V1_CODE_CLASSES: Final[tuple[tuple[str, type[DingTalkApiError]], ...]] = (
    ("InvalidAuthentication", AccessTokenInvalidError),  # HTTP 400 (I14)
    ("AuthenticationFailed.*", AccessTokenInvalidError),  # UNCONFIRMED: no header
    ("invalidClientIdOrSecret", AppCredentialsError),  # UNCONFIRMED: third-party mock
    ("invalid.client", AppCredentialsError),  # /oauth2/{corpId}/token (S7)
    ("unauthorized.client", AppCredentialsError),  # same (S7)
    ("authFailed", AppCredentialsError),  # HTTP 401 connections/open (I13)
    ("invalidParameter.robotCode.*", RobotUnavailableError),  # S10
    ("bot.stopped", RobotUnavailableError),  # apifox copy of the query API
    ("robot.notFound", RobotUnavailableError),  # UNCONFIRMED: §11.2 "robot not found"
    ("invalidParameter.userIds.*", RecipientNotFoundError),  # S10
    ("invalid.openConversationId", RecipientNotFoundError),  # apifox copy
    ("invalidParameter.openConversationId.*", RecipientNotFoundError),  # UNCONFIRMED
    ("group.disbanded", RecipientNotFoundError),  # UNCONFIRMED: third-party code
    ("invalidParameter.msgKey.*", MessageFormatError),  # S10
    ("invalidParameter.msgParam.*", MessageFormatError),  # S10
    ("invalidParameter.param.*", MessageFormatError),  # S10
    ("miss.param.*", MessageFormatError),  # §11.2 miss.param.markdownTotitle
    ("Missingbody", MessageFormatError),  # UNCONFIRMED: third-party mock
    ("Invalidbody", MessageFormatError),  # UNCONFIRMED: third-party mock
    ("param.contentUnsafe", ContentRejectedError),  # UNCONFIRMED: card review
    ("Forbidden.AccessDenied.*", PermissionDeniedError),  # UNCONFIRMED: family
    ("Forbidden.AccessDenied.AccessTokenPermissionDenied", PermissionDeniedError),
    ("Forbidden.AccessDenied.IpNotInWhiteList", IPNotAllowedError),  # UNCONFIRMED
    ("Forbidden.AccessDenied.QpsLimitForApi", RateLimitedError),  # HTTP 403 (I17)
    ("Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", RateLimitedError),  # same
    ("send.too.fast", RateLimitedError),  # UNCONFIRMED: L5
    ("send.byToken.tooFast", RateLimitedError),  # UNCONFIRMED: L5
    ("too.many.group", RateLimitedError),  # UNCONFIRMED: L5
    ("too.many.people", RateLimitedError),  # UNCONFIRMED: L5
    ("server.error", BusyError),  # HTTP 500 (S7)
    ("system.err", BusyError),  # UNCONFIRMED: third-party code
)
"""Exception class for each v1.0 error code (``*`` = prefix)."""

V1_STATUS_CLASSES: Final[Mapping[int, type[DingTalkApiError]]] = {
    401: AccessTokenInvalidError,  # UNCONFIRMED: DingTalk answers 400 for tokens
    403: PermissionDeniedError,  # UNCONFIRMED: 403 is also QPS and IP allowlists
    429: RateLimitedError,
}
"""Exception class for an unknown v1.0 code, by HTTP status (5xx: BusyError)."""

_EXACT: Final = {
    code.casefold(): cls for code, cls in V1_CODE_CLASSES if not code.endswith("*")
}
_PREFIXES: Final = sorted(
    ((code[:-1].casefold(), cls) for code, cls in V1_CODE_CLASSES if code[-1] == "*"),
    key=lambda row: len(row[0]),
    reverse=True,
)


def v1_error_class(code: str, status: int) -> type[DingTalkApiError]:
    """Return the exception class for a v1.0 error code and its HTTP status."""
    key = code.casefold()
    if key in _EXACT:
        return _EXACT[key]
    for prefix, cls in _PREFIXES:
        if key.startswith(prefix):
            return cls
    if status >= FIRST_SERVER_ERROR_STATUS:
        return BusyError
    return V1_STATUS_CLASSES.get(status, UnknownApiError)


class InputRejectedError(InvalidMessageError):
    """Report an input (a mobile, a media file) that DingTalk refused, with its code."""

    def __init__(
        self,
        problem: Problem,
        errcode: int,
        errmsg: str,
        *,
        request_id: str | None = None,
    ) -> None:
        """Store the problem and DingTalk's errcode, message and request id."""
        super().__init__(problem, errcode=errcode)
        self.errcode = errcode
        self.errmsg = errmsg
        self.request_id = request_id


OAPI_ERRCODE_CLASSES: Final[Mapping[int, type[DingTalkApiError] | Problem]] = {
    -1: BusyError,  # global "系统繁忙" (P6)
    88: AccessTokenInvalidError,  # UNCONFIRMED: "鉴权异常", refined by sub_code
    40001: AccessTokenInvalidError,  # UNCONFIRMED: global table
    40014: AccessTokenInvalidError,  # 不合法的access_token
    41001: AccessTokenInvalidError,  # UNCONFIRMED: 缺少access_token参数
    42001: AccessTokenInvalidError,  # access_token 超时
    40004: Problem.MEDIA_TYPE,  # UNCONFIRMED: global table, 不合法的媒体文件类型
    40005: Problem.MEDIA_TYPE,  # UNCONFIRMED: 不合法的文件类型
    40006: Problem.MEDIA_TOO_LARGE,  # UNCONFIRMED: 不合法的文件大小
    40009: Problem.MEDIA_TOO_LARGE,  # UNCONFIRMED: image size
    40010: Problem.MEDIA_TOO_LARGE,  # UNCONFIRMED: voice size
    40011: Problem.MEDIA_TOO_LARGE,  # UNCONFIRMED: video size
    41005: Problem.MEDIA_EMPTY,  # UNCONFIRMED: 缺少多媒体文件数据
    40035: MessageFormatError,  # 缺少参数
    43008: MessageFormatError,  # UNCONFIRMED: 参数需要multipart类型 (Q&A)
    40104: Problem.INVALID_MOBILE,  # getbymobile (§11.2)
    400002: MessageFormatError,  # UNCONFIRMED: getbymobile "invalid parameter"
    60011: PermissionDeniedError,  # 没有调用该接口的权限
    60020: IPNotAllowedError,  # UNCONFIRMED: 访问ip不在白名单之中
    60121: RecipientNotFoundError,  # getbymobile: user not found (§11.2)
    90002: QuotaExceededError,  # per-API limit (§11.2)
    90018: RateLimitedError,  # UNCONFIRMED: per-second QPS (DingTalk's QPS page)
    90020: QuotaExceededError,  # monthly quota (§11.2)
}
"""Exception class (or input Problem) for each oapi errcode."""


def _text(value: object) -> str | None:
    """Return ``value`` if it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def _load_json(raw: bytes) -> object:
    """Return the decoded JSON body, or None if it is not JSON."""
    try:
        return json.loads(raw)
    except ValueError:
        return None


def v1_error(
    status: int, data: Mapping[str, Any], *, secrets: tuple[str, ...] = ()
) -> DingTalkApiError:
    """Build the exception for a v1.0 error answer that has a string ``code``."""
    code = str(data["code"])
    message = scrub(str(data.get("message", "")), secrets)
    cls = v1_error_class(code, status)
    return cls(code, message, status=status, request_id=_text(data.get("requestid")))


def oapi_error(
    errcode: int, data: Mapping[str, Any], *, secrets: tuple[str, ...] = ()
) -> DingTalkError:
    """Build the exception for a non-zero oapi errcode."""
    errmsg = scrub(str(data.get("errmsg", "")), secrets)
    request_id = _text(data.get("request_id"))
    sub_code = parse_errcode(data.get("sub_code"))
    if errcode == 88 and sub_code is not None and sub_code in OAPI_ERRCODE_CLASSES:  # noqa: PLR2004 - see table
        errcode = sub_code
    row = OAPI_ERRCODE_CLASSES.get(errcode, UnknownApiError)
    if isinstance(row, Problem):
        return InputRejectedError(row, errcode, errmsg, request_id=request_id)
    return row(errcode, errmsg, request_id=request_id)


def _bad_json(where: str, status: int, raw: bytes) -> DingTalkBadResponseError:
    """Return the error for a body that is not the JSON object DingTalk answers."""
    _LOGGER.debug("%s answered HTTP %d without a JSON object", where, status)
    return DingTalkBadResponseError(
        f"DingTalk answered HTTP {status} without a JSON object ({len(raw)} bytes)"
    )


def decode_v1_answer(
    status: int, raw: bytes, *, secrets: tuple[str, ...] = (), where: str
) -> dict[str, Any]:
    """Return a 2xx v1.0 answer's JSON object, or raise the decoded error."""
    data = _load_json(raw)
    if not 200 <= status < 300:  # noqa: PLR2004 - the 2xx range
        if isinstance(data, dict) and _text(data.get("code")):
            error = v1_error(status, data, secrets=secrets)
            _LOGGER.debug("%s answered HTTP %d %s", where, status, error.errcode)
            raise error
        _LOGGER.debug("%s answered HTTP %d", where, status)
        raise http_error(status)
    if not isinstance(data, dict):
        raise _bad_json(where, status, raw)
    return data


def _decode_errcode_answer(
    status: int,
    raw: bytes,
    build: Callable[[int, dict[str, Any]], DingTalkError],
    where: str,
) -> dict[str, Any]:
    """Return an errcode-0 answer's JSON object, or raise what ``build`` returns."""
    if not 200 <= status < 300:  # noqa: PLR2004 - the 2xx range
        _LOGGER.debug("%s answered HTTP %d", where, status)
        raise http_error(status)
    data = _load_json(raw)
    if not isinstance(data, dict):
        raise _bad_json(where, status, raw)
    errcode = parse_errcode(data.get("errcode"))
    if errcode is None:
        raise DingTalkBadResponseError(
            f"DingTalk answered HTTP {status} with JSON that has no integer errcode"
        )
    if errcode != 0:
        _LOGGER.debug("%s answered errcode %d", where, errcode)
        raise build(errcode, data)
    return data


def decode_oapi_answer(
    status: int, raw: bytes, *, secrets: tuple[str, ...] = (), where: str
) -> dict[str, Any]:
    """Return an oapi answer with errcode 0, or raise the decoded error."""
    return _decode_errcode_answer(
        status,
        raw,
        lambda errcode, data: oapi_error(errcode, data, secrets=secrets),
        where,
    )


def decode_webhook_answer(
    status: int, raw: bytes, *, secrets: tuple[str, ...] = (), where: str
) -> dict[str, Any]:
    """Return a sessionWebhook answer with errcode 0, or raise the webhook's error."""
    return _decode_errcode_answer(
        status,
        raw,
        lambda errcode, data: error_from_response(
            errcode, scrub(str(data.get("errmsg", "")), secrets)
        ),
        where,
    )
