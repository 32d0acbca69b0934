"""Answer messages with a conversation agent (Assist), for allowed people only.

A message goes to the agent when its sender's userId is on the app's allowlist and,
in a group, the robot is @-mentioned. Everyone else only fires the event. Each
DingTalk conversation is one Assist conversation (follow-ups keep their context),
answered in order; the answer goes back as markdown through dingtalk.reply's path.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from homeassistant.components import conversation
from homeassistant.core import Context
from homeassistant.exceptions import HomeAssistantError

from .compose import DingTalkRequest
from .const import (
    CONF_ASSIST_LANGUAGE,
    CONF_CONVERSATION_AGENT,
    DOMAIN,
    LOGGER,
    DingTalkMsgType,
)
from .receive_models import MessageKind
from .reply import async_send_reply

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .receive import DingTalkReceiver
    from .receive_models import Received
    from .runtime import DingTalkConfigEntry

MAX_PENDING: Final = 16
"""Messages waiting for Assist at once (more are answered by nobody, and logged)."""
SPOKEN_KINDS: Final = frozenset(
    {MessageKind.TEXT, MessageKind.RICH_TEXT, MessageKind.AUDIO}
)
"""Kinds whose text is what the sender said (a voice message: DingTalk's recognition).

A file's text is its name, which is no question for Assist.
"""


def assist_settings(entry: DingTalkConfigEntry) -> tuple[str, str | None] | None:
    """Return the app's agent and language, or None when Assist is off."""
    agent = str(entry.options.get(CONF_CONVERSATION_AGENT) or "").strip()
    if not agent:
        return None
    language = str(entry.options.get(CONF_ASSIST_LANGUAGE) or "").strip()
    return agent, language or None


def conversation_id(entry_id: str, dingtalk_conversation: str) -> str:
    """Return the Assist conversation of a DingTalk conversation (not a ULID)."""
    return f"{DOMAIN}-{entry_id}-{dingtalk_conversation}"


class AssistBridge:
    """Pass allowed messages to a conversation agent and send its answers back."""

    def __init__(
        self,
        hass: HomeAssistant,
        receiver: DingTalkReceiver,
        agent_id: str,
        language: str | None,
    ) -> None:
        """Answer with ``agent_id`` in ``language`` (None: Home Assistant's)."""
        self._hass = hass
        self._receiver = receiver
        self.agent_id = agent_id
        self._language = language
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self.pending = 0

    @staticmethod
    def wants(received: Received) -> bool:
        """Return whether a message is for Assist (allowed, addressed, with text)."""
        return (
            received.allowed
            and received.kind in SPOKEN_KINDS
            and (received.mentioned or not received.in_group)
            and bool(received.text.strip())
            and bool(received.conversation_id)
        )

    def submit(self, received: Received) -> None:
        """Answer a message in the background, if it is for Assist."""
        if not self.wants(received):
            return
        entry = self._receiver.entry
        if self.pending >= MAX_PENDING:
            LOGGER.warning(
                "Assist is busy: message %s to DingTalk app %s is not answered",
                received.message_id,
                entry.title,
            )
            return
        self.pending += 1
        entry.async_create_background_task(
            self._hass, self._async_answer(received), f"{DOMAIN} assist {entry.title}"
        )

    async def _async_answer(self, received: Received) -> None:
        """Answer one message after the earlier ones of its conversation."""
        key = received.conversation_id
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                await self._async_converse(received)
        finally:
            self.pending -= 1
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def _async_converse(self, received: Received) -> None:
        """Ask the agent; send its answer as markdown (mentioning the sender)."""
        entry = self._receiver.entry
        if "conversation" not in self._hass.config.components:
            LOGGER.warning(
                "Assist is not loaded: DingTalk app %s cannot answer", entry.title
            )
            return
        try:
            result = await conversation.async_converse(
                self._hass,
                received.text,
                conversation_id(entry.entry_id, received.conversation_id),
                Context(),
                language=self._language,
                agent_id=self.agent_id,
            )
        except ValueError:  # the agent was removed
            LOGGER.warning(
                "Conversation agent %s of DingTalk app %s is not available",
                self.agent_id,
                entry.title,
            )
            return
        speech = result.response.speech.get("plain", {}).get("speech")
        if not isinstance(speech, str) or not speech.strip():
            LOGGER.debug("Assist had no answer to message %s", received.message_id)
            return
        request = DingTalkRequest(message=speech, msgtype=DingTalkMsgType.MARKDOWN)
        try:
            await async_send_reply(
                self._hass,
                entry,
                client=self._receiver.client,
                book=self._receiver.book,
                received=received,
                conversation=received.conversation_id,
                request=request,
                mention_sender=None,
            )
        except HomeAssistantError as err:
            LOGGER.warning(
                "The answer of Assist to DingTalk app %s was not sent: %s",
                entry.title,
                err,
            )
