"""Server-side HTML: DingTalk's markdown subset, chat bubbles, request log, page.

Everything user-supplied is HTML-escaped before any markup is added, and only
http(s), dingtalk and mailto URLs become links or images, so rendering is XSS-safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
import html
import re
from typing import TYPE_CHECKING, Final

from .models import DeliveredMessage, RecordedRequest, RobotConfig, robot_id

if TYPE_CHECKING:
    from .emulator import Emulator

#: How much history the page shows (the JSON API has all of it).
PAGE_MESSAGES: Final = 200
PAGE_REQUESTS: Final = 200
BODY_PREVIEW_CHARS: Final = 4000

_SAFE_SCHEMES: Final = ("http://", "https://", "dingtalk://", "mailto:")
_CONTROL_OR_SPACE: Final = re.compile(r"[\x00-\x20\x7f]+")

_IMAGE: Final = re.compile(r"!\[([^\]\n]*)\]\(([^()\s]+)\)")
_LINK: Final = re.compile(r"\[([^\]\n]+)\]\(([^()\s]+)\)")
_BOLD: Final = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC: Final = re.compile(r"(?<![*\w])\*(?=[^\s*])([^*\n]+?)(?<=\S)\*(?![*\w])")
_SLOT: Final = re.compile(r"\x00(\d+)\x00")

_HEADING: Final = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$")
_QUOTE: Final = re.compile(r"^[ \t]*&gt;[ \t]?(.*)$")
_BULLET: Final = re.compile(r"^[ \t]*[-*+][ \t]+(.*)$")
_NUMBERED: Final = re.compile(r"^[ \t]*(\d{1,9})\.[ \t]+(.*)$")

#: DingTalk shows an at-all mention as this text.
AT_ALL_TEXT: Final = "所有人"


def esc(value: object) -> str:
    """HTML-escape any value (quotes too, so it is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def safe_url(url: str) -> str | None:
    """Return the URL escaped for an attribute if its scheme is safe, else None."""
    # url may already be HTML-escaped: it is unescaped once before the check.
    raw = html.unescape(url).strip()
    if not _CONTROL_OR_SPACE.sub("", raw).lower().startswith(_SAFE_SCHEMES):
        return None
    return esc(raw)


def _mention_regex(names: Iterable[str], *, at_all: bool) -> re.Pattern[str] | None:
    """Match "@name" for the given (unescaped) names in escaped text."""
    wanted = [esc(name) for name in names if name]
    if at_all:
        wanted.append(AT_ALL_TEXT)
    if not wanted:
        return None
    alternatives = "|".join(re.escape(name) for name in sorted(wanted, key=len)[::-1])
    return re.compile(f"@(?:{alternatives})(?![0-9A-Za-z_])")


class _Inline:
    """Renders inline markdown in already-escaped text, stashing finished HTML."""

    def __init__(
        self,
        mentions: re.Pattern[str] | None,
        *,
        markdown: bool,
        image_url: Callable[[str], str | None] = safe_url,
    ) -> None:
        """Remember which @mentions ring, whether to apply markdown, image URLs."""
        self._mentions = mentions
        self._markdown = markdown
        self._image_url = image_url
        self._slots: list[str] = []

    def _stash(self, fragment: str) -> str:
        """Keep a finished fragment out of later passes; return its placeholder."""
        self._slots.append(fragment)
        return f"\x00{len(self._slots) - 1}\x00"

    def _image(self, match: re.Match[str]) -> str:
        """Render ![alt](url)."""
        alt, url = match.group(1), self._image_url(match.group(2))
        if url is None:
            return self._stash(f'<span class="blocked">[image: {alt}]</span>')
        return self._stash(
            f'<img src="{url}" alt="{alt}" loading="lazy" referrerpolicy="no-referrer">'
        )

    def _link(self, match: re.Match[str]) -> str:
        """Render [text](url)."""
        label, url = self._plain(match.group(1)), safe_url(match.group(2))
        if url is None:
            return self._stash(f'<span class="blocked">{label}</span>')
        return self._stash(
            f'<a href="{url}" target="_blank" rel="noopener noreferrer">{label}</a>'
        )

    def _plain(self, text: str) -> str:
        """Apply emphasis and mentions (no links) to escaped text."""
        if self._markdown:
            text = _BOLD.sub(r"<strong>\1</strong>", text)
            text = _ITALIC.sub(r"<em>\1</em>", text)
        if self._mentions is not None:
            text = self._mentions.sub(
                lambda m: f'<span class="mention rang">{m.group(0)}</span>', text
            )
        return text

    def render(self, text: str) -> str:
        """Render one line of escaped text."""
        if self._markdown:
            text = _IMAGE.sub(self._image, text)
            text = _LINK.sub(self._link, text)
        return self._restore(self._plain(text))

    def _restore(self, text: str) -> str:
        """Put stashed fragments back (they may contain placeholders themselves)."""
        return _SLOT.sub(lambda m: self._restore(self._slots[int(m.group(1))]), text)


class _Blocks:
    """Collects block-level HTML for render_markdown."""

    def __init__(self, inline: _Inline) -> None:
        """Start with no open block."""
        self._inline = inline
        self._out: list[str] = []
        self._kind: str | None = None  # "p", "blockquote", "ul", "ol"
        self._items: list[str] = []
        self._start = 1

    def close(self) -> None:
        """Finish the open block, if any."""
        kind, items = self._kind, self._items
        if kind in {"p", "blockquote"}:
            self._out.append(f"<{kind}>{'<br>'.join(items)}</{kind}>")
        elif kind == "ul":
            self._out.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
        elif kind == "ol":
            start = f' start="{self._start}"' if self._start != 1 else ""
            lis = "".join(f"<li>{i}</li>" for i in items)
            self._out.append(f"<ol{start}>{lis}</ol>")
        self._kind, self._items = None, []

    def add(self, kind: str, text: str, start: int = 1) -> None:
        """Add a line to a block of ``kind``, opening a new block if needed."""
        if self._kind != kind:
            self.close()
            self._kind, self._start = kind, start
        self._items.append(self._inline.render(text))

    def line(self, line: str) -> None:
        """Classify one escaped line and add it."""
        if not line.strip():
            self.close()
        elif heading := _HEADING.match(line):
            self.close()
            level = len(heading.group(1))
            text = self._inline.render(heading.group(2))
            self._out.append(f"<h{level}>{text}</h{level}>")
        elif quote := _QUOTE.match(line):
            self.add("blockquote", quote.group(1))
        elif bullet := _BULLET.match(line):
            self.add("ul", bullet.group(1))
        elif numbered := _NUMBERED.match(line):
            self.add("ol", numbered.group(2), int(numbered.group(1)))
        else:
            self.add("p", line)

    def html(self) -> str:
        """Return everything rendered so far."""
        self.close()
        return "".join(self._out)


def _lines(text: str) -> list[str]:
    """Escape text and split it into lines (any newline convention)."""
    return esc(text.replace("\x00", "")).replace("\r\n", "\n").split("\n")


def render_markdown(
    text: str,
    *,
    rang: Iterable[str] = (),
    at_all: bool = False,
    image_url: Callable[[str], str | None] = safe_url,
) -> str:
    """Render DingTalk's markdown subset to HTML, highlighting ringing @mentions."""
    # Headings, blockquotes, bold, italic, links, images, ordered and unordered lists.
    # A single newline is a line break and a blank line ends a paragraph (UNCONFIRMED:
    # DingTalk's exact line-break rules). image_url turns an image reference into an
    # escaped src (or None: blocked); app robots may use media_ids there.
    mentions = _mention_regex(rang, at_all=at_all)
    blocks = _Blocks(_Inline(mentions, markdown=True, image_url=image_url))
    for line in _lines(text):
        blocks.line(line)
    return blocks.html()


def render_text(text: str, *, rang: Iterable[str] = (), at_all: bool = False) -> str:
    """Render a plain text message: escaped, newlines as <br>, @mentions marked."""
    inline = _Inline(_mention_regex(rang, at_all=at_all), markdown=False)
    return "<br>".join(inline.render(line) for line in _lines(text))


def text_of(obj: object, key: str) -> str:
    """Return ``obj[key]`` as a string ("" when absent)."""
    if isinstance(obj, Mapping):
        value = obj.get(key)
        return "" if value is None else str(value)
    return ""


def anchor(url: str, inner: str, css: str) -> str:
    """Wrap ``inner`` in a link when the URL is safe, else in a div."""
    href = safe_url(url)
    if href is None:
        return f'<div class="{css}">{inner}</div>'
    return (
        f'<a class="{css}" href="{href}" target="_blank" '
        f'rel="noopener noreferrer">{inner}</a>'
    )


def picture(url: str, css: str) -> str:
    """Return an <img> for a safe picture URL, or nothing."""
    src = safe_url(url)
    if src is None:
        return ""
    return (
        f'<img class="{css}" src="{src}" alt="" loading="lazy" '
        'referrerpolicy="no-referrer">'
    )


def _body_text(message: DeliveredMessage) -> str:
    """Render a text message."""
    content = text_of(message.payload.get("text"), "content")
    return render_text(content, rang=message.rang, at_all=message.at_all)


def _body_markdown(message: DeliveredMessage) -> str:
    """Render a markdown message (the title only shows in notifications)."""
    body = message.payload.get("markdown")
    text = render_markdown(
        text_of(body, "text"), rang=message.rang, at_all=message.at_all
    )
    return (
        f'<div class="note">title: {esc(text_of(body, "title"))}</div>'
        f'<div class="markdown">{text}</div>'
    )


def _body_link(message: DeliveredMessage) -> str:
    """Render a link card."""
    body = message.payload.get("link")
    inner = (
        f'<div class="card-title">{esc(text_of(body, "title"))}</div>'
        f'<div class="card-row"><p>{esc(text_of(body, "text"))}</p>'
        f"{picture(text_of(body, 'picUrl'), 'thumb')}</div>"
    )
    return anchor(text_of(body, "messageUrl"), inner, "link-card")


def _body_action_card(message: DeliveredMessage) -> str:
    """Render an action card with its buttons."""
    body = message.payload.get("actionCard")
    text = render_markdown(
        text_of(body, "text"), rang=message.rang, at_all=message.at_all
    )
    if text_of(body, "singleTitle") and text_of(body, "singleURL"):
        pairs = [(text_of(body, "singleTitle"), text_of(body, "singleURL"))]
    else:
        raw = body.get("btns") if isinstance(body, Mapping) else None
        buttons = raw if isinstance(raw, list) else []
        pairs = [(text_of(b, "title"), text_of(b, "actionURL")) for b in buttons]
    horizontal = text_of(body, "btnOrientation") == "1"
    orientation = "horizontal" if horizontal else "vertical"
    rendered = "".join(anchor(url, esc(title), "btn") for title, url in pairs)
    return (
        f'<div class="note">title: {esc(text_of(body, "title"))}</div>'
        f'<div class="markdown">{text}</div>'
        f'<div class="btns {orientation}">{rendered}</div>'
    )


def _body_feed_card(message: DeliveredMessage) -> str:
    """Render a feed card: the first link large, the others as rows."""
    body = message.payload.get("feedCard")
    raw = body.get("links") if isinstance(body, Mapping) else None
    links = raw if isinstance(raw, list) else []
    items = []
    for index, link in enumerate(links):
        css = "feed-first" if index == 0 else "feed-item"
        inner = (
            f"{picture(text_of(link, 'picURL'), 'feed-pic')}"
            f'<span class="feed-title">{esc(text_of(link, "title"))}</span>'
        )
        items.append(anchor(text_of(link, "messageURL"), inner, css))
    return f'<div class="feed">{"".join(items)}</div>'


BODIES: Final[Mapping[str, Callable[[DeliveredMessage], str]]] = {
    "text": _body_text,
    "markdown": _body_markdown,
    "link": _body_link,
    "actionCard": _body_action_card,
    "feedCard": _body_feed_card,
}


def when(at: float) -> str:
    """Format clock seconds as UTC date and time."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def render_message(message: DeliveredMessage) -> str:
    """Render one delivered message as a chat bubble."""
    chips = [
        f'<span class="mention rang" title="rings">@{esc(name)}</span>'
        for name in message.rang
    ]
    if message.at_all:
        chips.insert(0, f'<span class="mention rang">@{AT_ALL_TEXT}</span>')
    chips.extend(
        f'<span class="mention silent" title="listed in at, not in the text: '
        f'no notification">@{esc(name)} (silent)</span>'
        for name in message.silent
    )
    notices = "".join(
        f'<div class="notice">⚠ {esc(n.code)}: {esc(n.detail)}</div>'
        for n in message.mentions.notices
    )
    uuid = (
        f" · msgUuid <code>{esc(message.msg_uuid)}</code>" if message.msg_uuid else ""
    )
    body = BODIES[message.msgtype](message)
    return (
        f'<div class="msg" id="msg-{message.seq}" data-type="{esc(message.msgtype)}">'
        f'<div class="meta">#{message.seq} · {when(message.at)} · '
        f"{esc(message.msgtype)}{uuid}</div>"
        f'<div class="bubble {esc(message.msgtype)}">{body}</div>'
        f'<div class="mentions">{"".join(chips)}</div>{notices}</div>'
    )


def render_request_row(record: RecordedRequest) -> str:
    """Render one request-log row; failed requests get the "err" class (red)."""
    failed = record.errcode != 0 or record.http_status != 200  # noqa: PLR2004
    signature = {True: "✓", False: "✗", None: "–"}[record.signature_verified]
    flags = []
    if record.delivered:
        flags.append("delivered")
    if record.duplicate:
        flags.append("duplicate")
    if record.fault is not None:
        flags.append(f"fault:{record.fault.value}")
    flags.extend(notice.code for notice in record.notices)
    body = record.body.decode("utf-8", "replace")[:BODY_PREVIEW_CHARS]
    robot = record.fingerprint or "(no token)"
    status = "dropped" if record.http_status is None else str(record.http_status)
    code = "" if record.errcode is None else str(record.errcode)
    return (
        f'<tr class="{"err" if failed else "ok"}" id="req-{record.seq}">'
        f"<td>{record.seq}</td><td>{when(record.at)}</td><td>{esc(robot)}</td>"
        f"<td>{status}</td><td>{esc(code)}</td><td>{esc(record.errmsg)}</td>"
        f"<td>{signature}</td><td>{esc(' '.join(flags))}</td>"
        f"<td><details><summary>{len(record.body)} B</summary>"
        f"<pre>{esc(body)}</pre></details></td></tr>"
    )


def robot_section(emulator: Emulator, robot: RobotConfig) -> str:
    """Render one robot's group chat."""
    rid = robot_id(robot.access_token)
    messages = emulator.delivered(robot.access_token)[-PAGE_MESSAGES:]
    badges = [f'<span class="badge {robot.state.value}">{robot.state.value}</span>']
    until = emulator.throttled_until(robot.access_token)
    if until is not None:
        badges.append(
            f'<span class="badge throttled">throttled until {when(until)}</span>'
        )
    security = []
    if robot.secret is not None:
        security.append("signed")
    if robot.keywords:
        security.append("keywords: " + ", ".join(robot.keywords))
    if robot.ip_allowlist:
        security.append("IPs: " + ", ".join(robot.ip_allowlist))
    return (
        f'<section class="chat" id="chat-{rid}">'
        f"<h2>{esc(robot.name or 'robot')} <small>{esc(robot.fingerprint)}</small> "
        f"{''.join(badges)}</h2>"
        f'<div class="security">{esc(" · ".join(security) or "no security")}</div>'
        f'<div class="messages" id="messages-{rid}">'
        f"{''.join(render_message(m) for m in messages)}</div></section>"
    )
