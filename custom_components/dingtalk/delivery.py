"""Send prepared messages through a robot's outbox and explain failures to users."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir

from .api import (
    BusyError,
    ContentRejectedError,
    DingTalkApiError,
    DingTalkBadResponseError,
    DingTalkConnectionError,
    DingTalkError,
    DingTalkHTTPError,
    DingTalkTimeoutError,
    InvalidMessageError,
    InvalidTokenError,
    IPNotAllowedError,
    KeywordError,
    MessageFormatError,
    MessageTooLongError,
    RateLimitedError,
    RobotUnavailableError,
    SecurityCheckError,
    SignatureError,
    TimestampError,
    prepare,
)
from .const import DOMAIN, LOGGER, DingTalkIssue

if TYPE_CHECKING:
    from .api import Message
    from .outbox import DeliveryResult
    from .runtime import DingTalkConfigEntry

REAUTH_ERRORS: Final = (InvalidTokenError, SignatureError)
"""Failures that mean the stored token or secret is wrong: start reauthentication."""

ISSUE_ERRORS: Final[tuple[tuple[type[DingTalkApiError], DingTalkIssue], ...]] = (
    (RobotUnavailableError, DingTalkIssue.ROBOT_UNAVAILABLE),
    (IPNotAllowedError, DingTalkIssue.IP_NOT_ALLOWED),
    (TimestampError, DingTalkIssue.CLOCK_OUT_OF_SYNC),
    (KeywordError, DingTalkIssue.KEYWORDS_REJECTED),
)
"""Lasting robot problems the user must fix in DingTalk or on the host.

prepare() puts one of the stored keywords in every message, so a KeywordError means
the keywords stored in Home Assistant are not the robot's: fixed with Reconfigure.
"""

# Exception translation key for each client error, most specific first.
ERROR_KEYS: Final[tuple[tuple[type[DingTalkError], str], ...]] = (
    (InvalidTokenError, "invalid_token"),
    (SignatureError, "signature_rejected"),
    (TimestampError, "clock_out_of_sync"),
    (KeywordError, "keyword_required"),
    (IPNotAllowedError, "ip_not_allowed"),
    (SecurityCheckError, "security_check_failed"),
    (RobotUnavailableError, "robot_unavailable"),
    (RateLimitedError, "rate_limited"),
    (ContentRejectedError, "content_rejected"),
    (MessageTooLongError, "message_too_long"),
    (MessageFormatError, "message_format"),
    (BusyError, "busy"),
    (DingTalkApiError, "api_error"),
    (DingTalkTimeoutError, "timeout"),
    (DingTalkConnectionError, "cannot_connect"),
    (DingTalkHTTPError, "http_error"),
    (DingTalkBadResponseError, "bad_response"),
    (DingTalkError, "send_failed"),
)


def issue_id(entry_id: str, issue: DingTalkIssue) -> str:
    """Return the repair issue id of a robot problem."""
    return f"{issue}_{entry_id}"


def error_to_ha(err: DingTalkError, robot: str) -> HomeAssistantError:
    """Translate a client error into the Home Assistant error a user reads."""
    if isinstance(err, InvalidMessageError):
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="cannot_prepare",
            translation_placeholders={"robot": robot, "error": str(err)},
        )
    key = next(key for cls, key in ERROR_KEYS if isinstance(err, cls))
    placeholders = {"robot": robot}
    if isinstance(err, DingTalkApiError):
        placeholders |= {"errcode": str(err.errcode), "errmsg": err.errmsg}
    if isinstance(err, DingTalkHTTPError):
        placeholders["status"] = str(err.status)
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders,
    )


@callback
def async_robot_failed(
    hass: HomeAssistant, entry: DingTalkConfigEntry, err: DingTalkError
) -> None:
    """React to a failure: reauthenticate, or raise a repair issue for lasting ones."""
    LOGGER.debug(
        "Robot %s (token %s) failed: %s",
        entry.title,
        _fingerprint(entry),
        type(err).__name__,
    )
    if isinstance(err, REAUTH_ERRORS):
        entry.async_start_reauth(hass)
        return
    for cls, issue in ISSUE_ERRORS:
        if isinstance(err, cls):
            ir.async_create_issue(
                hass,
                DOMAIN,
                issue_id(entry.entry_id, issue),
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key=issue,
                translation_placeholders={"robot": entry.title, "errmsg": err.errmsg},
            )
            return


@callback
def async_robot_delivered(hass: HomeAssistant, entry: DingTalkConfigEntry) -> None:
    """Clear the robot's repair issues and end a reauthentication it no longer needs.

    DingTalk accepted the stored token and secret (the admin may have restored them),
    so a reauthentication a failure started is answered.
    """
    async_clear_issues(hass, entry.entry_id)
    if reauth_flows := [
        flow["flow_id"] for flow in entry.async_get_active_flows(hass, {SOURCE_REAUTH})
    ]:
        LOGGER.info(
            "Robot %s delivers again; reauthentication is no longer needed",
            entry.title,
        )
        for flow_id in reauth_flows:
            hass.config_entries.flow.async_abort(flow_id)


@callback
def async_clear_issues(hass: HomeAssistant, entry_id: str) -> None:
    """Delete every repair issue of a robot."""
    for issue in DingTalkIssue:
        ir.async_delete_issue(hass, DOMAIN, issue_id(entry_id, issue))


def require_loaded(entry: DingTalkConfigEntry) -> None:
    """Refuse to use a robot that is not loaded."""
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="robot_not_loaded",
            translation_placeholders={"robot": entry.title},
        )


def prepare_parts(entry: DingTalkConfigEntry, message: Message) -> list[Message]:
    """Add mentions and a keyword to a message and split it to fit DingTalk."""
    require_loaded(entry)
    try:
        return prepare(message, keywords=entry.runtime_data.keywords)
    except InvalidMessageError as err:
        raise error_to_ha(err, entry.title) from err


async def async_deliver(
    entry: DingTalkConfigEntry, parts: list[Message]
) -> DeliveryResult:
    """Hand prepared parts to the robot's outbox; raise a translated error."""
    require_loaded(entry)
    try:
        return await entry.runtime_data.outbox.async_send(parts)
    except DingTalkError as err:
        # The outbox already called async_robot_failed (reauth, repair issues).
        raise error_to_ha(err, entry.title) from err


async def async_send(entry: DingTalkConfigEntry, message: Message) -> DeliveryResult:
    """Prepare one message and deliver it through the robot's outbox."""
    return await async_deliver(entry, prepare_parts(entry, message))


def _fingerprint(entry: DingTalkConfigEntry) -> str:
    """Return the token fingerprint of a loaded robot, for logs."""
    runtime = getattr(entry, "runtime_data", None)
    return runtime.webhook.token_fingerprint() if runtime is not None else "?"
