"""Parse Stream-mode frames and robot messages, and build the ACKs (api.md §7.2-7.5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
import json
import re
from typing import TYPE_CHECKING, Any, Final, Self

if TYPE_CHECKING:
    from collections.abc import Mapping

# Everything here is tolerant: DingTalk sends numbers as strings now and then, and a
# field may be missing or of another type. Parsing never raises; what cannot be read
# becomes "", None or (), and only a frame or payload that is not a JSON object is
# refused (None), so the caller can count it and move on.

BOT_TOPIC: Final = "/v1.0/im/bot/messages/get"
"""The CALLBACK topic of robot messages."""

SUBSCRIPTIONS: Final = (
    {"type": "CALLBACK", "topic": BOT_TOPIC},
    {"type": "EVENT", "topic": "*"},  # events only accept "*" (§7.1)
)
"""What connections/open subscribes to."""

CONTENT_TYPE_JSON: Final = "application/json"
CALLBACK_ACK_DATA: Final = json.dumps({"response": None})
"""ACK data of a robot callback: the server ignores it (§7.3, §11.1)."""
EVENT_ACK_DATA: Final = json.dumps({"status": "SUCCESS", "message": "OK"})
"""ACK data of an EVENT frame: SUCCESS stops redelivery (§7.3)."""

_MESSAGE_ID_RE: Final = re.compile(r'"messageId"\s*:\s*"([^"\\]{1,256})"')


class FrameType(StrEnum):
    """The ``type`` of a frame from the server."""

    SYSTEM = "SYSTEM"
    EVENT = "EVENT"
    CALLBACK = "CALLBACK"


class SystemTopic(StrEnum):
    """SYSTEM topics with a meaning for the client (others are ACKed and ignored)."""

    PING = "ping"
    DISCONNECT = "disconnect"


class AckCode:
    """ACK codes (§7.3)."""

    OK: Final = 200
    NOT_HANDLED: Final = 404
    ERROR: Final = 500


class ConversationType(StrEnum):
    """A robot message's ``conversationType``."""

    PRIVATE = "1"
    GROUP = "2"


def _text(value: object) -> str:
    """Return a string field; a number becomes its digits, anything else ""."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _int(value: object) -> int | None:
    """Return an integer field sent as a number or a string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(float(value)) if isinstance(value, str | float) else None
    except ValueError, OverflowError:
        return None


def _flag(value: object) -> bool:
    """Return a boolean field sent as a bool, a number or a string."""
    if isinstance(value, str):
        return value.strip().casefold() in {"true", "1"}
    return value is True or (isinstance(value, int) and value == 1)


def _mapping(value: object) -> Mapping[str, Any]:
    """Return a JSON object field, or an empty one."""
    return value if isinstance(value, dict) else {}


def _objects(value: object) -> list[Mapping[str, Any]]:
    """Return the JSON objects of a list field."""
    return (
        [item for item in value if isinstance(item, dict)]
        if isinstance(value, list)
        else []
    )


def _load_object(text: str | bytes) -> dict[str, Any] | None:
    """Parse JSON text that must be an object, else return None."""
    try:
        value = json.loads(text)
    except ValueError, RecursionError:
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame from the server; ``data`` is still a JSON string."""

    type: str
    topic: str
    message_id: str
    headers: Mapping[str, Any] = field(repr=False)
    data: str = field(repr=False)

    def data_object(self) -> dict[str, Any] | None:
        """Parse ``data`` (the second JSON parse), or None if it is not an object."""
        return _load_object(self.data)


def parse_frame(text: str) -> Frame | None:
    """Return the frame, or None unless it has a type, a topic and a messageId."""
    frame = _load_object(text)
    if frame is None:
        return None
    headers = _mapping(frame.get("headers"))
    kind, topic = frame.get("type"), headers.get("topic")
    message_id, data = headers.get("messageId"), frame.get("data", "")
    if not (isinstance(kind, str) and isinstance(topic, str) and isinstance(data, str)):
        return None
    if not isinstance(message_id, str) or not message_id:
        return None
    return Frame(kind, topic, message_id, headers, data)


def find_message_id(text: str) -> str | None:
    """Return the messageId of a frame too large to parse (a bounded search)."""
    match = _MESSAGE_ID_RE.search(text)
    return match.group(1) if match else None


def ack(
    message_id: str, data: str, *, code: int = AckCode.OK, message: str = "OK"
) -> str:
    """Return the ACK of a frame as JSON text (§7.3)."""
    headers = {"messageId": message_id, "contentType": CONTENT_TYPE_JSON}
    reply = {"code": code, "headers": headers, "message": message, "data": data}
    return json.dumps(reply, ensure_ascii=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class AtUser:
    """A person @-mentioned in a robot message."""

    dingtalk_id: str = ""
    staff_id: str = ""  # the userId; empty for external users


@dataclass(frozen=True, slots=True, kw_only=True)
class RobotMessage:
    """A message a person sent to the robot (topic /v1.0/im/bot/messages/get, §7.5)."""

    message_id: str  # the frame's headers.messageId
    msg_id: str
    conversation_id: str  # a group's openConversationId
    conversation_type: ConversationType | None
    conversation_title: str
    sender_id: str
    sender_nick: str
    sender_staff_id: str  # the userId; may be empty for external users
    sender_corp_id: str
    is_admin: bool
    chatbot_user_id: str
    robot_code: str
    msgtype: str  # text, richText, picture, audio, video, file, …
    text: str  # text.content stripped; best effort for other types
    download_codes: tuple[str, ...]  # pictures, audio, video, files
    at_users: tuple[AtUser, ...]
    is_in_at_list: bool  # the robot was @-mentioned
    created_at: int | None  # ms
    # The sessionWebhook lets anyone who has it post to the chat: keep it out of repr.
    session_webhook: str = field(repr=False)
    session_webhook_expires_at: int | None  # ms
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_payload(cls, message_id: str, payload: Mapping[str, Any]) -> Self:
        """Build the message from the frame's parsed ``data``, whatever is missing."""
        content = _mapping(payload.get("content"))
        items = _objects(content.get("richText"))
        text = _text(_mapping(payload.get("text")).get("content"))
        if not text:
            words = [_text(item.get("text")) for item in items]
            text = "".join(words) or _text(content.get("recognition"))
            text = text or _text(content.get("fileName"))
        codes = [
            _text(item.get("downloadCode") or item.get("pictureDownloadCode"))
            for item in (*items, content)
        ]
        conversation_type = _text(payload.get("conversationType"))
        return cls(
            message_id=message_id,
            msg_id=_text(payload.get("msgId")),
            conversation_id=_text(payload.get("conversationId")),
            conversation_type=(
                ConversationType(conversation_type)
                if conversation_type in ConversationType
                else None
            ),
            conversation_title=_text(payload.get("conversationTitle")),
            sender_id=_text(payload.get("senderId")),
            sender_nick=_text(payload.get("senderNick")),
            sender_staff_id=_text(payload.get("senderStaffId")),
            sender_corp_id=_text(payload.get("senderCorpId")),
            is_admin=_flag(payload.get("isAdmin")),
            chatbot_user_id=_text(payload.get("chatbotUserId")),
            robot_code=_text(payload.get("robotCode")),
            msgtype=_text(payload.get("msgtype")),
            text=text.strip(),
            download_codes=tuple(code for code in codes if code),
            at_users=tuple(
                AtUser(
                    dingtalk_id=_text(user.get("dingtalkId")),
                    staff_id=_text(user.get("staffId")),
                )
                for user in _objects(payload.get("atUsers"))
            ),
            is_in_at_list=_flag(payload.get("isInAtList")),
            created_at=_int(payload.get("createAt")),
            session_webhook=_text(payload.get("sessionWebhook")),
            session_webhook_expires_at=_int(payload.get("sessionWebhookExpiredTime")),
            raw=payload,
        )

    @property
    def dedupe_keys(self) -> tuple[str, ...]:
        """Return the keys under which a redelivery of this message is recognised."""
        return (f"m:{self.message_id}", f"p:{self.msg_id}" if self.msg_id else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamEvent:
    """An EVENT frame (an event chosen in the developer console)."""

    message_id: str
    event_id: str
    event_type: str
    corp_id: str
    born_at: int | None  # ms
    data: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_frame(cls, frame: Frame, data: Mapping[str, Any]) -> Self:
        """Build the event from the frame's headers and parsed ``data``."""
        headers = frame.headers
        return cls(
            message_id=frame.message_id,
            event_id=_text(headers.get("eventId")),
            event_type=_text(headers.get("eventType")),
            corp_id=_text(headers.get("eventCorpId")),
            born_at=_int(headers.get("eventBornTime")),
            data=data,
        )

    @property
    def dedupe_keys(self) -> tuple[str, ...]:
        """Return the keys under which a redelivery of this event is recognised."""
        return (f"m:{self.message_id}", f"e:{self.event_id}" if self.event_id else "")
