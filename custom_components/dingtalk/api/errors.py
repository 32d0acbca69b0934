"""Define the client's exceptions and decode DingTalk's errcodes into them."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

# Every exception carries ``retryable``: whether sending the same payload again
# (freshly signed, after a pause) can succeed. No exception text ever contains the
# access token, the secret or a signed URL. ERRCODE_CLASSES and SECURITY_MESSAGES are
# the only places that know the webhook's codes (the app APIs' codes are in
# app_errors.py): each UNCONFIRMED point in the reference is a one-line change there.
#
# Input errors carry a stable code (``problem``) and language-neutral parameters, so
# a caller can show its own translated text; their English message is for logs.

SECURITY_ERRCODE: Final = 310000
"""DingTalk's errcode for every failed security check (sign, timestamp, keyword, IP)."""


class DingTalkError(Exception):
    """Base class of every error raised by the DingTalk client."""

    retryable: bool = False


class WebhookProblem(StrEnum):
    """Why a webhook was refused (codes, not secrets: hence the S105 notes)."""

    EMPTY = "empty"
    NOT_A_URL = "not_a_url"
    SCHEME = "scheme"
    NO_HOST = "no_host"
    USER_INFO = "user_info"
    NO_TOKEN = "no_token"  # noqa: S105
    TWO_TOKENS = "two_tokens"
    BAD_TOKEN = "bad_token"  # noqa: S105
    LOOKS_LIKE_SECRET = "looks_like_secret"  # noqa: S105
    INSECURE = "insecure"


class InvalidWebhookError(DingTalkError, ValueError):
    """Reject a webhook that is not a DingTalk robot URL or access token."""

    def __init__(self, problem: WebhookProblem, message: str) -> None:
        """Store the problem code; the message is English, for logs."""
        super().__init__(message)
        self.problem = problem


class Problem(StrEnum):
    """What is wrong with a message, as a stable code (never shown in English)."""

    REQUIRED = "required"  # field: empty or missing
    NOT_TEXT = "not_text"  # field: not valid Unicode text
    INVALID_VALUE = "invalid_value"  # field: wrong type (a programming error)
    INVALID_URL = "invalid_url"  # field: not an http(s) or dingtalk:// URL
    INVALID_MOBILE = "invalid_mobile"  # value
    INVALID_USER_ID = "invalid_user_id"  # value
    BUTTONS_CONFLICT = "buttons_conflict"  # one button and a list of buttons
    BUTTON_REQUIRED = "button_required"  # an action card without buttons
    LINK_REQUIRED = "link_required"  # a feed card without links
    CANNOT_MENTION = "cannot_mention"  # msgtype: this type mentions nobody
    CARD_MENTIONS = "card_mentions"  # an action card mentions user ids only
    TOO_MANY_MENTIONS = "too_many_mentions"  # limit
    TOO_LONG = "too_long"  # limit: over the maximum message size (bytes)
    CANNOT_SPLIT = "cannot_split"  # msgtype, limit: too long and cannot be split
    NO_ROOM = "no_room"  # limit: title, mentions, keyword leave too little per part
    TOO_MANY_BUTTONS = "too_many_buttons"  # limit
    NOT_SUPPORTED = "not_supported"  # msgtype: the recipient cannot show this type
    TOO_MANY_RECIPIENTS = "too_many_recipients"  # limit
    MEDIA_EMPTY = "media_empty"
    MEDIA_TOO_LARGE = "media_too_large"  # limit (bytes)
    MEDIA_TYPE = "media_type"  # value, allowed


class InvalidMessageError(DingTalkError, ValueError):
    """Reject a message that DingTalk would not accept or that cannot be prepared."""

    def __init__(
        self, problem: Problem, *, field: str | None = None, **params: str | int
    ) -> None:
        """Store the problem, the field it concerns and its parameters."""
        details = ", ".join(f"{key}={value}" for key, value in params.items())
        text = problem.value if field is None else f"{field}: {problem.value}"
        super().__init__(f"{text} ({details})" if details else text)
        self.problem = problem
        self.field = field
        self.params: Mapping[str, str | int] = params


class BodyTooLargeError(InvalidMessageError):
    """Reject a message whose JSON body cannot be brought under the 20 000-byte cap."""


class DingTalkTransportError(DingTalkError):
    """Report that no usable DingTalk answer arrived."""

    retryable = True
    maybe_delivered: bool = True
    """Whether the request may have reached DingTalk (the answer was lost)."""


class DingTalkConnectionError(DingTalkTransportError):
    """Report a connection failure (the aiohttp error text is scrubbed of secrets)."""

    def __init__(self, message: str, *, maybe_delivered: bool = True) -> None:
        """Store whether the request may have been sent before it failed."""
        super().__init__(message)
        self.maybe_delivered = maybe_delivered


class DingTalkTimeoutError(DingTalkTransportError):
    """Report that DingTalk did not answer within the request timeout."""


FIRST_SERVER_ERROR_STATUS: Final = 500
"""Statuses from here up (5xx) are server faults: worth retrying."""

RETRYABLE_HTTP_STATUSES: Final = frozenset({408})
"""Statuses below 500, other than throttling, worth retrying."""

THROTTLE_HTTP_STATUSES: Final = frozenset({302, 429})
"""Statuses that mean throttling (a 302 after throttling is UNCONFIRMED)."""


class DingTalkHTTPError(DingTalkTransportError):
    """Report an HTTP status other than 2xx (and not a decoded API error)."""

    def __init__(self, status: int) -> None:
        """Store the status and decide whether a retry can help."""
        super().__init__(f"DingTalk answered HTTP {status}")
        self.status = status
        self.retryable = (
            status >= FIRST_SERVER_ERROR_STATUS
            or status in RETRYABLE_HTTP_STATUSES
            or status in THROTTLE_HTTP_STATUSES
        )


class HTTPThrottledError(DingTalkHTTPError):
    """Report an HTTP status that means throttling (302, 429)."""


def http_error(status: int) -> DingTalkHTTPError:
    """Return the exception for a non-2xx status without a decodable body."""
    if status in THROTTLE_HTTP_STATUSES:
        return HTTPThrottledError(status)
    return DingTalkHTTPError(status)


class DingTalkBadResponseError(DingTalkTransportError):
    """Report a response body that is not DingTalk's JSON answer."""


class DingTalkApiError(DingTalkError):
    """Report an error code from DingTalk (an int errcode or a v1.0 string code)."""

    def __init__(
        self,
        errcode: int | str,
        errmsg: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        """Store DingTalk's code and message, and the HTTP status of a v1.0 API."""
        super().__init__(f"DingTalk error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.status = status
        self.request_id = request_id


class InvalidTokenError(DingTalkApiError):
    """Report that DingTalk does not know the webhook's access token."""


class RobotUnavailableError(DingTalkApiError):
    """Report a robot that is disabled, removed, unpublished, or has no group."""


class MessageFormatError(DingTalkApiError):
    """Report a body DingTalk could not parse (missing field, bad type or header)."""


class ContentRejectedError(DingTalkApiError):
    """Report content DingTalk refused (unsafe link, inappropriate text or image)."""


class MessageTooLongError(DingTalkApiError):
    """Report a body over DingTalk's 20 000-byte cap."""


class RateLimitedError(DingTalkApiError):
    """Report throttling (20 messages a minute, then a 10-minute block) or quota."""

    retryable = True


class BusyError(DingTalkApiError):
    """Report DingTalk's global "system busy" errcode -1 or a v1.0 server error."""

    retryable = True


class SecurityCheckError(DingTalkApiError):
    """Report a failed security check (errcode 310000) whose wording is unknown."""


class SignatureError(SecurityCheckError):
    """Report a wrong secret, or a sign/timestamp missing from the URL."""


class TimestampError(SecurityCheckError):
    """Report a timestamp outside DingTalk's one-hour window: re-sign and retry once."""

    retryable = True


class KeywordError(SecurityCheckError):
    """Report a message that contains none of the robot's keywords."""


class IPNotAllowedError(SecurityCheckError):
    """Report a caller IP outside the robot's or app's IP allowlist."""


class AppCredentialsError(DingTalkApiError):
    """Report an app's Client ID or Client Secret that DingTalk refuses."""


class AccessTokenInvalidError(DingTalkApiError):
    """Report an access token DingTalk refused even after one fresh token."""

    retryable = True


class PermissionDeniedError(DingTalkApiError):
    """Report an app that lacks a permission (e.g. qyapi_robot_sendmsg)."""


class RecipientNotFoundError(DingTalkApiError):
    """Report a person or group the robot cannot reach (unknown, left, removed)."""


class UserFlowControlledError(RateLimitedError):
    """Report DingTalk's per-person throttling of app messages: try again later."""


class QuotaExceededError(RateLimitedError):
    """Report a used-up call quota (monthly or per API)."""


class UnknownApiError(DingTalkApiError):
    """Report an error code that is not in the tables."""


ERRCODE_CLASSES: Final[Mapping[int, type[DingTalkApiError]]] = {
    -1: BusyError,
    40035: MessageFormatError,
    43004: MessageFormatError,
    90030: RateLimitedError,  # UNCONFIRMED: call-volume quota, Q&A site only
    101002: MessageTooLongError,
    130101: RateLimitedError,
    300001: InvalidTokenError,
    300005: InvalidTokenError,
    SECURITY_ERRCODE: SecurityCheckError,
    400013: RobotUnavailableError,
    400101: InvalidTokenError,
    400102: RobotUnavailableError,
    400105: MessageFormatError,
    400106: RobotUnavailableError,
    400402: MessageFormatError,
    400403: MessageFormatError,
    410100: RateLimitedError,
    430101: ContentRejectedError,
    430102: ContentRejectedError,
    430103: ContentRejectedError,
    430104: ContentRejectedError,
    460101: MessageTooLongError,
    660026: RateLimitedError,  # UNCONFIRMED: single 2026 probe
}
"""Exception class for each known webhook errcode."""

type _Wording = tuple[tuple[str, ...], type[SecurityCheckError]]

SECURITY_MESSAGES: Final[tuple[_Wording, ...]] = (
    # Sign first: the newer "签名不匹配" text asks for the timestamp in the URL.
    (("sign not match", "签名不匹配"), SignatureError),
    (("invalid timestamp", "签名过期", "timestamp"), TimestampError),
    (("keywords not in content", "关键词不匹配"), KeywordError),
    (("not in whitelist", "不在白名单"), IPNotAllowedError),
)
"""Errcode 310000 wordings (lower-case, English and Chinese); first match wins."""


def parse_errcode(value: object) -> int | None:
    """Return an errcode given as an int or a decimal string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def error_from_response(errcode: int | str, errmsg: str) -> DingTalkApiError:
    """Build the exception for a non-zero webhook errcode (an int or a digit string)."""
    code = parse_errcode(errcode)
    if code is None:
        raise ValueError("errcode is not an integer")
    cls = ERRCODE_CLASSES.get(code, UnknownApiError)
    if code == SECURITY_ERRCODE:
        wording = errmsg.casefold()
        for substrings, security_cls in SECURITY_MESSAGES:
            if any(substring in wording for substring in substrings):
                cls = security_cls
                break
    return cls(code, errmsg)
