"""Prepare a message for a robot: mentions into the body, a keyword, and splitting.

Mentions. DingTalk only rings a mention whose ``@<mobile>`` / ``@<userId>`` is in the
body, so ``prepare`` appends every missing one: to a text as a last line
``@13800000000 @user1``, to a markdown text as a last paragraph. Link and feedCard
cannot mention anyone: ``with_mentions`` raises InvalidMessageError for them. An
actionCard has no ``at`` object; ``with_mentions`` writes ``@userId`` into its text and
rejects mobiles and @all. @all (``isAtAll``) adds nothing to the body.

Keywords. When the robot has keywords and no text-bearing field of the message (text
content; markdown title and text; link title and text; actionCard title, text and
button titles; feedCard link titles) contains any of them, the first keyword is added:

* text: as a last line; markdown and actionCard: as a last paragraph (after mentions);
* link: appended to the text after a space;
* feedCard: appended to the first link's title after a space.

Splitting. A body over ``MAX_BODY_BYTES`` (measured with ``serialize_payload``, exactly
as the client sends it) is split, for text and markdown only, at line boundaries; a
single over-long line is cut between characters (never inside a UTF-8 sequence). Part
i of n is numbered ``(i/n)``: a text gets it as its first line, a markdown title gets
`` (i/n)`` appended. Every part carries the mentions (in ``at`` and in its body), the
keyword unless it has one of its own, and msg_uuid ``f"{original}-{i}"``, so a retried
part is still de-duplicated by DingTalk. A message that needs no split (or whose only
excess was trailing blank lines) stays one message with the original msg_uuid. Link,
actionCard and feedCard cannot be split: too long raises BodyTooLargeError.
"""

from __future__ import annotations

from dataclasses import replace
import json
import re
from typing import TYPE_CHECKING, Final

from .errors import BodyTooLargeError, InvalidMessageError
from .models import (
    MAX_BODY_BYTES,
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


def prepare(
    message: Message,
    *,
    keywords: Sequence[str] = (),
    mentions: Mentions | None = None,
) -> list[Message]:
    """Return what to send for ``message``: decorated, split to fit, in order."""
    kws = _normalise_keywords(keywords)
    if mentions is not None:
        message = with_mentions(message, mentions)
    decorated = _decorate(message, kws)
    if payload_size(decorated) <= MAX_BODY_BYTES:
        return [decorated]
    if not isinstance(message, (Text, Markdown)):
        raise BodyTooLargeError(
            f"the {message.msgtype} body is over {MAX_BODY_BYTES} bytes and a "
            f"{message.msgtype} message cannot be split"
        )
    return _split(message, kws)


def with_mentions(message: Message, mentions: Mentions) -> Message:
    """Return ``message`` that also mentions ``mentions``; raise if its type cannot."""
    if not mentions:
        return message
    if isinstance(message, (Text, Markdown)):
        return replace(message, mentions=message.mentions.merge(mentions))
    if isinstance(message, ActionCard):
        if mentions.mobiles or mentions.at_all:
            raise InvalidMessageError(
                "an actionCard can only mention user ids (written into its text), "
                "not mobiles or everyone"
            )
        suffix = _mention_suffix(message.text, mentions.user_ids, _MARKDOWN_SEPARATOR)
        return replace(message, text=message.text + suffix)
    raise InvalidMessageError(f"a {message.msgtype} message cannot mention anyone")


def has_keyword(message: Message, keywords: Sequence[str]) -> bool:
    """Return whether any text-bearing field of ``message`` contains a keyword."""
    kws = _normalise_keywords(keywords)
    fields = _text_fields(message)
    return any(keyword in text for keyword in kws for text in fields)


def _normalise_keywords(keywords: Sequence[str]) -> tuple[str, ...]:
    """Return the non-blank keywords, stripped; a lone string is one keyword."""
    if isinstance(keywords, str):
        keywords = (keywords,)
    return tuple(stripped for keyword in keywords if (stripped := keyword.strip()))


def _text_fields(message: Message) -> tuple[str, ...]:
    """Return every field of ``message`` a keyword check may look at."""
    match message:
        case Text():
            return (message.content,)
        case Markdown():
            return (message.title, message.text)
        case Link():
            return (message.title, message.text)
        case ActionCard():
            single = (message.single_title,) if message.single_title else ()
            buttons = tuple(button.title for button in message.buttons)
            return (message.title, message.text, *single, *buttons)
        case _:  # FeedCard: the last member of Message
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
    title: str = "",
    force: bool = False,
) -> str:
    """Append missing mentions to ``body``, then the first keyword if none is there."""
    separator = _TEXT_SEPARATOR if isinstance(message, Text) else _MARKDOWN_SEPARATOR
    body += _mention_suffix(body, message.mentions.handles, separator, force=force)
    if keywords and (
        force
        or not any(keyword in text for keyword in keywords for text in (title, body))
    ):
        body += separator + keywords[0]
    return body


def _decorate(message: Message, keywords: tuple[str, ...]) -> Message:
    """Return ``message`` with mentions in its body and a keyword when it has none."""
    match message:
        case Text():
            content = _decorate_body(message, message.content, keywords)
            return replace(message, content=content)
        case Markdown():
            text = _decorate_body(message, message.text, keywords, title=message.title)
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
    if isinstance(message, Text):
        numbered = f"({index}/{total})\n{chunk}"
        content = _decorate_body(message, numbered, keywords, force=force)
        return replace(message, content=content, msg_uuid=msg_uuid)
    title = f"{message.title} ({index}/{total})"
    text = _decorate_body(message, chunk, keywords, title=title, force=force)
    return replace(message, title=title, text=text, msg_uuid=msg_uuid)


def _split(message: Text | Markdown, keywords: tuple[str, ...]) -> list[Message]:
    """Split a text or markdown message into numbered parts that each fit."""
    body = message.content if isinstance(message, Text) else message.text
    digits = 1
    while True:
        # Size the worst case for this many digits in "(i/n)" and the uuid suffix,
        # with every mention and the keyword appended; a part's body only adds
        # its chunk's JSON-escaped bytes (escaping is per character).
        most = 10**digits - 1
        placeholder = "x"
        overhead = payload_size(
            _part(message, placeholder, (most, most), keywords, force=True)
        ) - _json_size(placeholder)
        budget = MAX_BODY_BYTES - overhead
        if budget < MIN_PART_BUDGET:
            raise BodyTooLargeError(
                f"the title, mentions and keyword leave under {MIN_PART_BUDGET} bytes "
                "per part for the text"
            )
        chunks = _pack(body, budget)
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
    """Return the bytes ``text`` takes inside a JSON string as the client writes it."""
    return len(json.dumps(text, ensure_ascii=False).encode()) - 2


def _cut(line: str, budget: int) -> list[str]:
    """Cut an over-long line between characters into pieces of at most ``budget``."""
    pieces: list[str] = []
    rest = line
    while _json_size(rest) > budget:
        # Every character takes at least one byte, so a piece has <= budget characters.
        low, high = 1, min(len(rest), budget)
        while low < high:
            middle = (low + high + 1) // 2
            if _json_size(rest[:middle]) <= budget:
                low = middle
            else:
                high = middle - 1
        pieces.append(rest[:low])
        rest = rest[low:]
    pieces.append(rest)
    return pieces


def _pack(body: str, budget: int) -> list[str]:
    """Group the lines of ``body`` into chunks of at most ``budget`` JSON bytes."""
    pieces: list[str] = []
    for line in body.splitlines(keepends=True):
        pieces.extend(_cut(line, budget))
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for piece in pieces:
        piece_size = _json_size(piece)
        if current and size + piece_size > budget:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(piece)
        size += piece_size
    chunks.append("".join(current))
    # A chunk's trailing line break is noise; a blank chunk would be an empty part.
    trimmed = (chunk.rstrip("\r\n") for chunk in chunks)
    return [chunk for chunk in trimmed if chunk.strip()]
