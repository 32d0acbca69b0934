"""The chat page and its server-side renderers (markdown subset, bubbles, log)."""

from __future__ import annotations

from html.parser import HTMLParser
import re
from typing import TYPE_CHECKING

import pytest

from dingtalk_emulator import (
    DeliveredMessage,
    Fault,
    FaultKind,
    Mentions,
    render_markdown,
    render_message,
    render_text,
    robot_id,
)
from dingtalk_emulator.render import safe_url
from dingtalk_emulator.testing import TEST_TOKEN

from .helpers import send, signed_url, text

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import aiohttp

    from dingtalk_emulator import Emulator, EmulatorServer, ManualClock, RobotConfig

    type MakeRobot = Callable[..., RobotConfig]


# -- markdown -------------------------------------------------------------------------

ALLOWED_TAGS = frozenset(
    {"p", "br", "strong", "em", "a", "img", "span", "blockquote", "ul", "ol", "li"}
    | {f"h{level}" for level in range(1, 7)}
)


class _TagChecker(HTMLParser):
    """Collects the tags and attributes a browser would see."""

    def __init__(self) -> None:
        """Start empty."""
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record a start tag and its attributes."""
        self.tags.add(tag)
        self.attributes.extend((name, value or "") for name, value in attrs)


@pytest.mark.parametrize(
    ("source", "html"),
    [
        ("# One", "<h1>One</h1>"),
        ("###### Six ##", "<h6>Six</h6>"),
        ("####### seven", "<p>####### seven</p>"),
        ("#nospace", "<p>#nospace</p>"),
        ("**bold** and *italic*", "<p><strong>bold</strong> and <em>italic</em></p>"),
        ("a * b * c", "<p>a * b * c</p>"),
        ("2*3*4", "<p>2*3*4</p>"),
        (
            "[DingTalk](https://www.dingtalk.com)",
            (
                '<p><a href="https://www.dingtalk.com" target="_blank" '
                'rel="noopener noreferrer">DingTalk</a></p>'
            ),
        ),
        (
            "![screenshot](https://img.example/a.png)",
            (
                '<p><img src="https://img.example/a.png" alt="screenshot" '
                'loading="lazy" referrerpolicy="no-referrer"></p>'
            ),
        ),
        ("> quoted\n> twice", "<blockquote>quoted<br>twice</blockquote>"),
        ("- a\n- b\n* c", "<ul><li>a</li><li>b</li><li>c</li></ul>"),
        ("1. a\n2. b", "<ol><li>a</li><li>b</li></ol>"),
        ("3. c\n4. d", '<ol start="3"><li>c</li><li>d</li></ol>'),
        ("line one\nline two", "<p>line one<br>line two</p>"),
        ("para one\n\npara two", "<p>para one</p><p>para two</p>"),
        ("a\r\nb", "<p>a<br>b</p>"),
        ("- item\ntext", "<ul><li>item</li></ul><p>text</p>"),
        ("- item\n1. one", "<ul><li>item</li></ul><ol><li>one</li></ol>"),
        ("# T\n- **x**", "<h1>T</h1><ul><li><strong>x</strong></li></ul>"),
        ("", ""),
    ],
)
def test_markdown_subset(source: str, html: str) -> None:
    """Headings, emphasis, links, images, quotes, lists and line breaks."""
    assert render_markdown(source) == html


def test_markdown_link_with_image_and_bold() -> None:
    """Images inside links and emphasis inside link text are rendered."""
    html = render_markdown("[**go** ![i](https://p/i.png)](https://a/b?x=1&y=2)")
    assert html.startswith('<p><a href="https://a/b?x=1&amp;y=2"')
    assert '<strong>go</strong> <img src="https://p/i.png"' in html


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](java\tscript:alert(1))",
        "![x](javascript:alert(1))",
        "![x](data:text/html;base64,PHNjcmlwdD4=)",
        '[x](https://a"onmouseover="alert(1))',
        "[<b>x</b>](https://a)",
        "# <iframe src=//evil>",
        "> <svg onload=alert(1)>",
        "**<a href=javascript:x>y</a>**",
        "\x00<script>\x001\x00",
    ],
)
def test_markdown_is_xss_safe(source: str) -> None:
    """User HTML is escaped and unsafe URLs never become links or images."""
    checker = _TagChecker()
    checker.feed(render_markdown(source))
    checker.close()
    assert checker.tags <= ALLOWED_TAGS
    for name, value in checker.attributes:
        assert not name.startswith("on")
        if name in {"href", "src"}:
            assert value.lower().startswith(("http://", "https://")), value
    assert "\x00" not in render_markdown(source)


def test_unsafe_links_are_shown_as_text() -> None:
    """A javascript: link keeps its label, without a link."""
    assert render_markdown("[click](javascript:alert)") == (
        '<p><span class="blocked">click</span></p>'
    )
    assert render_markdown("![pic](ftp://x/y.png)") == (
        '<p><span class="blocked">[image: pic]</span></p>'
    )


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://a", "https://a"),
        ("HTTP://A", "HTTP://A"),
        (
            "dingtalk://dingtalkclient/page/link?url=x&pc_slide=true",
            "dingtalk://dingtalkclient/page/link?url=x&amp;pc_slide=true",
        ),
        ("mailto:a@b.c", "mailto:a@b.c"),
        ("  https://a  ", "https://a"),
        ("javascript:alert(1)", None),
        (" \tjavascript:alert(1)", None),
        ("vbscript:x", None),
        ("/relative", None),
        ("https://a&quot;onclick=&quot;x", "https://a&quot;onclick=&quot;x"),
    ],
)
def test_safe_url(url: str, safe: str | None) -> None:
    """Only http(s), dingtalk and mailto URLs pass, escaped for attributes."""
    assert safe_url(url) == safe


def test_mentions_are_highlighted() -> None:
    """Ringing @mentions are marked; URLs containing them are left alone."""
    html = render_markdown(
        "hi @13800000000 and @138000000001 [x](https://a/@13800000000)",
        rang=["13800000000"],
    )
    assert '<span class="mention rang">@13800000000</span> and @138000000001' in html
    assert 'href="https://a/@13800000000"' in html
    assert render_markdown("@所有人 go", at_all=True) == (
        '<p><span class="mention rang">@所有人</span> go</p>'
    )
    assert render_markdown("plain", rang=[""]) == "<p>plain</p>"


def test_render_text() -> None:
    """Plain text: escaped, newlines as <br>, no markdown, mentions marked."""
    html = render_text("**not bold** <b>\n@alice [x](https://a)", rang=["alice"])
    assert html == (
        "**not bold** &lt;b&gt;<br>"
        '<span class="mention rang">@alice</span> [x](https://a)'
    )
    assert render_text('"@a&b"', rang=["a&b"]) == (
        '&quot;<span class="mention rang">@a&amp;b</span>&quot;'
    )


# -- bubbles --------------------------------------------------------------------------


def _message(payload: Mapping[str, object], **mentions: object) -> DeliveredMessage:
    """Build a delivered message for rendering."""
    return DeliveredMessage(
        seq=7,
        at=1_700_000_000.0,
        token=TEST_TOKEN,
        msgtype=str(payload["msgtype"]),
        payload=dict(payload),
        msg_uuid="uuid-<1>",
        mentions=Mentions(**mentions),  # type: ignore[arg-type]
    )


def test_text_bubble() -> None:
    """A text bubble shows the content, rang and silent mentions, and the uuid."""
    html = render_message(
        _message(
            text("disk <full> @alice"), rang=("alice",), silent=("bob",), at_all=True
        )
    )
    assert html.startswith('<div class="msg" id="msg-7" data-type="text">')
    assert "#7 · 2023-11-14 22:13:20 · text" in html
    assert "msgUuid <code>uuid-&lt;1&gt;</code>" in html
    assert 'disk &lt;full&gt; <span class="mention rang">@alice</span>' in html
    assert '<span class="mention rang">@所有人</span>' in html
    assert '<span class="mention silent"' in html
    assert "@bob (silent)" in html


def test_markdown_bubble() -> None:
    """A markdown bubble renders the text; the title is a note."""
    html = render_message(
        _message({"msgtype": "markdown", "markdown": {"title": "T<", "text": "### H"}})
    )
    assert '<div class="note">title: T&lt;</div>' in html
    assert '<div class="markdown"><h3>H</h3></div>' in html


def test_link_bubble() -> None:
    """A link card: title, text, picture, and the whole card links."""
    html = render_message(
        _message(
            {
                "msgtype": "link",
                "link": {
                    "title": "Release",
                    "text": "v2 is out",
                    "messageUrl": "https://example.com/r",
                    "picUrl": "https://example.com/p.png",
                },
            }
        )
    )
    assert '<a class="link-card" href="https://example.com/r"' in html
    assert '<div class="card-title">Release</div>' in html
    assert "<p>v2 is out</p>" in html
    assert '<img class="thumb" src="https://example.com/p.png"' in html


def test_link_bubble_without_picture_or_safe_url() -> None:
    """No picture, and an unsafe URL: a plain card without link."""
    html = render_message(
        _message(
            {
                "msgtype": "link",
                "link": {"title": "t", "text": "x", "messageUrl": "javascript:x"},
            }
        )
    )
    assert '<div class="link-card">' in html
    assert "<img" not in html


@pytest.mark.parametrize(
    ("card", "orientation", "buttons"),
    [
        (
            {"singleTitle": "Read", "singleURL": "https://a/1"},
            "vertical",
            [("https://a/1", "Read")],
        ),
        (
            {
                "btns": [
                    {"title": "Yes", "actionURL": "https://a/y"},
                    {"title": "No", "actionURL": "https://a/n"},
                ],
                "btnOrientation": "1",
            },
            "horizontal",
            [("https://a/y", "Yes"), ("https://a/n", "No")],
        ),
        (
            {
                "btns": [{"title": "Only", "actionURL": "https://a/o"}],
                "btnOrientation": 0,
            },
            "vertical",
            [("https://a/o", "Only")],
        ),
        ({"btns": "junk"}, "vertical", []),
    ],
)
def test_action_card_bubble(
    card: dict[str, object], orientation: str, buttons: list[tuple[str, str]]
) -> None:
    """An action card: markdown text, then its buttons in the right orientation."""
    payload = {
        "msgtype": "actionCard",
        "actionCard": {"title": "T", "text": "**b**", **card},
    }
    html = render_message(_message(payload))
    assert '<div class="markdown"><p><strong>b</strong></p></div>' in html
    assert f'<div class="btns {orientation}">' in html
    found = re.findall(r'<a class="btn" href="([^"]+)"[^>]*>([^<]+)</a>', html)
    assert found == buttons


def test_feed_card_bubble() -> None:
    """A feed card: the first link large, the rest as rows, each with a picture."""
    links = [
        {
            "title": f"News {i}",
            "messageURL": f"https://n/{i}",
            "picURL": f"https://p/{i}",
        }
        for i in range(3)
    ]
    html = render_message(
        _message({"msgtype": "feedCard", "feedCard": {"links": links}})
    )
    assert html.count('class="feed-first"') == 1
    assert html.count('class="feed-item"') == 2
    assert '<img class="feed-pic" src="https://p/0"' in html
    assert '<span class="feed-title">News 2</span>' in html
    assert (
        render_message(_message({"msgtype": "feedCard", "feedCard": "junk"})).count(
            "feed-"
        )
        == 0
    )


def test_bubble_shows_mention_notices() -> None:
    """Notices (mention_ignored) appear under the bubble."""
    from dingtalk_emulator import Notice  # noqa: PLC0415 - local to this test

    html = render_message(
        _message(text("x"), notices=(Notice("mention_ignored", 'top-level "isAtAll"'),))
    )
    assert (
        '<div class="notice">⚠ mention_ignored: top-level &quot;isAtAll&quot;</div>'
        in html
    )


# -- the page -------------------------------------------------------------------


async def test_page_renders_every_message_type(
    emulator_server: EmulatorServer,
    make_robot: MakeRobot,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> None:
    """GET / shows each robot's chat with every delivered message, and the log."""
    make_robot(name="Ops <team>", keywords=("alarm",))
    url = signed_url(emulator_server, TEST_TOKEN, now=manual_clock.now())
    payloads = [
        text("alarm @alice", at={"atUserIds": ["alice", "bob"]}),
        {
            "msgtype": "markdown",
            "markdown": {"title": "alarm", "text": "## Disk\n- sda"},
        },
        {
            "msgtype": "link",
            "link": {"title": "alarm", "text": "t", "messageUrl": "https://l"},
        },
        {
            "msgtype": "actionCard",
            "actionCard": {
                "title": "alarm",
                "text": "x",
                "btns": [{"title": "Ack", "actionURL": "https://ack"}],
                "btnOrientation": "1",
            },
        },
        {
            "msgtype": "feedCard",
            "feedCard": {
                "links": [
                    {"title": "alarm", "messageURL": "https://f", "picURL": "https://p"}
                ]
            },
        },
        text("no keyword here"),
    ]
    for payload in payloads:
        async with http.post(url, json=payload) as response:
            assert response.status == 200
    async with http.get(emulator_server.url("/")) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        page = await response.text()
    assert page.startswith("<!doctype html>")
    assert f'<section class="chat" id="chat-{robot_id(TEST_TOKEN)}">' in page
    assert "Ops &lt;team&gt;" in page
    assert "signed · keywords: alarm" in page
    assert page.count('<div class="msg"') == 5
    for msgtype in ("text", "markdown", "link", "actionCard", "feedCard"):
        assert f'data-type="{msgtype}"' in page
    assert '<span class="mention rang">@alice</span>' in page
    assert "@bob (silent)" in page
    assert "<h2>Disk</h2><ul><li>sda</li></ul>" in page
    assert '<a class="link-card" href="https://l"' in page
    assert '<div class="btns horizontal"><a class="btn" href="https://ack"' in page
    assert '<a class="feed-first" href="https://f"' in page
    assert '<tr class="err" id="req-6">' in page
    assert '<tr class="ok" id="req-1">' in page
    assert TEST_TOKEN not in page
    assert "<script src" not in page
    assert "<link" not in page
    assert 'new EventSource("/api/events")' in page


async def test_page_badges_and_faults(
    emulator: Emulator,
    emulator_server: EmulatorServer,
    make_robot: MakeRobot,
    http: aiohttp.ClientSession,
) -> None:
    """Throttled robots, dropped requests and an empty state are shown."""
    make_robot(secret=None, ip_allowlist=("127.0.0.1",))
    for _ in range(21):
        send(emulator, TEST_TOKEN, secret=None)
    emulator.handle_send(
        f"access_token={TEST_TOKEN}", body=b"{}", fault=Fault(FaultKind.DROP)
    )
    async with http.get(emulator_server.url("/")) as response:
        page = await response.text()
    assert "throttled until 2023-11-14 22:23:20" in page
    assert "IPs: 127.0.0.1" in page
    assert "<td>dropped</td>" in page
    assert "fault:drop" in page


async def test_page_without_robots(
    emulator_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """With no robots the page says how to add one."""
    async with http.get(emulator_server.url("/")) as response:
        page = await response.text()
    assert "No robots yet" in page


def test_request_row_for_unknown_token(emulator: Emulator) -> None:
    """A request without a token shows "(no token)"."""
    from dingtalk_emulator.render import render_request_row  # noqa: PLC0415

    record = emulator.handle_send("", body=b"{}").record
    row = render_request_row(record)
    assert "(no token)" in row
    assert row.startswith('<tr class="err"')


def test_bubbles_survive_odd_payloads() -> None:
    """Hand-made messages with odd shapes render without errors."""
    html = render_message(_message({"msgtype": "link", "link": "junk"}))
    assert '<div class="card-title"></div>' in html


def test_request_row_flags(emulator: Emulator, make_robot: MakeRobot) -> None:
    """Delivered, duplicate and notice flags appear in the row."""
    from dingtalk_emulator.render import render_request_row  # noqa: PLC0415

    make_robot()
    send(emulator, TEST_TOKEN, text(msgUuid="u", isAtAll=True))
    duplicate = send(emulator, TEST_TOKEN, text(msgUuid="u")).record
    assert "<td>duplicate</td>" in render_request_row(duplicate)
    assert "<td>delivered mention_ignored</td>" in render_request_row(
        emulator.requests[0]
    )
