"""dingtalk.reply: answer a received message in its conversation.

While the message's sessionWebhook is valid (about 90 minutes; the conversation's
newest one also does), the answer goes through it, and in a group it @-mentions the
sender. Later, or for a conversation Home Assistant has no message of, it goes
through the app APIs: a group's groupMessages/send, or a 1:1 batchSend to the sender
(these cannot mention anyone). Replies are sent at once, not through an outbox: the
caller learns whether DingTalk took them.
"""

from __future__ import annotations

from functools import partial
import time
from typing import TYPE_CHECKING, Any, Final, cast

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import HomeAssistant, SupportsResponse, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
import probatio

from .api import (
    MAX_BODY_BYTES,
    MAX_MSG_PARAM_BYTES,
    ActionCard,
    DingTalkError,
    Image,
    InvalidMessageError,
    InvalidTokenError,
    Markdown,
    Mentions,
    Text,
    prepare,
)
from .attachments import async_load_request_image, async_upload_image
from .compose import ATTR_MESSAGE, ATTR_TITLE, MESSAGE_FIELDS, DingTalkRequest
from .const import (
    CONF_DEFAULT_FORMAT,
    DEFAULT_FORMAT,
    DOMAIN,
    LOGGER,
    SERVICE_REPLY,
    DingTalkFormat,
)
from .delivery import (
    PREPARE_INLINE_CHARS,
    async_clear_issues,
    async_failed,
    error_to_ha,
    invalid_message,
    require_loaded,
    text_size,
)
from .entry_data import is_app_entry
from .runtime import DingTalkAppRuntime

if TYPE_CHECKING:
    from homeassistant.core import ServiceCall, ServiceResponse

    from .api import DingTalkAppClient, Message
    from .receive_models import ConversationBook, Received
    from .runtime import DingTalkConfigEntry, Sendable

ATTR_MESSAGE_ID: Final = "message_id"
ATTR_CONVERSATION_ID: Final = "conversation_id"
ATTR_MENTION_SENDER: Final = "mention_sender"

VIA_SESSION: Final = "session"
VIA_API: Final = "api"

REPLY_SCHEMA: Final = probatio.Schema(
    {
        probatio.Optional(ATTR_MESSAGE_ID): cv.string,
        probatio.Optional(ATTR_CONVERSATION_ID): cv.string,
        probatio.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Optional(ATTR_MENTION_SENDER): cv.boolean,
        probatio.Optional(ATTR_MESSAGE): cv.string,
        probatio.Optional(ATTR_TITLE): cv.string,
        **MESSAGE_FIELDS,
    }
)


@callback
def async_setup_reply(hass: HomeAssistant) -> None:
    """Register dingtalk.reply."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_REPLY,
        _async_reply,
        schema=REPLY_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )


type _Resolved = tuple[DingTalkConfigEntry, DingTalkAppRuntime, Received | None, str]


async def _async_reply(call: ServiceCall) -> ServiceResponse:
    """Answer the message or conversation the action names."""
    hass = call.hass
    entry, runtime, received, conversation = _resolve(hass, call.data)
    receiver = runtime.receiver
    return await async_send_reply(
        hass,
        entry,
        client=runtime.client,
        book=None if receiver is None else receiver.book,
        received=received,
        conversation=conversation,
        request=DingTalkRequest.from_fields(call.data),
        mention_sender=call.data.get(ATTR_MENTION_SENDER),
    )


def _app(hass: HomeAssistant, entry_id: str) -> DingTalkConfigEntry:
    """Return the loaded app entry ``entry_id``, or raise a translated error."""
    entry: DingTalkConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="reply_unknown_entry",
            translation_placeholders={"entry_id": entry_id},
        )
    if not is_app_entry(entry):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="reply_not_an_app",
            translation_placeholders={"robot": entry.title},
        )
    require_loaded(entry)
    return entry


def _runtime(entry: DingTalkConfigEntry) -> DingTalkAppRuntime:
    """Return a loaded app's runtime data."""
    return cast("DingTalkAppRuntime", entry.runtime_data)


def _resolve(hass: HomeAssistant, data: dict[str, Any]) -> _Resolved:
    """Return the app, its runtime, the message (if known) and the conversation."""
    message_id = str(data.get(ATTR_MESSAGE_ID) or "").strip()
    conversation = str(data.get(ATTR_CONVERSATION_ID) or "").strip()
    entry_id = str(data.get(ATTR_CONFIG_ENTRY_ID) or "").strip()
    if not message_id and not conversation:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="reply_target_required"
        )
    if not entry_id and not message_id:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="reply_entry_required"
        )
    if entry_id:
        entries = [_app(hass, entry_id)]
    else:
        entries = [
            entry
            for entry in hass.config_entries.async_entries(DOMAIN)
            if is_app_entry(entry) and entry.state is ConfigEntryState.LOADED
        ]
    if message_id:
        found = _find_message(entries, message_id, by_entry=bool(entry_id))
        if found is not None:
            return found
        if not conversation:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_message",
                translation_placeholders={"message_id": message_id},
            )
    # A conversation (also when its message is no longer known): entry_id is given.
    entry = entries[0]
    runtime = _runtime(entry)
    received = (
        None if runtime.receiver is None else runtime.receiver.book.latest(conversation)
    )
    return entry, runtime, received, conversation


def _find_message(
    entries: list[DingTalkConfigEntry], message_id: str, *, by_entry: bool
) -> _Resolved | None:
    """Return the receiving app that remembers ``message_id``, or None."""
    receiving = [
        (entry, runtime)
        for entry in entries
        if (runtime := _runtime(entry)).receiver is not None
    ]
    if not receiving:
        if by_entry:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="app_not_receiving",
                translation_placeholders={"robot": entries[0].title},
            )
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="no_app_receiving"
        )
    for entry, runtime in receiving:
        receiver = runtime.receiver
        received = None if receiver is None else receiver.book.message(message_id)
        if received is not None:
            return entry, runtime, received, received.conversation_id
    return None


async def async_send_reply(  # noqa: PLR0913 - where, to whom, what and how
    hass: HomeAssistant,
    entry: DingTalkConfigEntry,
    *,
    client: DingTalkAppClient,
    book: ConversationBook | None,
    received: Received | None,
    conversation: str,
    request: DingTalkRequest,
    mention_sender: bool | None,
) -> dict[str, Any]:
    """Send ``request`` to a conversation; return how (via, parts).

    ``received`` is the message answered (None: nothing is known of the
    conversation, which is then taken to be a group). ``mention_sender`` None
    mentions the sender in groups.
    """
    session = (
        None
        if received is None or book is None
        else book.session_for(received, time.time())
    )
    media_id = await _async_upload_image(hass, entry, client, request)
    default_format = DingTalkFormat(
        entry.options.get(CONF_DEFAULT_FORMAT, DEFAULT_FORMAT)
    )
    message = request.build(
        default_format, image=media_id, image_message=session is None
    )
    group = received is None or received.in_group
    try:
        if (
            session is not None
            and received is not None
            and book is not None
            and not isinstance(message, Image)  # built for the APIs only
        ):
            mention = group if mention_sender is None else mention_sender
            user_id = received.sender_user_id if mention else ""
            sent = await _async_send_by_session(
                hass, client, book, session, message, user_id
            )
            if sent is not None:
                async_clear_issues(hass, entry.entry_id)
                return {"via": VIA_SESSION, "parts": sent}
        parts: list[Sendable] = (
            [message]
            if isinstance(message, Image)
            else list(await _async_prepare(hass, message, None, MAX_MSG_PARAM_BYTES))
        )
        if group:
            for part in parts:
                await client.async_send_to_group(conversation, part)
        else:
            await _async_send_to_person(entry, client, received, parts)
    except InvalidMessageError as err:
        raise invalid_message(err) from err
    except DingTalkError as err:
        async_failed(hass, entry, entry.entry_id, entry.title, err)
        raise error_to_ha(err, entry.title) from err
    async_clear_issues(hass, entry.entry_id)
    return {"via": VIA_API, "parts": len(parts)}


async def _async_send_to_person(
    entry: DingTalkConfigEntry,
    client: DingTalkAppClient,
    received: Received | None,
    parts: list[Sendable],
) -> None:
    """Send the parts to the sender of a 1:1 message (batchSend)."""
    user_id = received.sender_user_id if received is not None else ""
    if not user_id:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="reply_no_user",
            translation_placeholders={"robot": entry.title},
        )
    for part in parts:
        result = await client.async_send_to_users([user_id], part)
        result.raise_for_recipients()


async def _async_send_by_session(  # noqa: PLR0913, PLR0917 - session and message
    hass: HomeAssistant,
    client: DingTalkAppClient,
    book: ConversationBook,
    session: Received,
    message: Message,
    mention: str,
) -> int | None:
    """Send through a sessionWebhook; None if it expired before the first part.

    ``mention`` is a userId to @-mention (text, markdown and action cards), or "".
    """
    mentions = Mentions()
    if mention and isinstance(message, Text | Markdown | ActionCard):
        mentions = Mentions(user_ids=(mention,))
    first, *rest = await _async_prepare(hass, message, mentions, MAX_BODY_BYTES)
    try:
        await client.async_send_by_session(session.session_webhook, first.to_payload())
    except InvalidTokenError:
        book.forget_session(session.session_webhook)
        LOGGER.debug("A sessionWebhook expired early: replying through the APIs")
        return None
    for part in rest:
        await client.async_send_by_session(session.session_webhook, part.to_payload())
    return 1 + len(rest)


async def _async_prepare(
    hass: HomeAssistant, message: Message, mentions: Mentions | None, max_bytes: int
) -> list[Message]:
    """Add the mention and split a message to fit; a long one in the executor."""
    job = partial(prepare, message, mentions=mentions, max_bytes=max_bytes)
    if text_size(message) <= PREPARE_INLINE_CHARS:
        return job()
    return await hass.async_add_executor_job(job)


async def _async_upload_image(
    hass: HomeAssistant,
    entry: DingTalkConfigEntry,
    client: DingTalkAppClient,
    request: DingTalkRequest,
) -> str | None:
    """Load and upload the request's picture; return its media id."""
    image = await async_load_request_image(hass, request)
    if image is None:
        return None
    return await async_upload_image(
        hass, client, image, entry=entry, key=entry.entry_id, name=entry.title
    )
