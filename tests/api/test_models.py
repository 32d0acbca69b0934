"""Build every message type and check DingTalk's exact JSON."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
import json
import re
from typing import TYPE_CHECKING, Final

import pytest

from custom_components.dingtalk.api import (
    ActionButton,
    ActionCard,
    ButtonOrientation,
    FeedCard,
    FeedLink,
    InvalidMessageError,
    Link,
    Markdown,
    Mentions,
    Text,
    payload_size,
    serialize_payload,
)

if TYPE_CHECKING:
    from collections.abc import Callable

URL = "https://example.com/a?b=c"
PIC = "https://example.com/p.png"
SLIDE = (
    "dingtalk://dingtalkclient/page/link?url=https%3A%2F%2Fexample.com&pc_slide=true"
)


def test_text_payload() -> None:
    """Serialise a text without mentions: no "at" key."""
    message = Text(content="disk full", msg_uuid="u1")
    assert message.to_payload() == {
        "msgtype": "text",
        "text": {"content": "disk full"},
        "msgUuid": "u1",
    }


def test_text_payload_with_mentions() -> None:
    """Put "at" at the top level beside msgtype, never isAtAll at the top level."""
    message = Text(
        content="disk full",
        mentions=Mentions(mobiles=("13800000000",), user_ids=("user1",), at_all=True),
        msg_uuid="u1",
    )
    payload = message.to_payload()
    assert payload == {
        "msgtype": "text",
        "text": {"content": "disk full"},
        "at": {"atMobiles": ["13800000000"], "atUserIds": ["user1"], "isAtAll": True},
        "msgUuid": "u1",
    }
    assert "isAtAll" not in payload
    assert "at" not in payload["text"]


def test_markdown_payload() -> None:
    """Serialise a markdown with title, text and at."""
    message = Markdown(
        title="Alarm",
        text="# Disk\n\n**full**",
        mentions=Mentions(user_ids=("u-9",)),
        msg_uuid="u2",
    )
    assert message.to_payload() == {
        "msgtype": "markdown",
        "markdown": {"title": "Alarm", "text": "# Disk\n\n**full**"},
        "at": {"atMobiles": [], "atUserIds": ["u-9"], "isAtAll": False},
        "msgUuid": "u2",
    }


def test_link_payload() -> None:
    """Use messageUrl and picUrl (camel-case Url) for a link."""
    message = Link(title="T", text="body", message_url=URL, pic_url=PIC, msg_uuid="u3")
    assert message.to_payload() == {
        "msgtype": "link",
        "link": {"title": "T", "text": "body", "messageUrl": URL, "picUrl": PIC},
        "msgUuid": "u3",
    }


def test_link_payload_without_picture() -> None:
    """Leave picUrl out when there is no picture."""
    message = Link(title="T", text="body", message_url=SLIDE, msg_uuid="u3")
    assert message.to_payload() == {
        "msgtype": "link",
        "link": {"title": "T", "text": "body", "messageUrl": SLIDE},
        "msgUuid": "u3",
    }


def test_action_card_single_payload() -> None:
    """Use singleTitle and singleURL for a whole-card button."""
    message = ActionCard(
        title="T",
        text="## body",
        single_title="Open",
        single_url=URL,
        orientation=ButtonOrientation.HORIZONTAL,
        msg_uuid="u4",
    )
    assert message.to_payload() == {
        "msgtype": "actionCard",
        "actionCard": {
            "title": "T",
            "text": "## body",
            "singleTitle": "Open",
            "singleURL": URL,
            "btnOrientation": "1",
        },
        "msgUuid": "u4",
    }


def test_action_card_buttons_payload() -> None:
    """Use btns[].title/actionURL and btnOrientation for independent buttons."""
    message = ActionCard(
        title="T",
        text="body",
        buttons=(
            ActionButton(title="Yes", action_url=URL),
            ActionButton(title="No", action_url=SLIDE),
        ),
        orientation=ButtonOrientation.VERTICAL,
        msg_uuid="u5",
    )
    assert message.to_payload() == {
        "msgtype": "actionCard",
        "actionCard": {
            "title": "T",
            "text": "body",
            "btns": [
                {"title": "Yes", "actionURL": URL},
                {"title": "No", "actionURL": SLIDE},
            ],
            "btnOrientation": "0",
        },
        "msgUuid": "u5",
    }


def test_action_card_without_orientation() -> None:
    """Leave btnOrientation out when it is not set."""
    message = _build(
        ActionCard,
        title="T",
        text="b",
        buttons=[ActionButton(title="Y", action_url=URL)],
    )
    assert isinstance(message, ActionCard)
    assert "btnOrientation" not in message.to_payload()["actionCard"]
    assert message.buttons == (ActionButton(title="Y", action_url=URL),)


def test_feed_card_payload() -> None:
    """Use messageURL and picURL (upper-case URL) for feedCard links."""
    message = FeedCard(
        links=(
            FeedLink(title="One", message_url=URL, pic_url=PIC),
            FeedLink(title="Two", message_url=SLIDE, pic_url=PIC),
        ),
        msg_uuid="u6",
    )
    assert message.to_payload() == {
        "msgtype": "feedCard",
        "feedCard": {
            "links": [
                {"title": "One", "messageURL": URL, "picURL": PIC},
                {"title": "Two", "messageURL": SLIDE, "picURL": PIC},
            ]
        },
        "msgUuid": "u6",
    }


@pytest.mark.parametrize(
    "message",
    [
        Link(title="T", text="b", message_url=URL),
        ActionCard(title="T", text="b", single_title="S", single_url=URL),
        FeedCard(links=(FeedLink(title="T", message_url=URL, pic_url=PIC),)),
    ],
)
def test_no_at_for_link_action_card_feed_card(
    message: Link | ActionCard | FeedCard,
) -> None:
    """Never send "at" for types that cannot mention."""
    assert "at" not in message.to_payload()


def test_msg_uuid_default_is_fresh() -> None:
    """Give every message its own 32-hex msgUuid."""
    first, second = Text(content="a"), Text(content="a")
    assert re.fullmatch(r"[0-9a-f]{32}", first.msg_uuid)
    assert first.msg_uuid != second.msg_uuid
    assert first.to_payload()["msgUuid"] == first.msg_uuid


def test_messages_are_frozen_and_hashable() -> None:
    """Refuse mutation; compare and hash by value."""
    message = Text(content="a", msg_uuid="x")
    with pytest.raises(FrozenInstanceError):
        message.content = "b"  # type: ignore[misc]
    assert message == Text(content="a", msg_uuid="x")
    assert hash(message) == hash(Text(content="a", msg_uuid="x"))


def test_orientation_accepts_its_string_value() -> None:
    """Turn "1" into ButtonOrientation.HORIZONTAL."""
    message = ActionCard(
        title="T",
        text="b",
        single_title="S",
        single_url=URL,
        orientation="1",  # type: ignore[arg-type]
    )
    assert message.orientation is ButtonOrientation.HORIZONTAL


def test_mentions_normalise() -> None:
    """Strip, de-duplicate and tuple-ise mentions; accept loose mobile formats."""
    mentions = Mentions(
        mobiles=[" 13800000000", "13800000000", "+86-138-0000-0001"],  # type: ignore[arg-type]
        user_ids=["user1", "user1 "],  # type: ignore[arg-type]
    )
    assert mentions.mobiles == ("13800000000", "+86-138-0000-0001")
    assert mentions.user_ids == ("user1",)
    assert mentions.handles == ("13800000000", "+86-138-0000-0001", "user1")
    assert mentions
    assert not Mentions()
    assert Mentions(at_all=True)


def test_mentions_merge() -> None:
    """Merge two mention sets in order without duplicates."""
    merged = Mentions(mobiles=("13800000000",)).merge(
        Mentions(mobiles=("13800000000", "13900000000"), user_ids=("u",), at_all=True)
    )
    assert merged == Mentions(
        mobiles=("13800000000", "13900000000"), user_ids=("u",), at_all=True
    )


def _build(cls: Callable[..., object], **fields: object) -> object:
    """Call ``cls`` with fields of the wrong type on purpose (no static check)."""
    return cls(**fields)


CARD: Final[dict[str, object]] = {"title": "T", "text": "b"}
SINGLE: Final[dict[str, object]] = {**CARD, "single_title": "S", "single_url": URL}
BUTTON = ActionButton(title="B", action_url=URL)

INVALID: Final[dict[str, Callable[[], object]]] = {
    "empty content": lambda: Text(content=""),
    "blank content": lambda: Text(content=" \n\t"),
    "non-str content": lambda: _build(Text, content=5),
    "lone surrogate": lambda: Text(content="bad \ud800"),
    "empty msg_uuid": lambda: Text(content="a", msg_uuid=""),
    "msg_uuid with space": lambda: Text(content="a", msg_uuid="a b"),
    "mentions not Mentions": lambda: _build(Text, content="a", mentions=("1",)),
    "markdown no title": lambda: Markdown(title="", text="b"),
    "markdown no text": lambda: Markdown(title="T", text=" "),
    "link no title": lambda: Link(title="", text="b", message_url=URL),
    "link no text": lambda: Link(title="T", text="", message_url=URL),
    "link ftp": lambda: Link(title="T", text="b", message_url="ftp://x/y"),
    "link no scheme": lambda: Link(title="T", text="b", message_url="x.com/y"),
    "link no host": lambda: Link(title="T", text="b", message_url="https://"),
    "link space": lambda: Link(title="T", text="b", message_url="http://a/b c"),
    "link bad ipv6": lambda: Link(title="T", text="b", message_url="http://[::1"),
    "link bad pic": lambda: Link(
        title="T", text="b", message_url=URL, pic_url="javascript:x"
    ),
    "card nothing": lambda: _build(ActionCard, **CARD),
    "card single title only": lambda: _build(ActionCard, **CARD, single_title="S"),
    "card single url only": lambda: _build(ActionCard, **CARD, single_url=URL),
    "card single bad url": lambda: _build(
        ActionCard, **CARD, single_title="S", single_url="mailto:a@b"
    ),
    "card both": lambda: _build(ActionCard, **SINGLE, buttons=(BUTTON,)),
    "card buttons not buttons": lambda: _build(ActionCard, **CARD, buttons=("B",)),
    "card buttons a string": lambda: _build(ActionCard, **CARD, buttons="B"),
    "card bad orientation": lambda: _build(ActionCard, **SINGLE, orientation="2"),
    "card no title": lambda: ActionCard(title="", text="b", single_url=URL),
    "button no title": lambda: ActionButton(title="", action_url=URL),
    "button bad url": lambda: ActionButton(title="B", action_url="/relative"),
    "feed empty": lambda: FeedCard(links=()),
    "feed not links": lambda: _build(FeedCard, links=("x",)),
    "feed link no pic": lambda: FeedLink(title="T", message_url=URL, pic_url=""),
    "feed link bad url": lambda: FeedLink(title="T", message_url="x", pic_url=PIC),
    "feed link no title": lambda: FeedLink(title="", message_url=URL, pic_url=PIC),
    "mobile letters": lambda: Mentions(mobiles=("138abc00000",)),
    "mobile too short": lambda: Mentions(mobiles=("1234",)),
    "mobile double dash": lambda: Mentions(mobiles=("138--00000000",)),
    "mobiles a string": lambda: _build(Mentions, mobiles="13800000000"),
    "mobile not str": lambda: _build(Mentions, mobiles=(13800000000,)),
    "user id with space": lambda: Mentions(user_ids=("a b",)),
    "user id with at": lambda: Mentions(user_ids=("@a",)),
    "user id empty": lambda: Mentions(user_ids=("",)),
    "at_all not bool": lambda: _build(Mentions, at_all=1),
}


@pytest.mark.parametrize("factory", INVALID.values(), ids=INVALID.keys())
def test_validation(factory: Callable[[], object]) -> None:
    """Raise InvalidMessageError (also a ValueError) for every malformed message."""
    with pytest.raises(InvalidMessageError) as excinfo:
        factory()
    assert isinstance(excinfo.value, ValueError)


def test_serialize_payload_is_compact_utf8() -> None:
    """Serialise without spaces and with raw UTF-8, not ASCII escapes."""
    message = Text(content='告警 "x"', msg_uuid="u")
    body = serialize_payload(message.to_payload())
    assert (
        body
        == '{"msgtype":"text","text":{"content":"告警 \\"x\\""},"msgUuid":"u"}'.encode()
    )
    assert json.loads(body) == message.to_payload()
    assert payload_size(message) == len(body)
