"""Turn Home Assistant action data into DingTalk messages."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
import re
from typing import TYPE_CHECKING, Any, Final

from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
import probatio

from .api import (
    MOBILE_RE,
    ActionButton,
    ActionCard,
    ButtonOrientation,
    FeedCard,
    FeedLink,
    Image,
    InvalidMessageError,
    Link,
    Markdown,
    Mentions,
    Message,
    Text,
)
from .const import (
    ATTR_AT_ALL,
    ATTR_AT_MOBILES,
    ATTR_AT_USER_IDS,
    ATTR_BUTTON_TITLE,
    ATTR_BUTTON_URL,
    ATTR_BUTTONS,
    ATTR_IMAGE,
    ATTR_LINKS,
    ATTR_MSGTYPE,
    ATTR_ORIENTATION,
    ATTR_PICTURE,
    ATTR_URL,
    DOMAIN,
    MAX_MENTIONS,
    MAX_MESSAGE_BYTES,
    DingTalkFormat,
    DingTalkMsgType,
    DingTalkOrientation,
)
from .delivery import invalid_message

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

ATTR_TITLE: Final = "title"
ATTR_MESSAGE: Final = "message"

_USER_ID_RE: Final = re.compile(r"[^\s@]{1,64}")

# Markdown that derive_title removes from a line before using it as a title.
_TITLE_RULE: Final = re.compile(r"\s*([-*_])(?:\s*\1){2,}\s*")  # ---, ***, ___
_TITLE_IMAGE: Final = re.compile(r"!\[[^\]]*\]\([^)]*\)")  # ![alt](url): removed
_TITLE_LINK: Final = re.compile(r"\[([^\]]*)\]\([^)]*\)")  # [text](url): text
_TITLE_EMPHASIS: Final = re.compile(r"(\*{1,3}|__|`+)(?=\S)(.+?)(?<=\S)\1")
_TITLE_MARKERS: Final = re.compile(
    r"^(?:\s*(?:#+|>|[-+*](?=\s|$)|\d+[.)](?=\s|$)))+"  # heading, quote, list
)
_TITLE_CLOSING: Final = re.compile(r"\s+#+\s*$")  # "## Title ##"
_TITLE_SCAN: Final = 1024  # characters of a line examined: bounds the regex work
MAX_DERIVED_TITLE: Final = 64
FALLBACK_TITLE: Final = "Home Assistant"

MSGTYPE_ALIASES: Final[Mapping[str, DingTalkMsgType]] = {
    "actioncard": DingTalkMsgType.ACTION_CARD,
    "feedcard": DingTalkMsgType.FEED_CARD,
}

BUTTON_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(ATTR_TITLE): cv.string,
        probatio.Required(ATTR_URL): cv.string,
    }
)
FEED_LINK_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(ATTR_TITLE): cv.string,
        probatio.Required(ATTR_URL): cv.string,
        probatio.Required(ATTR_PICTURE): cv.string,
    }
)

MESSAGE_FIELDS: Final[dict[probatio.Marker, Any]] = {
    probatio.Optional(ATTR_MSGTYPE): cv.string,
    probatio.Optional(ATTR_AT_MOBILES): probatio.All(cv.ensure_list_csv, [cv.string]),
    probatio.Optional(ATTR_AT_USER_IDS): probatio.All(cv.ensure_list_csv, [cv.string]),
    probatio.Optional(ATTR_AT_ALL): cv.boolean,
    probatio.Optional(ATTR_URL): cv.string,
    probatio.Optional(ATTR_PICTURE): cv.string,
    probatio.Optional(ATTR_BUTTON_TITLE): cv.string,
    probatio.Optional(ATTR_BUTTON_URL): cv.string,
    probatio.Optional(ATTR_BUTTONS): probatio.All(cv.ensure_list, [BUTTON_SCHEMA]),
    probatio.Optional(ATTR_ORIENTATION): cv.string,
    probatio.Optional(ATTR_LINKS): probatio.All(cv.ensure_list, [FEED_LINK_SCHEMA]),
    probatio.Optional(ATTR_IMAGE): cv.string,
}
"""Fields shared by dingtalk.send_message and the `data` of the legacy actions."""

DATA_SCHEMA: Final = probatio.Schema(MESSAGE_FIELDS)
DATA_KEYS: Final = tuple(str(marker) for marker in MESSAGE_FIELDS)

# Fields each message type accepts besides title, message and mentions.
_TYPE_FIELDS: Final[Mapping[DingTalkMsgType, frozenset[str]]] = {
    DingTalkMsgType.TEXT: frozenset(),
    DingTalkMsgType.MARKDOWN: frozenset({ATTR_IMAGE}),
    DingTalkMsgType.LINK: frozenset({ATTR_URL, ATTR_PICTURE, ATTR_IMAGE}),
    DingTalkMsgType.ACTION_CARD: frozenset(
        {ATTR_BUTTON_TITLE, ATTR_BUTTON_URL, ATTR_BUTTONS, ATTR_ORIENTATION, ATTR_IMAGE}
    ),
    DingTalkMsgType.FEED_CARD: frozenset({ATTR_LINKS}),
}
_MENTION_TYPES: Final = frozenset({DingTalkMsgType.TEXT, DingTalkMsgType.MARKDOWN})

# Errors name fields and types with the labels of the action's form, in the user's
# language. Placeholders are shown verbatim (untranslated), so each case has its own
# exception key, whose texts hold the labels.
NOT_SUPPORTED_KEYS: Final[Mapping[str, str]] = {
    field: f"{field}_not_supported"
    for field in (
        ATTR_URL,
        ATTR_PICTURE,
        ATTR_BUTTON_TITLE,
        ATTR_BUTTON_URL,
        ATTR_BUTTONS,
        ATTR_ORIENTATION,
        ATTR_LINKS,
        ATTR_IMAGE,
    )
}
"""The error of a rich field set on a message type that does not take it."""
CANNOT_MENTION_KEYS: Final[Mapping[DingTalkMsgType, str]] = {
    msgtype: f"{msgtype}_cannot_mention"
    for msgtype in DingTalkMsgType
    if msgtype not in _MENTION_TYPES
}
"""The error of mentions in a message type that cannot mention anyone."""


def _invalid(translation_key: str, **placeholders: str) -> ServiceValidationError:
    """Build a translated validation error."""
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=translation_key,
        translation_placeholders=placeholders or None,
    )


def _text(value: object) -> str | None:
    """Return a stripped string, or None when empty."""
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


@dataclass(frozen=True, slots=True, kw_only=True)
class DingTalkRequest:
    """Hold what an action asked to send, before it becomes a DingTalk message."""

    message: str | None = None
    title: str | None = None
    msgtype: DingTalkMsgType | None = None
    at_mobiles: tuple[str, ...] = ()
    at_user_ids: tuple[str, ...] = ()
    at_all: bool = False
    url: str | None = None
    picture: str | None = None
    button_title: str | None = None
    button_url: str | None = None
    buttons: tuple[ActionButton, ...] = ()
    orientation: DingTalkOrientation | None = None
    links: tuple[FeedLink, ...] = ()
    image: str | None = None
    """Where the picture comes from (a camera, a file, a URL…), not yet loaded."""

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> DingTalkRequest:
        """Build a request from schema-validated fields; raise if they are wrong."""
        return cls(
            message=_text(fields.get(ATTR_MESSAGE)),
            title=_text(fields.get(ATTR_TITLE)),
            msgtype=_msgtype(fields.get(ATTR_MSGTYPE)),
            at_mobiles=_mobiles(fields.get(ATTR_AT_MOBILES) or ()),
            at_user_ids=_user_ids(fields.get(ATTR_AT_USER_IDS) or ()),
            at_all=bool(fields.get(ATTR_AT_ALL, False)),
            url=_text(fields.get(ATTR_URL)),
            picture=_text(fields.get(ATTR_PICTURE)),
            button_title=_text(fields.get(ATTR_BUTTON_TITLE)),
            button_url=_text(fields.get(ATTR_BUTTON_URL)),
            buttons=tuple(
                _model(
                    ActionButton, title=button[ATTR_TITLE], action_url=button[ATTR_URL]
                )
                for button in fields.get(ATTR_BUTTONS) or ()
            ),
            orientation=_orientation(fields.get(ATTR_ORIENTATION)),
            links=tuple(
                _model(
                    FeedLink,
                    title=link[ATTR_TITLE],
                    message_url=link[ATTR_URL],
                    pic_url=link[ATTR_PICTURE],
                )
                for link in fields.get(ATTR_LINKS) or ()
            ),
            image=_text(fields.get(ATTR_IMAGE)),
        )

    @classmethod
    def from_legacy(
        cls, message: str, title: str | None, data: Mapping[str, Any] | None
    ) -> DingTalkRequest:
        """Build a request from a legacy notify call; name any unknown data key."""
        data = dict(data or {})
        for key in data:
            if key not in DATA_KEYS:
                raise _invalid(
                    "unknown_data_key", key=str(key), allowed=", ".join(DATA_KEYS)
                )
        try:
            fields = DATA_SCHEMA(data)
        except probatio.Invalid as err:
            # Name the key; probatio's English explanation stays out of the message.
            key = str(err.path[0]) if err.path else "data"
            raise _invalid("data_invalid", key=key) from err
        return cls.from_fields({**fields, ATTR_MESSAGE: message, ATTR_TITLE: title})

    def resolve_type(self, default_format: DingTalkFormat) -> DingTalkMsgType:
        """Return the explicit message type, or the one the fields imply."""
        if self.msgtype is not None:
            return self.msgtype
        if self.links:
            return DingTalkMsgType.FEED_CARD
        if self.buttons or self.button_title or self.button_url:
            return DingTalkMsgType.ACTION_CARD
        if self.url:
            return DingTalkMsgType.LINK
        if (
            self.image
            or default_format is DingTalkFormat.MARKDOWN
            or (default_format is DingTalkFormat.AUTO and self.title)
        ):
            return DingTalkMsgType.MARKDOWN
        return DingTalkMsgType.TEXT

    def _set_fields(self) -> set[str]:
        """Return the names of the rich fields this request sets."""
        values = {
            ATTR_URL: self.url,
            ATTR_PICTURE: self.picture,
            ATTR_BUTTON_TITLE: self.button_title,
            ATTR_BUTTON_URL: self.button_url,
            ATTR_BUTTONS: self.buttons,
            ATTR_ORIENTATION: self.orientation,
            ATTR_LINKS: self.links,
            ATTR_IMAGE: self.image,
        }
        return {name for name, value in values.items() if value}

    def build(
        self,
        default_format: DingTalkFormat,
        *,
        image: str | None = None,
        image_message: bool = False,
    ) -> Message | Image:
        """Build the DingTalk message; raise ServiceValidationError on bad input.

        ``image`` is the loaded picture's reference (a URL, or an uploaded media
        id). A picture alone becomes an image message where ``image_message`` (app
        robots), else markdown showing it.
        """
        if self.image and image is None:
            raise ValueError("the request's image must be loaded before build()")
        if image is None:
            return self.build_fields(default_format)
        alone = not (
            self.message
            or self.title
            or self.msgtype
            or self.at_mobiles
            or self.at_user_ids
            or self.at_all
            or self._set_fields() - {ATTR_IMAGE}
        )
        if alone and image_message:
            return Image(photo_url=image)
        return self._with_image(image, uploaded=image_message).build_fields(
            default_format
        )

    def _with_image(self, image: str, *, uploaded: bool) -> DingTalkRequest:
        """Return the request with the picture shown in its text, or as its picture.

        A link card's picture must be a URL: an uploaded picture (a media id) cannot
        be one (whether DingTalk's sampleLink takes a media id is UNCONFIRMED).
        """
        if self.resolve_type(DingTalkFormat.AUTO) is DingTalkMsgType.LINK:
            if self.picture:
                raise _invalid("link_picture_twice")
            if uploaded:
                raise _invalid("link_picture_uploaded")
            return replace(self, picture=image, image=None)
        shown = f"![]({image})"
        message = f"{self.message}\n\n{shown}" if self.message else shown
        return replace(self, message=message)

    def build_fields(self, default_format: DingTalkFormat) -> Message:
        """Build the message of the fields (a picture already in its text)."""
        msgtype = self.resolve_type(default_format)
        if extra := sorted(self._set_fields() - _TYPE_FIELDS[msgtype]):
            raise _invalid(NOT_SUPPORTED_KEYS[extra[0]])
        mentions = _model(
            Mentions,
            mobiles=self.at_mobiles,
            user_ids=self.at_user_ids,
            at_all=self.at_all,
        )
        if msgtype not in _MENTION_TYPES and (
            self.at_mobiles or self.at_user_ids or self.at_all
        ):
            raise _invalid(CANNOT_MENTION_KEYS[msgtype])
        builders: dict[DingTalkMsgType, Callable[[], Message]] = {
            DingTalkMsgType.TEXT: partial(self._text_message, mentions),
            DingTalkMsgType.MARKDOWN: partial(self._markdown_message, mentions),
            DingTalkMsgType.LINK: self._link_message,
            DingTalkMsgType.ACTION_CARD: self._action_card_message,
            DingTalkMsgType.FEED_CARD: self._feed_card_message,
        }
        message = builders[msgtype]()
        check_bounds(message)
        return message

    def _text_message(self, mentions: Mentions) -> Message:
        """Build a text message; a title becomes the first line."""
        parts = [part for part in (self.title, self.message) if part]
        if not parts:
            raise _invalid("text_needs_message")
        return _model(Text, content="\n".join(parts), mentions=mentions)

    def _markdown_message(self, mentions: Mentions) -> Message:
        """Build markdown; the title also becomes a heading, as DingTalk hides it."""
        if self.title:
            body = f"### {self.title}"
            if self.message:
                body = f"{body}\n\n{self.message}"
            return _model(Markdown, title=self.title, text=body, mentions=mentions)
        if not self.message:
            raise _invalid("markdown_needs_message")
        return _model(
            Markdown,
            title=derive_title(self.message),
            text=self.message,
            mentions=mentions,
        )

    def _link_message(self) -> Message:
        """Build a link message: title, text and url are required."""
        _require(
            ("link_needs_title", self.title),
            ("link_needs_message", self.message),
            ("link_needs_url", self.url),
        )
        return _model(
            Link,
            title=self.title,
            text=self.message,
            message_url=self.url,
            pic_url=self.picture,
        )

    def _action_card_message(self) -> Message:
        """Build an action card with one button or a list of buttons."""
        if not self.message:
            raise _invalid("action_card_needs_message")
        single = bool(self.button_title or self.button_url)
        if single and self.buttons:
            raise _invalid("conflicting_buttons")
        if single:
            _require(
                ("action_card_needs_button_title", self.button_title),
                ("action_card_needs_button_url", self.button_url),
            )
        elif not self.buttons:
            raise _invalid("action_card_needs_buttons")
        # DingTalk does not show actionCard.title in the card: write it as a heading.
        return _model(
            ActionCard,
            title=self.title or derive_title(self.message),
            text=f"### {self.title}\n\n{self.message}" if self.title else self.message,
            single_title=self.button_title,
            single_url=self.button_url,
            buttons=self.buttons,
            orientation=(
                None
                if self.orientation is None
                else ButtonOrientation.HORIZONTAL
                if self.orientation is DingTalkOrientation.HORIZONTAL
                else ButtonOrientation.VERTICAL
            ),
        )

    def _feed_card_message(self) -> Message:
        """Build a feed card; title and message are not part of it."""
        _require(("feed_card_needs_links", self.links))
        return _model(FeedCard, links=self.links)


def _require(*checks: tuple[str, object]) -> None:
    """Raise the error of the first required field that is empty."""
    for translation_key, value in checks:
        if not value:
            raise _invalid(translation_key)


def derive_title(message: str) -> str:
    """Derive a conversation-list title from the first line of a message with text.

    The title is plain text, so markdown is removed: rules, images, link targets,
    emphasis and code markers, and heading, quote and list markers.
    """
    for full_line in message.splitlines():
        line = full_line[:_TITLE_SCAN]
        if _TITLE_RULE.fullmatch(line):
            continue
        text = _TITLE_LINK.sub(r"\1", _TITLE_IMAGE.sub("", line))
        while (plain := _TITLE_EMPHASIS.sub(r"\2", text)) != text:
            text = plain
        text = _TITLE_CLOSING.sub("", _TITLE_MARKERS.sub("", text)).strip()
        if text:
            return text[:MAX_DERIVED_TITLE]
    return FALLBACK_TITLE


def _msgtype(value: object) -> DingTalkMsgType | None:
    """Return the message type a user named, accepting DingTalk's own spelling."""
    if value is None or not str(value).strip():
        return None
    key = str(value).strip().lower().replace("-", "_")
    if key in MSGTYPE_ALIASES:
        return MSGTYPE_ALIASES[key]
    try:
        return DingTalkMsgType(key)
    except ValueError:
        raise _invalid(
            "invalid_msgtype",
            value=str(value),
            allowed=", ".join(DingTalkMsgType),
        ) from None


def _orientation(value: object) -> DingTalkOrientation | None:
    """Return the button orientation a user named."""
    if value is None or not str(value).strip():
        return None
    try:
        return DingTalkOrientation(str(value).strip().lower())
    except ValueError:
        raise _invalid(
            "invalid_orientation",
            value=str(value),
            allowed=", ".join(DingTalkOrientation),
        ) from None


def _mobiles(values: Iterable[object]) -> tuple[str, ...]:
    """Validate mobiles to mention; name the first bad one."""
    mobiles: list[str] = []
    for value in values:
        mobile = str(value).strip().replace(" ", "")
        if not mobile:
            continue
        if not MOBILE_RE.fullmatch(mobile):
            raise _invalid("invalid_mobile", mobile=str(value))
        mobiles.append(mobile)
    return tuple(mobiles)


def _user_ids(values: Iterable[object]) -> tuple[str, ...]:
    """Validate DingTalk user ids to mention; name the first bad one."""
    user_ids: list[str] = []
    for value in values:
        user_id = str(value).strip()
        if not user_id:
            continue
        if not _USER_ID_RE.fullmatch(user_id):
            raise _invalid("invalid_user_id", user_id=str(value))
        user_ids.append(user_id)
    return tuple(user_ids)


def _model[T](cls: Callable[..., T], **kwargs: object) -> T:
    """Build a client model, turning its validation error into a translated one."""
    try:
        return cls(**kwargs)
    except InvalidMessageError as err:
        raise invalid_message(err) from err


def check_bounds(message: Message) -> None:
    """Refuse a message over MAX_MESSAGE_BYTES of text or MAX_MENTIONS mentions."""
    if isinstance(message, Text | Markdown):
        if len(message.mentions.handles) > MAX_MENTIONS:
            raise _invalid("input_too_many_mentions", limit=str(MAX_MENTIONS))
        texts = (
            (message.content,)
            if isinstance(message, Text)
            else (message.title, message.text)
        )
        # Characters first: no encoding of a huge text just to refuse it.
        if sum(len(text) for text in texts) > MAX_MESSAGE_BYTES or (
            sum(len(text.encode()) for text in texts) > MAX_MESSAGE_BYTES
        ):
            raise _invalid("input_too_long", limit=str(MAX_MESSAGE_BYTES))
