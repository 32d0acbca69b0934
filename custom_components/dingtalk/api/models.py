"""Define typed, immutable DingTalk robot messages and their exact JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
import json
import re
from typing import TYPE_CHECKING, Any, ClassVar, Final
from urllib.parse import urlsplit
from uuid import uuid4

from .errors import InvalidMessageError, Problem

if TYPE_CHECKING:
    from collections.abc import Iterable

# Each message validates itself on construction (InvalidMessageError), and
# to_payload() returns DingTalk's JSON with its exact field names:
# link.messageUrl/picUrl, feedCard.links[].messageURL/picURL,
# actionCard.singleTitle/singleURL/btns[].actionURL/btnOrientation.
#
# Mentions: "at" is a top-level key beside "msgtype", sent only for text and markdown
# and only when someone is mentioned. Link and feedCard cannot mention anyone. An
# actionCard has no "at" either: DingTalk reads an @userId written in its text, which
# is what prepare.with_mentions() does for user ids (mobiles and @all are refused).
#
# serialize_payload() is the one serialisation, used both to send a body and to
# measure it against MAX_BODY_BYTES.

MAX_BODY_BYTES: Final = 20_000
"""DingTalk's cap on the UTF-8 JSON request body (errcode 460101 above it)."""

MOBILE_RE: Final = re.compile(r"\+?\d(?:-?\d){4,19}")
"""A mobile number, loosely: digits, an optional +country prefix and single dashes."""

USER_ID_RE: Final = re.compile(r"[^\s@]{1,64}")
"""A DingTalk userId, loosely: no whitespace and no '@' (it follows '@' in the body)."""

URL_SCHEMES: Final = frozenset({"http", "https", "dingtalk"})
"""Schemes DingTalk opens from a message (dingtalk:// for the PC side-bar switch)."""


def serialize_payload(payload: Mapping[str, Any]) -> bytes:
    """Return the exact UTF-8 JSON body the client sends for ``payload``."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _new_msg_uuid() -> str:
    """Return a fresh idempotency key for DingTalk's msgUuid."""
    return uuid4().hex


def _check_text(value: object, name: str) -> str:
    """Return ``value`` if it is a non-blank string that encodes to UTF-8."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidMessageError(Problem.REQUIRED, field=name)
    try:
        value.encode()
    except UnicodeEncodeError:
        raise InvalidMessageError(Problem.NOT_TEXT, field=name) from None
    return value


def _check_url(value: object, name: str) -> None:
    """Require an http(s) or dingtalk:// URL with a host and no whitespace."""
    text = _check_text(value, name)
    try:
        parts = urlsplit(text)
    except ValueError:
        raise InvalidMessageError(Problem.INVALID_URL, field=name) from None
    if (
        parts.scheme not in URL_SCHEMES
        or not parts.netloc
        or any(char.isspace() for char in text)
    ):
        raise InvalidMessageError(Problem.INVALID_URL, field=name)


def _check_msg_uuid(value: object) -> None:
    """Require a non-empty msgUuid without whitespace."""
    if any(char.isspace() for char in _check_text(value, "msg_uuid")):
        raise InvalidMessageError(Problem.INVALID_VALUE, field="msg_uuid")


def _as_tuple(value: object, name: str) -> tuple[object, ...]:
    """Return a sequence (not a string) as a tuple."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidMessageError(Problem.INVALID_VALUE, field=name)
    return tuple(value)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    """Return the values stripped, without duplicates, in order."""
    return tuple(dict.fromkeys(value.strip() for value in values))


@dataclass(frozen=True, slots=True)
class Mentions:
    """Hold whom a text or markdown message mentions (DingTalk's top-level ``at``)."""

    mobiles: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    at_all: bool = False

    def __post_init__(self) -> None:
        """Normalise to stripped, de-duplicated tuples and validate."""
        mobiles = _as_tuple(self.mobiles, "mobiles")
        user_ids = _as_tuple(self.user_ids, "user_ids")
        if not all(isinstance(value, str) for value in (*mobiles, *user_ids)):
            raise InvalidMessageError(Problem.INVALID_VALUE, field="mentions")
        object.__setattr__(self, "mobiles", _unique(str(value) for value in mobiles))
        object.__setattr__(self, "user_ids", _unique(str(value) for value in user_ids))
        for mobile in self.mobiles:
            if not MOBILE_RE.fullmatch(mobile):
                raise InvalidMessageError(Problem.INVALID_MOBILE, value=mobile)
        for user_id in self.user_ids:
            if not USER_ID_RE.fullmatch(user_id):
                raise InvalidMessageError(Problem.INVALID_USER_ID, value=user_id)
        if not isinstance(self.at_all, bool):
            raise InvalidMessageError(Problem.INVALID_VALUE, field="at_all")

    def __bool__(self) -> bool:
        """Return whether anyone is mentioned."""
        return bool(self.mobiles or self.user_ids or self.at_all)

    @property
    def handles(self) -> tuple[str, ...]:
        """Return what follows '@' in the body for each mention (mobiles, then ids)."""
        return self.mobiles + self.user_ids

    def merge(self, other: Mentions) -> Mentions:
        """Return the union of both mentions."""
        return Mentions(
            mobiles=self.mobiles + other.mobiles,
            user_ids=self.user_ids + other.user_ids,
            at_all=self.at_all or other.at_all,
        )

    def to_payload(self) -> dict[str, Any]:
        """Return DingTalk's ``at`` object."""
        return {
            "atMobiles": list(self.mobiles),
            "atUserIds": list(self.user_ids),
            "isAtAll": self.at_all,
        }


NO_MENTIONS: Final = Mentions()
"""Mention nobody."""


@dataclass(frozen=True, kw_only=True, slots=True)
class _MessageBase:
    """Hold what every message has: DingTalk's msgUuid idempotency key."""

    msgtype: ClassVar[str]
    msg_uuid: str = field(default_factory=_new_msg_uuid)

    def _envelope(
        self, body: dict[str, Any], mentions: Mentions = NO_MENTIONS
    ) -> dict[str, Any]:
        """Wrap the type object with msgtype, at (when anyone is mentioned), msgUuid."""
        payload: dict[str, Any] = {"msgtype": self.msgtype, self.msgtype: body}
        if mentions:
            payload["at"] = mentions.to_payload()
        payload["msgUuid"] = self.msg_uuid
        return payload


def _check_mentions(value: object) -> None:
    """Require a Mentions instance."""
    if not isinstance(value, Mentions):
        raise InvalidMessageError(Problem.INVALID_VALUE, field="mentions")


@dataclass(frozen=True, kw_only=True, slots=True)
class Text(_MessageBase):
    """Send plain text; mentions ring only when '@<mobile or id>' is in the content."""

    msgtype: ClassVar[str] = "text"
    content: str
    mentions: Mentions = NO_MENTIONS

    def __post_init__(self) -> None:
        """Validate the message."""
        _check_msg_uuid(self.msg_uuid)
        _check_text(self.content, "content")
        _check_mentions(self.mentions)

    def to_payload(self) -> dict[str, Any]:
        """Return DingTalk's JSON for this message."""
        return self._envelope({"content": self.content}, self.mentions)


@dataclass(frozen=True, kw_only=True, slots=True)
class Markdown(_MessageBase):
    """Send markdown; the title shows in the chat list and notification only."""

    msgtype: ClassVar[str] = "markdown"
    title: str
    text: str
    mentions: Mentions = NO_MENTIONS

    def __post_init__(self) -> None:
        """Validate the message."""
        _check_msg_uuid(self.msg_uuid)
        _check_text(self.title, "title")
        _check_text(self.text, "text")
        _check_mentions(self.mentions)

    def to_payload(self) -> dict[str, Any]:
        """Return DingTalk's JSON for this message."""
        return self._envelope({"title": self.title, "text": self.text}, self.mentions)


@dataclass(frozen=True, kw_only=True, slots=True)
class Link(_MessageBase):
    """Send a link card with a title, a text, a target URL and an optional picture."""

    msgtype: ClassVar[str] = "link"
    title: str
    text: str
    message_url: str
    pic_url: str | None = None

    def __post_init__(self) -> None:
        """Validate the message."""
        _check_msg_uuid(self.msg_uuid)
        _check_text(self.title, "title")
        _check_text(self.text, "text")
        _check_url(self.message_url, "message_url")
        if self.pic_url is not None:
            _check_url(self.pic_url, "pic_url")

    def to_payload(self) -> dict[str, Any]:
        """Return DingTalk's JSON for this message."""
        body = {"title": self.title, "text": self.text, "messageUrl": self.message_url}
        if self.pic_url is not None:
            body["picUrl"] = self.pic_url
        return self._envelope(body)


@dataclass(frozen=True, kw_only=True, slots=True)
class ActionButton:
    """Hold one button of an actionCard."""

    title: str
    action_url: str

    def __post_init__(self) -> None:
        """Validate the button."""
        _check_text(self.title, "button.title")
        _check_url(self.action_url, "button.action_url")

    def to_payload(self) -> dict[str, str]:
        """Return DingTalk's JSON for this button."""
        return {"title": self.title, "actionURL": self.action_url}


class ButtonOrientation(StrEnum):
    """Lay actionCard buttons out vertically ("0") or side by side ("1")."""

    VERTICAL = "0"
    HORIZONTAL = "1"


@dataclass(frozen=True, kw_only=True, slots=True)
class ActionCard(_MessageBase):
    """Send a markdown card with one whole-card button or several buttons."""

    msgtype: ClassVar[str] = "actionCard"
    title: str
    text: str
    single_title: str | None = None
    single_url: str | None = None
    buttons: tuple[ActionButton, ...] = ()
    orientation: ButtonOrientation | None = None

    def __post_init__(self) -> None:
        """Validate: exactly one of (single_title and single_url) or buttons."""
        _check_msg_uuid(self.msg_uuid)
        _check_text(self.title, "title")
        _check_text(self.text, "text")
        buttons = _as_tuple(self.buttons, "buttons")
        if not all(isinstance(button, ActionButton) for button in buttons):
            raise InvalidMessageError(Problem.INVALID_VALUE, field="buttons")
        object.__setattr__(self, "buttons", buttons)
        if self.single_title is not None or self.single_url is not None:
            _check_text(self.single_title, "single_title")
            _check_url(self.single_url, "single_url")
            if buttons:
                raise InvalidMessageError(Problem.BUTTONS_CONFLICT, field="buttons")
        elif not buttons:
            raise InvalidMessageError(Problem.BUTTON_REQUIRED, field="buttons")
        if self.orientation is not None:
            try:
                orientation = ButtonOrientation(self.orientation)
            except ValueError:
                raise InvalidMessageError(
                    Problem.INVALID_VALUE, field="orientation"
                ) from None
            object.__setattr__(self, "orientation", orientation)

    def to_payload(self) -> dict[str, Any]:
        """Return DingTalk's JSON for this message."""
        body: dict[str, Any] = {"title": self.title, "text": self.text}
        if self.single_title is not None:
            body["singleTitle"] = self.single_title
            body["singleURL"] = self.single_url
        else:
            body["btns"] = [button.to_payload() for button in self.buttons]
        if self.orientation is not None:
            body["btnOrientation"] = self.orientation.value
        return self._envelope(body)


@dataclass(frozen=True, kw_only=True, slots=True)
class FeedLink:
    """Hold one entry of a feedCard; all three fields are required."""

    title: str
    message_url: str
    pic_url: str

    def __post_init__(self) -> None:
        """Validate the entry."""
        _check_text(self.title, "link.title")
        _check_url(self.message_url, "link.message_url")
        _check_url(self.pic_url, "link.pic_url")

    def to_payload(self) -> dict[str, str]:
        """Return DingTalk's JSON for this entry."""
        return {
            "title": self.title,
            "messageURL": self.message_url,
            "picURL": self.pic_url,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class FeedCard(_MessageBase):
    """Send a list of linked titles with pictures."""

    msgtype: ClassVar[str] = "feedCard"
    links: tuple[FeedLink, ...]

    def __post_init__(self) -> None:
        """Validate: at least one FeedLink."""
        _check_msg_uuid(self.msg_uuid)
        links = _as_tuple(self.links, "links")
        if not links:
            raise InvalidMessageError(Problem.LINK_REQUIRED, field="links")
        if not all(isinstance(link, FeedLink) for link in links):
            raise InvalidMessageError(Problem.INVALID_VALUE, field="links")
        object.__setattr__(self, "links", links)

    def to_payload(self) -> dict[str, Any]:
        """Return DingTalk's JSON for this message."""
        return self._envelope({"links": [link.to_payload() for link in self.links]})


type Message = Text | Markdown | Link | ActionCard | FeedCard
"""Any message a webhook robot can send."""

MESSAGE_TYPES: Final = (Text, Markdown, Link, ActionCard, FeedCard)
"""The classes of ``Message``, for isinstance checks."""


def payload_size(message: Message) -> int:
    """Return the size in bytes of the body the client would send for ``message``."""
    return len(serialize_payload(message.to_payload()))
