"""The one error model: what each DingTalk error means for delivery and for the user.

Every place that reacts to a client error (the outbox, the action that raised it,
reauthentication, repair issues, the config flow) looks it up here, so a DingTalk
code that turns out to mean something else is a one-line change in POLICIES.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from enum import StrEnum
from typing import Final

from .api import (
    AccessTokenInvalidError,
    AppCredentialsError,
    BusyError,
    ContentRejectedError,
    DingTalkApiError,
    DingTalkBadResponseError,
    DingTalkConnectionError,
    DingTalkError,
    DingTalkHTTPError,
    DingTalkTimeoutError,
    HTTPThrottledError,
    InvalidTokenError,
    IPNotAllowedError,
    KeywordError,
    MessageFormatError,
    MessageTooLongError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitedError,
    RecipientNotFoundError,
    RobotUnavailableError,
    SecurityCheckError,
    SignatureError,
    TimestampError,
    UserFlowControlledError,
)
from .const import CONF_KEYWORDS, CONF_SECRET, CONF_WEBHOOK, DingTalkIssue

BASE: Final = "base"
"""The form-wide error position of a config flow."""


class MessageExpiredError(DingTalkError):
    """A queued message was older than the maximum age and was dropped."""


class UnexpectedDeliveryError(DingTalkError):
    """Sending raised something that is not a DingTalkError (a bug); message dropped."""


class MaybeLostError(DingTalkError):
    """The answer to a request was lost and resending could duplicate the message."""


class Outcome(StrEnum):
    """What the outbox does with the message (and its sender) after an error."""

    RETRY = "retry"
    """Transient: send the same payload again after a back-off (if retryable)."""
    THROTTLE = "throttle"
    """The sender is throttled: pause it; every message stays queued."""
    HALT = "halt"
    """The sender itself is refused: fail this message, keep the rest, pause."""
    FAIL = "fail"
    """This message is refused: drop it and report the failure."""


@dataclass(frozen=True, slots=True)
class ErrorPolicy:
    """How one kind of error is handled, everywhere."""

    outcome: Outcome
    translation_key: str
    """The exception message the user reads (``exceptions`` in translations)."""
    _: KW_ONLY
    retries: int | None = None
    """RETRY: at most this many (None: the outbox's max_retries), then ``exhausted``."""
    exhausted: Outcome = Outcome.FAIL
    backoff: bool = True
    """RETRY: wait (doubling) before the next try; False: retry at once."""
    reauth: bool = False
    """The stored credentials are wrong: start reauthentication."""
    issue: DingTalkIssue | None = None
    """A lasting problem the user must fix: raise this repair issue."""
    flow_error: tuple[str, str] | None = None
    """Where the config flow shows it: (form field or "base", error key)."""


RETRY, THROTTLE, HALT, FAIL = Outcome

POLICIES: Final[tuple[tuple[type[DingTalkError], ErrorPolicy], ...]] = (
    # Credentials and the robot itself: every message would fail the same way.
    (
        InvalidTokenError,
        ErrorPolicy(
            HALT,
            "invalid_token",
            reauth=True,
            flow_error=(CONF_WEBHOOK, "invalid_token"),
        ),
    ),
    (
        SignatureError,
        ErrorPolicy(
            HALT,
            "signature_rejected",
            reauth=True,
            flow_error=(CONF_SECRET, "invalid_signature"),
        ),
    ),
    (
        AppCredentialsError,
        ErrorPolicy(
            HALT,
            "app_credentials_rejected",
            reauth=True,
            flow_error=(BASE, "invalid_app_credentials"),
        ),
    ),
    # The clock: re-signing once can help; a second refusal means the clock is off.
    (
        TimestampError,
        ErrorPolicy(
            RETRY,
            "clock_out_of_sync",
            retries=1,
            exhausted=HALT,
            backoff=False,
            issue=DingTalkIssue.CLOCK_OUT_OF_SYNC,
            flow_error=(BASE, "clock_out_of_sync"),
        ),
    ),
    (
        IPNotAllowedError,
        ErrorPolicy(
            HALT,
            "ip_not_allowed",
            issue=DingTalkIssue.IP_NOT_ALLOWED,
            flow_error=(BASE, "ip_not_allowed"),
        ),
    ),
    (
        RobotUnavailableError,
        ErrorPolicy(
            HALT,
            "robot_unavailable",
            issue=DingTalkIssue.ROBOT_UNAVAILABLE,
            flow_error=(BASE, "robot_unavailable"),
        ),
    ),
    (
        PermissionDeniedError,
        ErrorPolicy(
            HALT,
            "permission_denied",
            issue=DingTalkIssue.PERMISSION_DENIED,
            flow_error=(BASE, "permission_denied"),
        ),
    ),
    (
        RecipientNotFoundError,
        ErrorPolicy(
            HALT,
            "recipient_not_found",
            issue=DingTalkIssue.RECIPIENT_UNAVAILABLE,
            flow_error=(BASE, "recipient_not_found"),
        ),
    ),
    # prepare() puts a stored keyword in every message, so a KeywordError means the
    # stored keywords are not the robot's: the message fails, Reconfigure fixes it.
    (
        KeywordError,
        ErrorPolicy(
            FAIL,
            "keyword_required",
            issue=DingTalkIssue.KEYWORDS_REJECTED,
            flow_error=(CONF_KEYWORDS, "keyword_required"),
        ),
    ),
    (SecurityCheckError, ErrorPolicy(FAIL, "security_check_failed")),
    # Throttling: per person (an app's 1:1 chat) retries; the robot's pauses it.
    (
        UserFlowControlledError,
        ErrorPolicy(RETRY, "user_flow_controlled", flow_error=(BASE, "rate_limited")),
    ),
    (
        QuotaExceededError,
        ErrorPolicy(THROTTLE, "quota_exceeded", flow_error=(BASE, "rate_limited")),
    ),
    (
        RateLimitedError,
        ErrorPolicy(THROTTLE, "rate_limited", flow_error=(BASE, "rate_limited")),
    ),
    (
        HTTPThrottledError,
        ErrorPolicy(THROTTLE, "rate_limited", flow_error=(BASE, "rate_limited")),
    ),
    # The message itself.
    (ContentRejectedError, ErrorPolicy(FAIL, "content_rejected")),
    (MessageTooLongError, ErrorPolicy(FAIL, "message_too_long")),
    (MessageFormatError, ErrorPolicy(FAIL, "message_format")),
    # Transient.
    (BusyError, ErrorPolicy(RETRY, "busy", flow_error=(BASE, "api_error"))),
    (
        AccessTokenInvalidError,
        ErrorPolicy(RETRY, "access_token_invalid", flow_error=(BASE, "api_error")),
    ),
    (DingTalkApiError, ErrorPolicy(FAIL, "api_error", flow_error=(BASE, "api_error"))),
    (
        DingTalkTimeoutError,
        ErrorPolicy(RETRY, "timeout", flow_error=(BASE, "cannot_connect")),
    ),
    (
        DingTalkConnectionError,
        ErrorPolicy(RETRY, "cannot_connect", flow_error=(BASE, "cannot_connect")),
    ),
    (
        DingTalkHTTPError,
        ErrorPolicy(RETRY, "http_error", flow_error=(BASE, "cannot_connect")),
    ),
    (
        DingTalkBadResponseError,
        ErrorPolicy(RETRY, "bad_response", flow_error=(BASE, "cannot_connect")),
    ),
    # The outbox's own verdicts.
    (MessageExpiredError, ErrorPolicy(FAIL, "message_expired")),
    (MaybeLostError, ErrorPolicy(FAIL, "maybe_lost")),
    (DingTalkError, ErrorPolicy(FAIL, "send_failed", flow_error=(BASE, "unknown"))),
)
"""Most specific first: the first class an error is an instance of decides."""


def policy_for(err: DingTalkError) -> ErrorPolicy:
    """Return how ``err`` is handled (the first matching row of POLICIES)."""
    return next(policy for cls, policy in POLICIES if isinstance(err, cls))


def outcome_for(
    err: DingTalkError, *, attempts: int, streak: int, max_retries: int
) -> Outcome:
    """Return what to do after a failed try of a message.

    ``attempts`` counts every failed try of the message, ``streak`` the consecutive
    ones that failed like this one: a policy with its own ``retries`` (the clock's
    one re-signed retry) counts the streak, the others count against max_retries.
    """
    policy = policy_for(err)
    if policy.outcome is not Outcome.RETRY:
        return policy.outcome
    if not err.retryable:
        return Outcome.FAIL
    if policy.retries is not None:
        return Outcome.RETRY if streak <= policy.retries else policy.exhausted
    return Outcome.RETRY if attempts <= max_retries else policy.exhausted


def error_placeholders(err: DingTalkError, name: str) -> dict[str, str]:
    """Return the translation placeholders of an error about sender ``name``."""
    placeholders = {"robot": name}
    if isinstance(err, DingTalkApiError):
        placeholders |= {"errcode": str(err.errcode), "errmsg": err.errmsg}
    if isinstance(err, DingTalkHTTPError):
        placeholders["status"] = str(err.status)
    return placeholders
