"""Prepare a message for a robot: mentions into the body, a keyword, and splitting.

Mentions. DingTalk only rings a mention whose ``@<mobile>`` / ``@<userId>`` is in the
body, so ``prepare`` appends every missing one: to a text as a last line
``@13800000000 @user1``, to a markdown text as a last paragraph. Link and feedCard
cannot mention anyone: ``with_mentions`` raises InvalidMessageError for them. An
actionCard has no ``at`` object; ``with_mentions`` writes ``@userId`` into its text and
rejects mobiles and @all. @all (``isAtAll``) adds nothing to the body.

Keywords. Which fields DingTalk scans for a robot's keywords is UNCONFIRMED
(dingtalk-api.md §5: "put the keyword in the main text to be safe"), so only the body
counts: text content, markdown text, link text, actionCard text and, as a feedCard has
no body, its links' titles. A keyword only in a title, a button or a URL does not. When
the robot has keywords and the body holds none of them, the first keyword is added:

* text: as a last line; markdown and actionCard: as a last paragraph (after mentions);
* link: appended to the text after a space;
* feedCard: appended to the first link's title after a space.

Splitting. A body over ``MAX_BODY_BYTES`` (measured with ``serialize_payload``, exactly
as the client sends it) is split, for text and markdown only, at line boundaries; a
single over-long line is cut between characters (never inside a UTF-8 sequence). Part
i of n shows ``(i/n)`` in its body: a text starts with the line ``(i/n)``, a markdown
text with the paragraph ``**(i/n)**`` (its title, which the chat does not render, also
gets `` (i/n)`` appended). Only part 1 mentions anyone: it keeps the ``at`` object
(``isAtAll`` included) and gets the missing ``@``s, so a long message rings once;
parts 2..n have no ``at`` and no ``@``s appended. Every part gets the keyword in its
own body unless that body (marker and mentions included) already holds one, and
msg_uuid ``f"{original}-{i}"``, so a retried part is still de-duplicated by DingTalk.
Each part, marker, mentions and keyword included, is at most ``MAX_BODY_BYTES``. A
message that needs no split (or whose only excess was trailing blank lines) stays one
message with the original msg_uuid. Link, actionCard and feedCard cannot be split: too
long raises BodyTooLargeError.
"""

from __future__ import annotations

from dataclasses import replace
import re
from typing import TYPE_CHECKING, Final

from .errors import BodyTooLargeError, InvalidMessageError, Problem
from .models import (
    MAX_BODY_BYTES,
    NO_MENTIONS,
    ActionCard,
    Link,
    Markdown,
    Mentions,
    Message,
    Text,
    payload_size,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

MIN_PART_BUDGET: Final = 1_000
"""Fewest bytes a split part must have left for text after title, mentions, keyword."""

_TEXT_SEPARATOR: Final = "\n"
_MARKDOWN_SEPARATOR: Final = "\n\n"
_INLINE_SEPARATOR: Final = " "
# A handle is mentioned when "@handle" is not directly followed by more of a handle:
# "@138000000001" does not mention 13800000000.
_HANDLE_TAIL: Final = r"(?![0-9A-Za-z_-])"
# What json.dumps escapes: as two characters, or as \u00XX (six).
_TWO_CHAR_ESCAPES: Final = ('"', "\\", "\b", "\f", "\n", "\r", "\t")
_SIX_CHAR_ESCAPE: Final = re.compile(r"[\x00-\x07\x0b\x0e-\x1f]")


def prepare(
    message: Message,
    *,
    keywords: Sequence[str] = (),
    mentions: Mentions | None = None,
    max_bytes: int = MAX_BODY_BYTES,
) -> list[Message]:
    """Return what to send for ``message``: decorated, split to fit, in order.

    Linear in the size of the message (and in the number of mentions times the size
    of the body). ``max_bytes`` is the cap of each part's webhook body.
    """
    kws = _normalise_keywords(keywords)
    if mentions is not None:
        message = with_mentions(message, mentions)
    decorated = _decorate(message, kws)
    if payload_size(decorated) <= max_bytes:
        return [decorated]
    if not isinstance(message, (Text, Markdown)):
        raise BodyTooLargeError(
            Problem.CANNOT_SPLIT, msgtype=message.msgtype, limit=max_bytes
        )
    return _split(message, kws, max_bytes)


def with_mentions(message: Message, mentions: Mentions) -> Message:
    """Return ``message`` that also mentions ``mentions``; raise if its type cannot."""
    if not mentions:
        return message
    if isinstance(message, (Text, Markdown)):
        return replace(message, mentions=message.mentions.merge(mentions))
    if isinstance(message, ActionCard):
        if mentions.mobiles or mentions.at_all:
            raise InvalidMessageError(Problem.CARD_MENTIONS, msgtype=message.msgtype)
        suffix = _mention_suffix(message.text, mentions.user_ids, _MARKDOWN_SEPARATOR)
        return replace(message, text=message.text + suffix)
    raise InvalidMessageError(Problem.CANNOT_MENTION, msgtype=message.msgtype)


def has_keyword(message: Message, keywords: Sequence[str]) -> bool:
    """Return whether the body of ``message`` (module docstring) holds a keyword."""
    kws = _normalise_keywords(keywords)
    fields = _body_fields(message)
    return any(keyword in text for keyword in kws for text in fields)


def _normalise_keywords(keywords: Sequence[str]) -> tuple[str, ...]:
    """Return the non-blank keywords, stripped; a lone string is one keyword."""
    if isinstance(keywords, str):
        keywords = (keywords,)
    return tuple(stripped for keyword in keywords if (stripped := keyword.strip()))


def _body_fields(message: Message) -> tuple[str, ...]:
    """Return the fields of ``message`` that surely count for the keyword check."""
    match message:
        case Text():
            return (message.content,)
        case Markdown() | Link() | ActionCard():
            return (message.text,)
        case _:  # FeedCard: the last member of Message, has no body but its titles
            return tuple(link.title for link in message.links)


def _has_mention(body: str, handle: str) -> bool:
    """Return whether ``body`` already contains ``@handle``."""
    return re.search(f"@{re.escape(handle)}{_HANDLE_TAIL}", body) is not None


def _mention_suffix(
    body: str, handles: Sequence[str], separator: str, *, force: bool = False
) -> str:
    """Return the text to append so that every handle appears as ``@handle``."""
    missing = [h for h in handles if force or not _has_mention(body, h)]
    if not missing:
        return ""
    return separator + " ".join(f"@{handle}" for handle in missing)


def _decorate_body(
    message: Text | Markdown,
    body: str,
    keywords: tuple[str, ...],
    *,
    mentions: Mentions | None = None,
    force: bool = False,
) -> str:
    """Append missing mentions to ``body``, then the first keyword if none is there."""
    separator = _TEXT_SEPARATOR if isinstance(message, Text) else _MARKDOWN_SEPARATOR
    handles = (message.mentions if mentions is None else mentions).handles
    body += _mention_suffix(body, handles, separator, force=force)
    if keywords and (force or not any(keyword in body for keyword in keywords)):
        body += separator + keywords[0]
    return body


def _decorate(message: Message, keywords: tuple[str, ...]) -> Message:
    """Return ``message`` with mentions in its body and a keyword when it has none."""
    match message:
        case Text():
            content = _decorate_body(message, message.content, keywords)
            return replace(message, content=content)
        case Markdown():
            text = _decorate_body(message, message.text, keywords)
            return replace(message, text=text)
    if not keywords or has_keyword(message, keywords):
        return message
    keyword = keywords[0]
    match message:
        case Link():
            return replace(message, text=message.text + _INLINE_SEPARATOR + keyword)
        case ActionCard():
            return replace(message, text=message.text + _MARKDOWN_SEPARATOR + keyword)
        case _:  # FeedCard: the last member of Message
            first, *rest = message.links
            title = first.title + _INLINE_SEPARATOR + keyword
            return replace(message, links=(replace(first, title=title), *rest))


def _part(
    message: Text | Markdown,
    chunk: str,
    position: tuple[int, int],
    keywords: tuple[str, ...],
    *,
    force: bool = False,
) -> Text | Markdown:
    """Return part ``position`` = (i, n) holding ``chunk``, numbered and decorated."""
    index, total = position
    msg_uuid = f"{message.msg_uuid}-{index}"
    marker = f"({index}/{total})"
    # Part 1 alone mentions anyone: one long message rings each person once.
    mentions = message.mentions if index == 1 else NO_MENTIONS
    if isinstance(message, Text):
        numbered = marker + _TEXT_SEPARATOR + chunk
        content = _decorate_body(
            message, numbered, keywords, mentions=mentions, force=force
        )
        return replace(message, content=content, mentions=mentions, msg_uuid=msg_uuid)
    numbered = f"**{marker}**" + _MARKDOWN_SEPARATOR + chunk
    text = _decorate_body(message, numbered, keywords, mentions=mentions, force=force)
    return replace(
        message,
        title=f"{message.title} {marker}",
        text=text,
        mentions=mentions,
        msg_uuid=msg_uuid,
    )


def _split(
    message: Text | Markdown, keywords: tuple[str, ...], max_bytes: int
) -> list[Message]:
    """Split a text or markdown message into numbered parts that each fit."""
    body = message.content if isinstance(message, Text) else message.text
    lines = body.splitlines(keepends=True)
    sizes = [_json_size(line) for line in lines]
    digits = 1
    while True:
        # Size the worst case for this many digits in "(i/n)" and the uuid suffix,
        # with the keyword appended: part 1 with every mention (body and "at"), the
        # others with none; a part's body only adds its chunk's JSON-escaped bytes
        # (escaping is per character).
        most = 10**digits - 1
        placeholder = "x"
        first_budget, budget = (
            max_bytes
            - payload_size(
                _part(message, placeholder, (index, most), keywords, force=True)
            )
            + _json_size(placeholder)
            for index in (1, most)
        )
        if min(first_budget, budget) < MIN_PART_BUDGET:
            raise BodyTooLargeError(Problem.NO_ROOM, limit=MIN_PART_BUDGET)
        chunks = _pack(lines, sizes, first_budget, budget)
        if len(chunks) <= most:
            break
        digits += 1
    if len(chunks) == 1:
        single = (
            replace(message, content=chunks[0])
            if isinstance(message, Text)
            else replace(message, text=chunks[0])
        )
        return [_decorate(single, keywords)]
    total = len(chunks)
    return [
        _part(message, chunk, (index, total), keywords)
        for index, chunk in enumerate(chunks, start=1)
    ]


def _json_size(text: str) -> int:
    r"""Return the bytes ``text`` takes inside a JSON string as the client writes it.

    Equal to ``len(json.dumps(text, ensure_ascii=False).encode()) - 2``, computed with
    str.count (about five times faster): UTF-8 bytes, plus one byte for each
    character escaped as two ("\\n", "\\\"", ...) and five for each escaped as
    six ("\\u001b").
    """
    size = len(text.encode())
    size += sum(text.count(char) for char in _TWO_CHAR_ESCAPES)
    if _SIX_CHAR_ESCAPE.search(text) is not None:
        size += 5 * len(_SIX_CHAR_ESCAPE.findall(text))
    return size


def _fit(text: str, start: int, budget: int) -> int:
    """Return the end of the longest ``text[start:end]`` within ``budget`` JSON bytes.

    Every character takes at least one byte, so only ``budget`` characters are
    looked at: the cost is bounded by the budget, not by the length of ``text``.
    """
    low, high = start, min(len(text), start + budget)
    if _json_size(text[start:high]) <= budget:
        return high
    while low < high:
        middle = (low + high + 1) // 2
        if _json_size(text[start:middle]) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def _pack(
    lines: list[str], sizes: list[int], first_budget: int, budget: int
) -> list[str]:
    """Group lines (with their JSON sizes) into chunks that fit their part's budget."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    # Blank chunks are dropped below, so part 1 is the first chunk that is not blank.
    started = False

    def close(chunk: str) -> None:
        nonlocal current, size, started
        chunks.append(chunk)
        started = started or bool(chunk.strip())
        current, size = [], 0

    for line, line_size in zip(lines, sizes, strict=True):
        limit = budget if started else first_budget
        if size + line_size <= limit:
            current.append(line)
            size += line_size
            continue
        if current:
            close("".join(current))
            limit = budget if started else first_budget
        if line_size <= limit:
            current.append(line)
            size = line_size
            continue
        # A line longer than a whole part: cut it between characters.
        start = 0
        while start < len(line):
            end = _fit(line, start, budget if started else first_budget)
            piece = line[start:end]
            start = end
            if start < len(line):
                close(piece)
            else:
                current, size = [piece], _json_size(piece)
    chunks.append("".join(current))
    # A chunk's trailing line break is noise; a blank chunk would be an empty part.
    trimmed = (chunk.rstrip("\r\n") for chunk in chunks)
    return [chunk for chunk in trimmed if chunk.strip()]
