"""Prepare messages: mentions into the body, keywords, and splitting to fit."""

from __future__ import annotations

import json
import re

import pytest

from custom_components.dingtalk.api import (
    MAX_BODY_BYTES,
    ActionButton,
    ActionCard,
    BodyTooLargeError,
    FeedCard,
    FeedLink,
    InvalidMessageError,
    Link,
    Markdown,
    Mentions,
    Message,
    Text,
    has_keyword,
    payload_size,
    prepare,
    serialize_payload,
    with_mentions,
)
from custom_components.dingtalk.api.prepare import _json_size

URL = "https://example.com/x"
PIC = "https://example.com/p.png"
MOBILE = "13800000000"


def _only(messages: list[Message]) -> Message:
    """Return the single prepared message."""
    assert len(messages) == 1
    return messages[0]


# Mentions


def test_text_mentions_appended_as_last_line() -> None:
    """Append every missing @handle as a last line; keep the at object."""
    mentions = Mentions(mobiles=(MOBILE,), user_ids=("user1",))
    message = Text(content="disk full", mentions=mentions, msg_uuid="m")
    prepared = _only(prepare(message))
    assert prepared == Text(
        content=f"disk full\n@{MOBILE} @user1", mentions=mentions, msg_uuid="m"
    )
    assert prepared.to_payload()["at"]["atMobiles"] == [MOBILE]


def test_markdown_mentions_appended_as_last_paragraph() -> None:
    """Append mentions to a markdown text after a blank line."""
    message = Markdown(title="T", text="**x**", mentions=Mentions(user_ids=("u1",)))
    prepared = _only(prepare(message))
    assert isinstance(prepared, Markdown)
    assert prepared.text == "**x**\n\n@u1"
    assert prepared.title == "T"


def test_mentions_already_present_are_not_repeated() -> None:
    """Leave a body alone when each @handle is already in it."""
    message = Text(
        content=f"@{MOBILE}, look. cc @user1",
        mentions=Mentions(mobiles=(MOBILE,), user_ids=("user1",)),
    )
    assert _only(prepare(message)) == message


def test_longer_handle_does_not_count_as_mention() -> None:
    """Treat @138000000001 as a different mobile than 13800000000."""
    message = Text(
        content=f"@{MOBILE}1 and @user12",
        mentions=Mentions(mobiles=(MOBILE,), user_ids=("user1",)),
    )
    prepared = _only(prepare(message))
    assert isinstance(prepared, Text)
    assert prepared.content.endswith(f"\n@{MOBILE} @user1")


def test_at_all_adds_nothing_to_the_body() -> None:
    """Rely on isAtAll alone for @all."""
    message = Text(content="all hands", mentions=Mentions(at_all=True))
    prepared = _only(prepare(message))
    assert prepared == message
    assert prepared.to_payload()["at"]["isAtAll"] is True


def test_with_mentions_merges_for_text_and_markdown() -> None:
    """Merge extra mentions into text and markdown, keeping the msg_uuid."""
    text = Text(content="a", mentions=Mentions(mobiles=(MOBILE,)), msg_uuid="k")
    merged = with_mentions(text, Mentions(user_ids=("u",), at_all=True))
    assert merged == Text(
        content="a",
        mentions=Mentions(mobiles=(MOBILE,), user_ids=("u",), at_all=True),
        msg_uuid="k",
    )
    markdown = Markdown(title="T", text="b")
    assert with_mentions(markdown, Mentions(user_ids=("u",))) == Markdown(
        title="T",
        text="b",
        mentions=Mentions(user_ids=("u",)),
        msg_uuid=markdown.msg_uuid,
    )


def test_prepare_takes_mentions() -> None:
    """Merge prepare(mentions=...) and put them in the body."""
    prepared = _only(prepare(Text(content="a"), mentions=Mentions(mobiles=(MOBILE,))))
    assert isinstance(prepared, Text)
    assert prepared.content == f"a\n@{MOBILE}"
    assert prepared.mentions.mobiles == (MOBILE,)


@pytest.mark.parametrize(
    "message",
    [
        Link(title="T", text="b", message_url=URL),
        FeedCard(links=(FeedLink(title="T", message_url=URL, pic_url=PIC),)),
    ],
)
def test_mentions_rejected_for_link_and_feed_card(message: Link | FeedCard) -> None:
    """Raise InvalidMessageError: link and feedCard cannot mention anyone."""
    with pytest.raises(InvalidMessageError, match="cannot_mention"):
        with_mentions(message, Mentions(mobiles=(MOBILE,)))
    with pytest.raises(InvalidMessageError, match="cannot_mention"):
        prepare(message, mentions=Mentions(user_ids=("u",)))
    assert with_mentions(message, Mentions()) is message


def test_action_card_mentions_user_ids_in_text() -> None:
    """Write @userId into an actionCard's text; it has no at object."""
    card = ActionCard(title="T", text="body @u1", single_title="S", single_url=URL)
    mentioned = with_mentions(card, Mentions(user_ids=("u1", "u2")))
    assert isinstance(mentioned, ActionCard)
    assert mentioned.text == "body @u1\n\n@u2"
    assert "at" not in mentioned.to_payload()
    for mentions in (Mentions(mobiles=(MOBILE,)), Mentions(at_all=True)):
        with pytest.raises(InvalidMessageError, match="card_mentions"):
            with_mentions(card, mentions)


# Keywords


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            Text(content="disk full", msg_uuid="k"),
            Text(content="disk full\nalarm", msg_uuid="k"),
        ),
        (
            Text(content="disk", mentions=Mentions(mobiles=(MOBILE,)), msg_uuid="k"),
            Text(
                content=f"disk\n@{MOBILE}\nalarm",
                mentions=Mentions(mobiles=(MOBILE,)),
                msg_uuid="k",
            ),
        ),
        (
            Markdown(title="T", text="x", msg_uuid="k"),
            Markdown(title="T", text="x\n\nalarm", msg_uuid="k"),
        ),
        (
            Link(title="T", text="x", message_url=URL, msg_uuid="k"),
            Link(title="T", text="x alarm", message_url=URL, msg_uuid="k"),
        ),
        (
            ActionCard(
                title="T", text="x", single_title="S", single_url=URL, msg_uuid="k"
            ),
            ActionCard(
                title="T",
                text="x\n\nalarm",
                single_title="S",
                single_url=URL,
                msg_uuid="k",
            ),
        ),
        (
            FeedCard(
                links=(
                    FeedLink(title="A", message_url=URL, pic_url=PIC),
                    FeedLink(title="B", message_url=URL, pic_url=PIC),
                ),
                msg_uuid="k",
            ),
            FeedCard(
                links=(
                    FeedLink(title="A alarm", message_url=URL, pic_url=PIC),
                    FeedLink(title="B", message_url=URL, pic_url=PIC),
                ),
                msg_uuid="k",
            ),
        ),
    ],
    ids=["text", "text-mentions", "markdown", "link", "action-card", "feed-card"],
)
def test_keyword_added_in_documented_place(message: Message, expected: Message) -> None:
    """Add the first keyword where the module docstring says, keeping msg_uuid."""
    assert _only(prepare(message, keywords=("alarm", "告警"))) == expected


@pytest.mark.parametrize(
    "message",
    [
        Text(content="告警: disk full"),
        Markdown(title="T", text="an alarm"),
        Link(title="T", text="alarm!", message_url=URL),
        ActionCard(title="T", text="x alarm", single_title="S", single_url=URL),
        FeedCard(
            links=(
                FeedLink(title="T", message_url=URL, pic_url=PIC),
                FeedLink(title="alarm", message_url=URL, pic_url=PIC),
            )
        ),
    ],
    ids=["text", "markdown", "link", "action-card", "feed-card"],
)
def test_keyword_not_added_when_the_body_has_one(message: Message) -> None:
    """Leave a message alone when its body (feedCard: a link title) has a keyword."""
    assert has_keyword(message, ["alarm", "告警"])
    assert _only(prepare(message, keywords=["alarm", "告警"])) == message


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            Markdown(title="alarm", text="x", msg_uuid="k"),
            Markdown(title="alarm", text="x\n\nalarm", msg_uuid="k"),
        ),
        (
            Link(title="alarm", text="x", message_url=URL, msg_uuid="k"),
            Link(title="alarm", text="x alarm", message_url=URL, msg_uuid="k"),
        ),
        (
            Link(title="T", text="x", message_url=f"{URL}/alarm", msg_uuid="k"),
            Link(title="T", text="x alarm", message_url=f"{URL}/alarm", msg_uuid="k"),
        ),
        (
            ActionCard(
                title="alarm", text="x", single_title="S", single_url=URL, msg_uuid="k"
            ),
            ActionCard(
                title="alarm",
                text="x\n\nalarm",
                single_title="S",
                single_url=URL,
                msg_uuid="k",
            ),
        ),
        (
            ActionCard(
                title="T", text="x", single_title="alarm", single_url=URL, msg_uuid="k"
            ),
            ActionCard(
                title="T",
                text="x\n\nalarm",
                single_title="alarm",
                single_url=URL,
                msg_uuid="k",
            ),
        ),
        (
            ActionCard(
                title="T",
                text="x",
                buttons=(
                    ActionButton(title="ok", action_url=URL),
                    ActionButton(title="alarm", action_url=URL),
                ),
                msg_uuid="k",
            ),
            ActionCard(
                title="T",
                text="x\n\nalarm",
                buttons=(
                    ActionButton(title="ok", action_url=URL),
                    ActionButton(title="alarm", action_url=URL),
                ),
                msg_uuid="k",
            ),
        ),
    ],
    ids=[
        "markdown-title",
        "link-title",
        "link-url",
        "action-card-title",
        "action-card-single-title",
        "action-card-button",
    ],
)
def test_keyword_outside_the_body_does_not_count(
    message: Message, expected: Message
) -> None:
    """Add a keyword to the body when one is only in a title, a button or a URL."""
    assert not has_keyword(message, ["alarm"])
    assert _only(prepare(message, keywords=["alarm"])) == expected


def test_blank_keywords_are_ignored() -> None:
    """Ignore empty and blank keywords; strip the rest."""
    message = Text(content="x", msg_uuid="k")
    assert _only(prepare(message, keywords=("", "  "))) == message
    assert _only(prepare(message, keywords=(" ", " alarm "))) == Text(
        content="x\nalarm", msg_uuid="k"
    )
    assert not has_keyword(message, ("", " "))


def test_lone_string_is_one_keyword() -> None:
    """Treat keywords="alarm" as one keyword, not five letters."""
    prepared = _only(prepare(Text(content="a"), keywords="alarm"))
    assert isinstance(prepared, Text)
    assert prepared.content == "a\nalarm"


# Splitting


def _size(message: Message) -> int:
    """Return the exact body size."""
    return len(serialize_payload(message.to_payload()))


def test_fitting_message_keeps_uuid_and_is_not_numbered() -> None:
    """Return a message of exactly MAX_BODY_BYTES as is."""
    empty = payload_size(Text(content="x", msg_uuid="u")) - 1
    message = Text(content="a" * (MAX_BODY_BYTES - empty), msg_uuid="u")
    assert _size(message) == MAX_BODY_BYTES
    assert prepare(message) == [message]
    longer = Text(content="a" * (MAX_BODY_BYTES - empty + 1), msg_uuid="u")
    assert len(prepare(longer)) == 2


def test_split_chinese_text_at_lines() -> None:
    """Split UTF-8 Chinese text at line boundaries into numbered, fitting parts."""
    lines = [f"第{i}行：磁盘空间不足，请尽快处理。" * 3 for i in range(600)]
    mentions = Mentions(mobiles=(MOBILE,), user_ids=("user1",))
    message = Text(content="\n".join(lines), mentions=mentions, msg_uuid="orig")
    parts = prepare(message, keywords=("alarm",))
    n = len(parts)
    assert n >= 3
    rebuilt: list[str] = []
    for index, part in enumerate(parts, start=1):
        assert isinstance(part, Text)
        assert _size(part) <= MAX_BODY_BYTES
        assert part.msg_uuid == f"orig-{index}"
        head, _, rest = part.content.partition("\n")
        assert head == f"({index}/{n})"
        if index == 1:
            assert part.mentions == mentions
            body, at_line, keyword = rest.rsplit("\n", 2)
            assert at_line == f"@{MOBILE} @user1"
        else:
            assert part.mentions == Mentions()
            assert "at" not in part.to_payload()
            body, keyword = rest.rsplit("\n", 1)
            assert "@" not in body
        assert keyword == "alarm"
        rebuilt.extend(body.split("\n"))
    assert rebuilt == lines
    # Filled greedily: every part but the last is nearly full.
    assert all(_size(part) > MAX_BODY_BYTES - 200 for part in parts[:-1])


def test_split_markdown_numbers_text_and_title_and_keeps_keyword_per_part() -> None:
    """Number the markdown text and title; add the keyword to parts that lack one."""
    lines = ["alarm: first line", *(f"- item {i} " + "x" * 80 for i in range(600))]
    message = Markdown(title="Report", text="\n".join(lines), msg_uuid="md")
    parts = prepare(message, keywords=("alarm",))
    n = len(parts)
    assert n >= 2
    for index, part in enumerate(parts, start=1):
        assert isinstance(part, Markdown)
        assert part.title == f"Report ({index}/{n})"
        assert part.text.startswith(f"**({index}/{n})**\n\n")
        assert part.msg_uuid == f"md-{index}"
        assert _size(part) <= MAX_BODY_BYTES
        assert "alarm" in part.text
    assert isinstance(parts[0], Markdown)
    assert not parts[0].text.endswith("\n\nalarm")
    assert isinstance(parts[1], Markdown)
    assert parts[1].text.endswith("\n\nalarm")
    assert "\n".join(
        part.text.split("\n\n", 1)[1].removesuffix("\n\nalarm")
        for part in parts
        if isinstance(part, Markdown)
    ) == "\n".join(lines)


def test_split_markdown_keyword_in_title_is_not_enough() -> None:
    """Add the keyword to every part's text even when the title carries one."""
    message = Markdown(title="alarm report", text="\n".join(["y" * 100] * 400))
    parts = prepare(message, keywords=("alarm",))
    assert len(parts) >= 2
    for part in parts:
        assert isinstance(part, Markdown)
        assert part.title.startswith("alarm report (")
        assert part.text.endswith("\n\nalarm")
        assert part.text.count("alarm") == 1
        assert _size(part) <= MAX_BODY_BYTES


@pytest.mark.parametrize("kind", [Text, Markdown])
def test_split_mentions_only_in_the_first_part(kind: type[Text | Markdown]) -> None:
    """Ring each mention once: @s and the at object (isAtAll too) in part 1 only."""
    mentions = Mentions(mobiles=(MOBILE,), user_ids=("user1",), at_all=True)
    body = "\n".join(f"line {i} " + "x" * 90 for i in range(600))
    message = (
        Text(content=body, mentions=mentions)
        if kind is Text
        else Markdown(title="T", text=body, mentions=mentions)
    )
    parts = prepare(message, keywords=("alarm",))
    assert len(parts) >= 3
    payloads = [part.to_payload() for part in parts]
    assert payloads[0]["at"] == {
        "atMobiles": [MOBILE],
        "atUserIds": ["user1"],
        "isAtAll": True,
    }
    assert all("at" not in payload for payload in payloads[1:])
    field, separator = ("content", "\n") if kind is Text else ("text", "\n\n")
    bodies = [payload[payload["msgtype"]][field] for payload in payloads]
    assert bodies[0].endswith(f"{separator}@{MOBILE} @user1{separator}alarm")
    assert sum(b.count(f"@{MOBILE}") for b in bodies) == 1
    assert sum(b.count("@user1") for b in bodies) == 1
    assert all(b.endswith("alarm") for b in bodies)


def test_split_mention_written_in_a_later_part_is_added_to_the_first() -> None:
    """Append @handle to part 1 when the original only writes it in a later part."""
    lines = ["y" * 100] * 400 + [f"ask @{MOBILE}"]
    message = Text(content="\n".join(lines), mentions=Mentions(mobiles=(MOBILE,)))
    parts = prepare(message)
    assert len(parts) >= 2
    first, last = parts[0], parts[-1]
    assert isinstance(first, Text)
    assert isinstance(last, Text)
    assert first.content.endswith(f"\n@{MOBILE}")
    assert last.content.endswith(f"ask @{MOBILE}")
    assert last.mentions == Mentions()


def test_split_first_part_with_many_mentions_fits() -> None:
    """Budget for part 1's mentions: body @s and the at object count toward the cap."""
    user_ids = tuple(f"{i:02d}" + "u" * 62 for i in range(50))
    message = Markdown(
        title="T",
        text="\n".join(["z" * 99] * 500),
        mentions=Mentions(user_ids=user_ids),
    )
    parts = prepare(message, keywords=("alarm",))
    assert len(parts) >= 2
    assert all(_size(part) <= MAX_BODY_BYTES for part in parts)
    first = parts[0]
    assert isinstance(first, Markdown)
    assert first.mentions.user_ids == user_ids
    # Filled greedily, part 1 to its smaller budget, the others without mentions.
    assert all(_size(part) > MAX_BODY_BYTES - 200 for part in parts[:-1])
    lines = [part.text.count("z" * 99) for part in parts if isinstance(part, Markdown)]
    assert lines[0] < lines[1] - 50
    assert sum(lines) == 500


def test_split_leading_blank_lines_do_not_shift_the_first_part() -> None:
    """Size the first non-blank chunk, which becomes part 1, for the mentions."""
    user_ids = tuple(f"{i:02d}" + "u" * 62 for i in range(50))
    message = Text(
        content=" \n" * 8_000 + "\n".join(["z" * 99] * 300),
        mentions=Mentions(user_ids=user_ids),
    )
    parts = prepare(message)
    assert len(parts) >= 2
    assert all(_size(part) <= MAX_BODY_BYTES for part in parts)
    first = parts[0]
    assert isinstance(first, Text)
    assert first.mentions.user_ids == user_ids


def test_split_one_over_long_line_at_character_boundaries() -> None:
    """Cut a single line between characters: 3- and 4-byte UTF-8 and JSON escapes."""
    unit = '告警😀"\\\x01a'
    line = unit * 3000
    message = Text(content=line, msg_uuid="long")
    parts = prepare(message)
    n = len(parts)
    assert n >= 2
    pieces = []
    for index, part in enumerate(parts, start=1):
        assert isinstance(part, Text)
        body = serialize_payload(part.to_payload())
        assert len(body) <= MAX_BODY_BYTES
        body.decode("utf-8")  # whole characters only
        assert json.loads(body)["text"]["content"] == part.content
        header, _, piece = part.content.partition("\n")
        assert header == f"({index}/{n})"
        pieces.append(piece)
    assert "".join(pieces) == line


def test_split_into_more_than_nine_parts() -> None:
    """Number with two digits and keep every part under the cap."""
    message = Text(content="\n".join(["z" * 999] * 250), msg_uuid="many")
    parts = prepare(message, keywords=("k",))
    n = len(parts)
    assert n >= 10
    assert [part.msg_uuid for part in parts] == [f"many-{i}" for i in range(1, n + 1)]
    for index, part in enumerate(parts, start=1):
        assert isinstance(part, Text)
        assert part.content.startswith(f"({index}/{n})\n")
        assert _size(part) <= MAX_BODY_BYTES


def test_trailing_blank_lines_only() -> None:
    """Trim trailing blank lines instead of sending an empty numbered part."""
    message = Text(content="x" + "\n" * (MAX_BODY_BYTES // 2 + 10), msg_uuid="t")
    assert _size(message) > MAX_BODY_BYTES
    assert prepare(message, keywords=("kw",)) == [Text(content="x\nkw", msg_uuid="t")]


@pytest.mark.parametrize(
    "message",
    [
        Link(title="T", text="x" * MAX_BODY_BYTES, message_url=URL),
        ActionCard(
            title="T", text="x" * MAX_BODY_BYTES, single_title="S", single_url=URL
        ),
        FeedCard(
            links=tuple(
                FeedLink(title="t" * 100, message_url=URL, pic_url=PIC)
                for _ in range(200)
            )
        ),
    ],
)
def test_unsplittable_types_too_long(message: Message) -> None:
    """Raise BodyTooLargeError, an InvalidMessageError, for types that cannot split."""
    with pytest.raises(BodyTooLargeError, match="cannot_split") as excinfo:
        prepare(message)
    assert isinstance(excinfo.value, InvalidMessageError)


def test_title_leaves_no_room() -> None:
    """Raise BodyTooLargeError when the title alone nearly fills a body."""
    message = Markdown(title="t" * (MAX_BODY_BYTES - 500), text="x\n" * 1000)
    with pytest.raises(BodyTooLargeError, match="no_room"):
        prepare(message)


def test_prepare_is_pure() -> None:
    """Return equal results for equal input and never mutate the message."""
    message = Text(content="x\n" * 15000, mentions=Mentions(mobiles=(MOBILE,)))
    before = message.content
    assert prepare(message, keywords=("k",)) == prepare(message, keywords=("k",))
    assert message.content == before
    assert all(
        re.fullmatch(rf"{message.msg_uuid}-\d+", p.msg_uuid) for p in prepare(message)
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain ascii",
        'quotes " and \\ backslashes',
        "line\nbreaks\r\n\ttabs\b\f",
        "controls \x00\x01\x07\x0b\x0e\x1f and del \x7f",
        "中文 😀 é \u2028 \x85",
    ],
)
def test_json_size_matches_json_dumps(text: str) -> None:
    """The counted size equals what json.dumps writes (without the quotes)."""
    assert _json_size(text) == len(json.dumps(text, ensure_ascii=False).encode()) - 2


@pytest.mark.parametrize("lines", [False, True], ids=["one_line", "many_lines"])
def test_split_of_a_megabyte_is_complete(lines: bool) -> None:
    """A 1 MB message splits into parts that together hold every character once.

    Splitting used to re-encode the remaining text at every cut (quadratic: a
    4 MB message blocked the event loop for seconds); the cost now grows linearly
    (figures in BENCHMARKS.md).
    """
    body = ("告警 line 😀\n" * 70_000) if lines else ("x" * 1_000_000)
    parts = prepare(Text(content=body, msg_uuid="big"))
    assert all(_size(part) <= MAX_BODY_BYTES for part in parts)
    pieces = []
    for part in parts:
        assert isinstance(part, Text)
        pieces.append(part.content.partition("\n")[2])
    joined = ("\n" if lines else "").join(pieces)
    assert joined.rstrip("\n") == body.rstrip("\n")
