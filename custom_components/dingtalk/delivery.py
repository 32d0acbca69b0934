"""Prepare messages, hand them to an outbox, and explain failures to users."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir

from .api import DingTalkError, InvalidMessageError, prepare
from .const import DOMAIN, LOGGER, DingTalkIssue, DingTalkNotice
from .policy import error_placeholders, policy_for

if TYPE_CHECKING:
    from .api import Message
    from .outbox import DeliveryResult, Outbox
    from .runtime import DingTalkConfigEntry

PREPARE_INLINE_CHARS: Final = 4096
"""Messages with more text are prepared in the executor (splitting takes time)."""


def issue_id(entry_id: str, issue: DingTalkIssue | DingTalkNotice) -> str:
    """Return the repair issue id of a robot problem."""
    return f"{issue}_{entry_id}"


@callback
def async_notice(
    hass: HomeAssistant, entry_id: str, notice: DingTalkNotice, **placeholders: str
) -> None:
    """Raise a repair issue about something that happened (the user dismisses it)."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(entry_id, notice),
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=notice,
        translation_placeholders=placeholders,
    )


def invalid_message(err: InvalidMessageError) -> ServiceValidationError:
    """Translate a client validation error: its code is the translation key."""
    placeholders = {key: str(value) for key, value in err.params.items()}
    if err.field is not None:
        placeholders["field"] = err.field
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=f"input_{err.problem}",
        translation_placeholders=placeholders,
    )


def error_to_ha(err: DingTalkError, robot: str) -> HomeAssistantError:
    """Translate a client error into the Home Assistant error a user reads."""
    if isinstance(err, InvalidMessageError):
        return invalid_message(err)
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=policy_for(err).translation_key,
        translation_placeholders=error_placeholders(err, robot),
    )


@callback
def async_robot_failed(
    hass: HomeAssistant, entry: DingTalkConfigEntry, err: DingTalkError
) -> None:
    """React to a failure: reauthenticate, or raise a repair issue for lasting ones."""
    LOGGER.debug("Robot %s failed: %s", entry.title, type(err).__name__)
    policy = policy_for(err)
    if policy.reauth:
        entry.async_start_reauth(hass)
    if policy.issue is not None:
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id(entry.entry_id, policy.issue),
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=policy.issue,
            translation_placeholders=error_placeholders(err, entry.title)
            | {"errmsg": str(getattr(err, "errmsg", ""))},
        )


@callback
def async_robot_delivered(hass: HomeAssistant, entry: DingTalkConfigEntry) -> None:
    """Clear the robot's repair issues after a delivery.

    An open reauthentication is left alone: the user may be typing into it. Its
    step notices that the stored credentials work again (the outbox's statistics).
    """
    async_clear_issues(hass, entry.entry_id)


@callback
def async_clear_issues(
    hass: HomeAssistant, entry_id: str, *, notices: bool = False
) -> None:
    """Delete the robot's delivery repair issues (and its notices, when removed)."""
    for issue in (*DingTalkIssue, *(DingTalkNotice if notices else ())):
        ir.async_delete_issue(hass, DOMAIN, issue_id(entry_id, issue))


def require_loaded(entry: DingTalkConfigEntry) -> None:
    """Refuse to use a robot that is not loaded."""
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="robot_not_loaded",
            translation_placeholders={"robot": entry.title},
        )


def _prepare(message: Message, keywords: tuple[str, ...]) -> list[Message]:
    """Prepare a message (may run in the executor)."""
    return prepare(message, keywords=keywords)


async def async_prepare_parts(
    hass: HomeAssistant, entry: DingTalkConfigEntry, message: Message
) -> list[Message]:
    """Add mentions and a keyword to a message and split it to fit DingTalk.

    Long messages are prepared in the executor, so no call blocks the event loop
    for long (splitting is linear, but a 100 kB message still takes milliseconds).
    """
    require_loaded(entry)
    keywords = entry.runtime_data.keywords
    try:
        if text_size(message) <= PREPARE_INLINE_CHARS:
            return _prepare(message, keywords)
        return await hass.async_add_executor_job(_prepare, message, keywords)
    except InvalidMessageError as err:
        raise invalid_message(err) from err


def text_size(message: Message) -> int:
    """Return how many characters of text a message holds (cheap, no encoding)."""
    return sum(
        len(value)
        for value in (
            getattr(message, "content", ""),
            getattr(message, "text", ""),
            getattr(message, "title", ""),
        )
        if isinstance(value, str)
    )


async def async_deliver_to(
    outbox: Outbox, name: str, parts: list[Message]
) -> DeliveryResult:
    """Hand prepared parts to an outbox; raise a translated error."""
    try:
        return await outbox.async_send([(p.msg_uuid, p.to_payload()) for p in parts])
    except DingTalkError as err:
        # The outbox already called its failure callback (reauth, repair issues).
        raise error_to_ha(err, name) from err


async def async_deliver(
    entry: DingTalkConfigEntry, parts: list[Message]
) -> DeliveryResult:
    """Hand prepared parts to the robot's outbox; raise a translated error."""
    require_loaded(entry)
    return await async_deliver_to(entry.runtime_data.outbox, entry.title, parts)


async def async_send(
    hass: HomeAssistant, entry: DingTalkConfigEntry, message: Message
) -> DeliveryResult:
    """Prepare one message and deliver it through the robot's outbox."""
    return await async_deliver(entry, await async_prepare_parts(hass, entry, message))
