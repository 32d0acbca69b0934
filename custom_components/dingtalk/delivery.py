"""Prepare messages, hand them to an outbox, and explain failures to users."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir

from .api import DingTalkError, File, Image, InvalidMessageError, Problem, prepare
from .const import DOMAIN, LOGGER, DingTalkIssue, DingTalkNotice
from .policy import error_placeholders, policy_for

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.config_entries import ConfigEntry

    from .outbox import DeliveryResult
    from .runtime import Sendable, Target

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


FORM_ERRORS: Final[Mapping[tuple[Problem, str], str]] = {
    (Problem.INVALID_URL, "message_url"): "url_invalid",
    (Problem.INVALID_URL, "pic_url"): "picture_invalid",
    (Problem.INVALID_URL, "single_url"): "button_url_invalid",
    (Problem.INVALID_URL, "button.action_url"): "buttons_invalid",
    (Problem.REQUIRED, "button.title"): "buttons_invalid",
    (Problem.REQUIRED, "button.action_url"): "buttons_invalid",
    (Problem.INVALID_URL, "link.message_url"): "links_invalid",
    (Problem.INVALID_URL, "link.pic_url"): "links_invalid",
    (Problem.REQUIRED, "link.title"): "links_invalid",
    (Problem.REQUIRED, "link.message_url"): "links_invalid",
    (Problem.REQUIRED, "link.pic_url"): "links_invalid",
    (Problem.NOT_SUPPORTED, "feedCard"): "app_feed_card",
}
"""The client's errors about a field of the action's form (or a message type).

Keyed by the problem and the client's name of the field (or DingTalk's msgtype);
their texts name the field with the form's label, in the user's language. Other
errors fall back to ``input_<problem>``.
"""


def invalid_message(err: InvalidMessageError) -> ServiceValidationError:
    """Translate a client validation error: its code is the translation key."""
    subject = err.field if err.field is not None else str(err.params.get("msgtype"))
    if (key := FORM_ERRORS.get((err.problem, subject))) is not None:
        return ServiceValidationError(translation_domain=DOMAIN, translation_key=key)
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
def async_target_failed(
    hass: HomeAssistant, target: Target, err: DingTalkError
) -> None:
    """React to a target's failure, as the error model says."""
    async_failed(hass, target.entry, target.key, target.name, err)


def async_failed(
    hass: HomeAssistant, entry: ConfigEntry, key: str, name: str, err: DingTalkError
) -> None:
    """React to a failure: reauthenticate, or raise a repair issue for lasting ones.

    ``key`` names the repair issues (a target's key; an app's entry id for replies).
    """
    LOGGER.debug("%s failed: %s", name, type(err).__name__)
    policy = policy_for(err)
    if policy.reauth:
        entry.async_start_reauth(hass)
    if policy.issue is not None:
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id(key, policy.issue),
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=policy.issue,
            translation_placeholders=error_placeholders(err, name)
            | {"errmsg": str(getattr(err, "errmsg", ""))},
        )


@callback
def async_target_delivered(hass: HomeAssistant, target: Target) -> None:
    """Clear the target's repair issues after a delivery.

    An open reauthentication is left alone: the user may be typing into it. Its
    step notices that the stored credentials work again (the outbox's statistics).
    """
    async_clear_issues(hass, target.key)


@callback
def async_clear_issues(
    hass: HomeAssistant, entry_id: str, *, notices: bool = False
) -> None:
    """Delete the robot's delivery repair issues (and its notices, when removed)."""
    for issue in (*DingTalkIssue, *(DingTalkNotice if notices else ())):
        ir.async_delete_issue(hass, DOMAIN, issue_id(entry_id, issue))


def require_loaded(entry: ConfigEntry) -> None:
    """Refuse to use a robot or app that is not loaded."""
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="robot_not_loaded",
            translation_placeholders={"robot": entry.title},
        )


def _prepare(
    message: Sendable, keywords: tuple[str, ...], max_bytes: int
) -> list[Sendable]:
    """Prepare a message (may run in the executor); images and files go as they are."""
    if isinstance(message, Image | File):
        return [message]
    return list(prepare(message, keywords=keywords, max_bytes=max_bytes))


async def async_prepare_parts(
    hass: HomeAssistant, target: Target, message: Sendable
) -> list[Sendable]:
    """Add mentions and a keyword to a message and split it to fit DingTalk.

    Long messages are prepared in the executor, so no call blocks the event loop
    for long (splitting is linear, but a 100 kB message still takes milliseconds).
    """
    require_loaded(target.entry)
    args = (message, target.keywords, target.max_bytes)
    try:
        if text_size(message) <= PREPARE_INLINE_CHARS:
            return _prepare(*args)
        return await hass.async_add_executor_job(_prepare, *args)
    except InvalidMessageError as err:
        raise invalid_message(err) from err


def text_size(message: Sendable) -> int:
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


async def async_deliver(target: Target, parts: list[Sendable]) -> DeliveryResult:
    """Hand prepared parts to the target's outbox; raise a translated error."""
    require_loaded(target.entry)
    try:
        encoded = [target.encode(part) for part in parts]
        return await target.outbox.async_send(encoded)
    except InvalidMessageError as err:
        raise invalid_message(err) from err
    except DingTalkError as err:
        # The outbox already called its failure callback (reauth, repair issues).
        raise error_to_ha(err, target.name) from err


async def async_send(
    hass: HomeAssistant, target: Target, message: Sendable
) -> DeliveryResult:
    """Prepare one message and deliver it through the target's outbox."""
    return await async_deliver(target, await async_prepare_parts(hass, target, message))
