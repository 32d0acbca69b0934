"""What Home Assistant keeps of a message sent to an app's robot, and its event data.

A received message carries its conversation's sessionWebhook: whoever has it can post
to that chat for about 90 minutes. It stays in memory (ConversationBook, bounded) to
answer the message, and never goes into an event, a state, a log line or storage.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from .api import ConversationType

if TYPE_CHECKING:
    from .api import RobotMessage

MAX_MESSAGES: Final = 500
"""Messages remembered for dingtalk.reply (the oldest are forgotten first)."""
MAX_CONVERSATIONS: Final = 200
"""Conversations whose newest message is remembered (for replies by conversation)."""
SESSION_MARGIN: Final = 60.0
"""Seconds before its expiry a sessionWebhook is no longer used (clocks differ)."""
SESSION_FALLBACK_TTL: Final = 3600.0
"""Seconds a sessionWebhook without an expiry time is trusted (DingTalk's: ~90 min)."""


class MessageKind(StrEnum):
    """The kind of a received message: the event types of the event entity."""

    TEXT = "text"
    RICH_TEXT = "rich_text"
    PICTURE = "picture"
    AUDIO = "audio"
    VIDEO = "video"
    FILE = "file"
    OTHER = "other"


MSGTYPE_KINDS: Final = {
    "text": MessageKind.TEXT,
    "richText": MessageKind.RICH_TEXT,
    "picture": MessageKind.PICTURE,
    "audio": MessageKind.AUDIO,
    "video": MessageKind.VIDEO,
    "file": MessageKind.FILE,
}
"""DingTalk's msgtype of each kind; anything else is OTHER."""


class ConversationKind(StrEnum):
    """Where a message was written: a 1:1 chat with the robot, or a group."""

    SINGLE = "single"
    GROUP = "group"


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """A message a person sent to the robot, as Home Assistant keeps it."""

    message_id: str
    conversation_id: str
    conversation_kind: ConversationKind
    conversation_title: str
    sender_name: str
    sender_user_id: str
    """The sender's userId (staffId); empty for external people."""
    text: str
    kind: MessageKind
    mentioned: bool
    allowed: bool
    session_webhook: str = field(repr=False)
    session_expires_at: float
    """Wall-clock seconds after which the sessionWebhook is not used."""

    @classmethod
    def from_message(
        cls, message: RobotMessage, *, allowed: frozenset[str], now: float
    ) -> Received:
        """Return what to keep of a message from the Stream client."""
        expires = message.session_webhook_expires_at
        return cls(
            message_id=message.msg_id or message.message_id,
            conversation_id=message.conversation_id,
            conversation_kind=(
                ConversationKind.GROUP
                if message.conversation_type is ConversationType.GROUP
                else ConversationKind.SINGLE
            ),
            conversation_title=message.conversation_title,
            sender_name=message.sender_nick,
            sender_user_id=message.sender_staff_id,
            text=message.text,
            kind=MSGTYPE_KINDS.get(message.msgtype, MessageKind.OTHER),
            mentioned=message.is_in_at_list,
            allowed=bool(message.sender_staff_id)
            and message.sender_staff_id in allowed,
            session_webhook=message.session_webhook,
            session_expires_at=(
                now + SESSION_FALLBACK_TTL if expires is None else expires / 1000
            ),
        )

    @property
    def in_group(self) -> bool:
        """Return whether it was written in a group."""
        return self.conversation_kind is ConversationKind.GROUP

    def session_valid(self, now: float) -> bool:
        """Return whether its sessionWebhook may still be used."""
        return bool(self.session_webhook) and now < (
            self.session_expires_at - SESSION_MARGIN
        )

    def event_data(self, entry_id: str) -> dict[str, Any]:
        """Return the data of dingtalk_message_received (no sessionWebhook)."""
        return {
            "config_entry_id": entry_id,
            "message_id": self.message_id,
            "msgtype": self.kind.value,
            "text": self.text,
            "sender": {
                "name": self.sender_name,
                "user_id": self.sender_user_id or None,
            },
            "conversation": {
                "id": self.conversation_id,
                "type": self.conversation_kind.value,
                "title": self.conversation_title or None,
            },
            "mentioned": self.mentioned,
            "allowed": self.allowed,
        }


class ConversationBook:
    """Remember recent messages, and each conversation's newest one (bounded)."""

    def __init__(
        self,
        max_messages: int = MAX_MESSAGES,
        max_conversations: int = MAX_CONVERSATIONS,
    ) -> None:
        """Start empty."""
        self._max_messages = max_messages
        self._max_conversations = max_conversations
        self._messages: OrderedDict[str, Received] = OrderedDict()
        self._latest: OrderedDict[str, Received] = OrderedDict()

    def __len__(self) -> int:
        """Return how many messages are remembered."""
        return len(self._messages)

    @property
    def conversations(self) -> int:
        """Return how many conversations are remembered."""
        return len(self._latest)

    def remember(self, received: Received) -> None:
        """Keep a message; forget the oldest beyond the bounds."""
        self._messages[received.message_id] = received
        self._messages.move_to_end(received.message_id)
        while len(self._messages) > self._max_messages:
            self._messages.popitem(last=False)
        if received.conversation_id:
            self._latest[received.conversation_id] = received
            self._latest.move_to_end(received.conversation_id)
            while len(self._latest) > self._max_conversations:
                self._latest.popitem(last=False)

    def message(self, message_id: str) -> Received | None:
        """Return a remembered message."""
        return self._messages.get(message_id)

    def latest(self, conversation_id: str) -> Received | None:
        """Return the newest remembered message of a conversation."""
        return self._latest.get(conversation_id)

    def session_for(self, received: Received, now: float) -> Received | None:
        """Return the message whose sessionWebhook answers in its conversation.

        Its own while valid, else the conversation's newest message's, if valid.
        """
        if received.session_valid(now):
            return received
        newest = self._latest.get(received.conversation_id)
        if newest is not None and newest.session_valid(now):
            return newest
        return None

    def forget_session(self, session_webhook: str) -> None:
        """Stop using a sessionWebhook DingTalk refused (it expired early)."""
        for book in (self._messages, self._latest):
            for key, value in book.items():
                if value.session_webhook == session_webhook:
                    book[key] = replace(value, session_webhook="")
