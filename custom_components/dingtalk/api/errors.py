"""Define the client's exceptions and decode DingTalk's errcodes into them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

# Every exception carries ``retryable``: whether sending the same payload again
# (freshly signed, after a pause) can succeed. No exception text ever contains the
# access token, the secret or a signed URL. ERRCODE_CLASSES and SECURITY_MESSAGES are
# the only places that know DingTalk's codes: each UNCONFIRMED point in the reference
# is a one-line change there.

SECURITY_ERRCODE: Final = 310000
"""DingTalk's errcode for every failed security check (sign, timestamp, keyword, IP)."""


class DingTalkError(Exception):
    """Base class of every error raised by the DingTalk robot client."""

    retryable: bool = False


class InvalidWebhookError(DingTalkError, ValueError):
    """Reject a webhook that is not a DingTalk robot URL or access token."""


class InvalidMessageError(DingTalkError, ValueError):
    """Reject a message that DingTalk would not accept or that cannot be prepared."""


class BodyTooLargeError(InvalidMessageError):
    """Reject a message whose JSON body cannot be brought under the 20 000-byte cap."""


class DingTalkTransportError(DingTalkError):
    """Report that no usable DingTalk answer arrived."""

    retryable = True


class DingTalkConnectionError(DingTalkTransportError):
    """Report a connection failure (the aiohttp error text is scrubbed of secrets)."""


class DingTalkTimeoutError(DingTalkTransportError):
    """Report that DingTalk did not answer within the request timeout."""


FIRST_SERVER_ERROR_STATUS: Final = 500
"""Statuses from here up (5xx) are server faults: worth retrying."""

RETRYABLE_HTTP_STATUSES: Final = frozenset({302, 408, 429})
"""Statuses below 500 worth retrying (302 after throttling is UNCONFIRMED)."""


class DingTalkHTTPError(DingTalkTransportError):
    """Report an HTTP status other than 2xx from the webhook endpoint."""

    def __init__(self, status: int) -> None:
        """Store the status and decide whether a retry can help."""
        super().__init__(f"DingTalk answered HTTP {status}")
        self.status = status
        self.retryable = (
            status >= FIRST_SERVER_ERROR_STATUS or status in RETRYABLE_HTTP_STATUSES
        )


class DingTalkBadResponseError(DingTalkTransportError):
    """Report a response body that is not DingTalk's JSON answer."""


class DingTalkApiError(DingTalkError):
    """Report a non-zero errcode from DingTalk."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        """Store DingTalk's errcode and errmsg."""
        super().__init__(f"DingTalk errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class InvalidTokenError(DingTalkApiError):
    """Report that DingTalk does not know the access token."""


class RobotUnavailableError(DingTalkApiError):
    """Report a robot that is disabled, removed, or whose group was dissolved."""


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
    """Report DingTalk's global "system busy" errcode -1."""

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
    """Report a caller IP outside the robot's IP allowlist."""


class UnknownApiError(DingTalkApiError):
    """Report an errcode that is not in the table."""


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
"""Exception class for each known errcode."""

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
    """Build the exception for a non-zero errcode (an int or a decimal string)."""
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
