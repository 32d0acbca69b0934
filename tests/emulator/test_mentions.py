"""Which @mentions ring, which are silent, and what DingTalk silently ignores."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dingtalk_emulator import MENTION_IGNORED, Notice
from dingtalk_emulator.testing import TEST_TOKEN

from .helpers import send, text

if TYPE_CHECKING:
    from collections.abc import Callable

    from dingtalk_emulator import DeliveredMessage, Emulator, RobotConfig

    type MakeRobot = Callable[..., RobotConfig]


def _deliver(emulator: Emulator, payload: dict[str, object]) -> DeliveredMessage:
    """Send a payload to a fresh unsigned robot and return the delivered message."""
    result = send(emulator, TEST_TOKEN, payload, secret=None)
    assert result.record.ok, result.record.errmsg
    assert result.message is not None
    return result.message


@pytest.fixture(autouse=True)
def _robot(make_robot: MakeRobot) -> None:
    """Every test here sends to an unsigned robot."""
    make_robot(secret=None)


def test_rang_and_silent(emulator: Emulator) -> None:
    """Listed and written as @X rings; listed but not written is silent."""
    message = _deliver(
        emulator,
        text(
            "disk full @13800000000 @alice",
            at={"atMobiles": ["13800000000", "13900000000"], "atUserIds": ["alice"]},
        ),
    )
    assert message.rang == ("13800000000", "alice")
    assert message.silent == ("13900000000",)
    assert not message.at_all
    assert message.mentions.notices == ()


def test_written_but_not_listed_does_not_ring(emulator: Emulator) -> None:
    """@X in the text without listing X in "at" is just text."""
    message = _deliver(emulator, text("hello @13800000000"))
    assert message.rang == message.silent == ()


def test_prefix_is_not_a_mention(emulator: Emulator) -> None:
    """@138000000001 does not ring 13800000000."""
    message = _deliver(
        emulator, text("@138000000001 @bob_x", at={"atMobiles": ["13800000000"]})
    )
    assert message.silent == ("13800000000",)


def test_at_all(emulator: Emulator) -> None:
    """An "isAtAll" of true, or the string "true", mentions everyone."""
    assert _deliver(emulator, text("x", at={"isAtAll": True})).at_all
    assert _deliver(emulator, text("x", at={"isAtAll": "true"})).at_all
    assert not _deliver(emulator, text("x", at={"isAtAll": "no"})).at_all


def test_numbers_and_duplicates_in_lists(emulator: Emulator) -> None:
    """Numeric mobiles count; duplicates, booleans, empties and junk are dropped."""
    message = _deliver(
        emulator,
        text(
            "@13800000000",
            at={"atMobiles": [13800000000, "13800000000", True, "", None]},
        ),
    )
    assert message.rang == ("13800000000",)
    assert _deliver(emulator, text("x", at={"atMobiles": "138"})).silent == ()


@pytest.mark.parametrize(
    ("payload", "rang"),
    [
        (
            {
                "msgtype": "markdown",
                "markdown": {"title": "t", "text": "### x\n@alice"},
                "at": {"atUserIds": ["alice"]},
            },
            ("alice",),
        ),
        (
            {
                "msgtype": "markdown",
                "markdown": {"title": "@alice", "text": "x"},
                "at": {"atUserIds": ["alice"]},
            },
            (),
        ),
        (
            {
                "msgtype": "actionCard",
                "actionCard": {
                    "title": "t",
                    "text": "@alice",
                    "singleTitle": "a",
                    "singleURL": "u",
                },
                "at": {"atUserIds": ["alice"]},
            },
            ("alice",),
        ),
    ],
)
def test_mention_field_per_type(
    emulator: Emulator, payload: dict[str, object], rang: tuple[str, ...]
) -> None:
    """Markdown mentions go in markdown.text (not the title); actionCard in text."""
    assert _deliver(emulator, payload).rang == rang


def test_link_does_not_support_mentions(emulator: Emulator) -> None:
    """An "at" on a link message: nobody rings, and a notice says why."""
    message = _deliver(
        emulator,
        {
            "msgtype": "link",
            "link": {"title": "@alice", "text": "@alice", "messageUrl": "u"},
            "at": {"atUserIds": ["alice"], "isAtAll": True},
        },
    )
    assert message.rang == ()
    assert message.silent == ("alice",)
    assert not message.at_all
    assert message.mentions.notices == (
        Notice(MENTION_IGNORED, 'link messages do not support "at"'),
    )


def test_top_level_mentions_are_ignored_but_visible(emulator: Emulator) -> None:
    """The widely copied wrong snippet: delivered, nobody notified, logged."""
    message = _deliver(
        emulator,
        text("@13800000000", isAtAll=True, atMobiles=["13800000000"]),
    )
    assert message.rang == message.silent == ()
    assert not message.at_all
    codes = [notice.code for notice in message.mentions.notices]
    assert codes == [MENTION_IGNORED, MENTION_IGNORED]
    assert 'top-level "isAtAll"' in message.mentions.notices[0].detail
    record = emulator.requests[-1]
    assert record.delivered
    assert [n.code for n in record.notices] == [MENTION_IGNORED, MENTION_IGNORED]


def test_at_inside_the_type_object_is_ignored(emulator: Emulator) -> None:
    """An "at" inside the text object is another common mistake."""
    message = _deliver(
        emulator,
        {
            "msgtype": "text",
            "text": {"content": "@alice", "at": {"atUserIds": ["alice"]}},
        },
    )
    assert message.rang == ()
    assert (
        message.mentions.notices[0].detail
        == '"text.at" is ignored: "at" is a top-level key'
    )


def test_notices_also_on_duplicates(emulator: Emulator) -> None:
    """A duplicate's log entry still shows the notices."""
    payload = text("x", isAtAll=True, msgUuid="u")
    _deliver(emulator, payload)
    duplicate = send(emulator, TEST_TOKEN, payload, secret=None).record
    assert duplicate.duplicate
    assert duplicate.notices[0].code == MENTION_IGNORED


def test_at_not_an_object(emulator: Emulator) -> None:
    """An "at" that is not an object mentions nobody."""
    message = _deliver(emulator, text("@alice", at=["alice"]))
    assert message.rang == message.silent == ()
