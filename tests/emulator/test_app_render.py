"""The app side of the chat page: bubbles, images, escaping, live updates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dingtalk_emulator import AppConfig, Emulator, Group, Person, Via, app_render
from dingtalk_emulator.app_models import AppMessage, ConversationType
from dingtalk_emulator.models import Event, EventKind
from dingtalk_emulator.testing import TEST_APP_KEY, TEST_GROUP_ID

from .app_helpers import PNG, get_token, post, upload_form
from .helpers import sse_frame
from .test_app_send import VALID_PARAMS

if TYPE_CHECKING:
    from collections.abc import Mapping

    import aiohttp

    from dingtalk_emulator import EmulatorServer

XSS = '<script>alert("x")</script>'


def _message(emulator: Emulator, msg_key: str, values: Mapping[str, object]) -> str:
    """Deliver an API message to alice and render it."""
    message = emulator.apps.deliver(
        client_id=TEST_APP_KEY,
        conversation_id=emulator.apps.conversation_id(TEST_APP_KEY, "alice"),
        conversation_type=ConversationType.SINGLE,
        via=Via.BATCH_SEND,
        user_id="alice",
        msg_key=msg_key,
        msg_param=dict(values),
    )
    return app_render.render_app_message(emulator.apps, message)


def test_every_msg_key_renders(app_emulator: Emulator) -> None:
    """Each msgKey renders its content like DingTalk (buttons, cards, files)."""
    html = {
        key: _message(app_emulator, key, values) for key, values in VALID_PARAMS.items()
    }
    assert "hi" in html["sampleText"]
    assert "<h1>hi</h1>" in html["sampleMarkdown"]
    assert '<img src="https://example.com/a.png"' in html["sampleImageMsg"]
    assert 'class="link-card" href="https://example.com"' in html["sampleLink"]
    assert html["sampleActionCard"].count('class="btn"') == 1
    for n in range(2, 6):
        card = html[f"sampleActionCard{n}"]
        assert card.count('class="btn"') == n
        assert 'class="btns vertical"' in card
    assert 'class="btns horizontal"' in html["sampleActionCard6"]
    assert ">Yes</a>" in html["sampleActionCard6"]
    assert "unknown media @lAfile" in html["sampleFile"]
    assert "a.pdf (pdf)" in html["sampleFile"]
    assert "voice, 3000 ms" in html["sampleAudio"]
    assert "[image: @lApic]" in html["sampleVideo"]


def test_escaping(app_emulator: Emulator) -> None:
    """Names, texts, titles, URLs and button labels are escaped."""
    html = _message(app_emulator, "sampleText", {"content": XSS})
    html += _message(app_emulator, "sampleMarkdown", {"title": XSS, "text": XSS})
    html += _message(
        app_emulator,
        "sampleActionCard",
        {"title": "t", "text": "x", "singleTitle": XSS, "singleURL": "javascript:x"},
    )
    html += _message(
        app_emulator, "sampleImageMsg", {"photoURL": "javascript:alert(1)"}
    )
    html += _message(
        app_emulator,
        "sampleFile",
        {"mediaId": XSS, "fileName": XSS, "fileType": XSS},
    )
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    assert "[image: javascript:alert(1)]" in html


def test_page_escapes_people_and_groups() -> None:
    """People, groups and app names from the JSON API are escaped on the page."""
    from dingtalk_emulator import render_page  # noqa: PLC0415

    emulator = Emulator()
    apps = emulator.apps
    apps.add_app(AppConfig(client_id="ding1", client_secret="s", name=XSS))
    apps.add_person(Person(user_id="u1", name=XSS))
    apps.add_group(
        Group(
            open_conversation_id="cid1", title=XSS, members=("u1",), robots=("ding1",)
        )
    )
    apps.chat("ding1", "u1", XSS, group="cid1", at_robot=True)
    apps.chat("ding1", "u1", "plain")
    page = render_page(emulator)
    assert "<script>alert" not in page.split("<script>(function")[0]
    assert page.count("&lt;script&gt;") >= 4
    assert "not pushed" not in page
    assert 'id="composer"' in page


async def test_images_from_media_ids(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """An uploaded media_id renders as an <img> served by /api/media (same origin)."""
    token = await get_token(http, app_server)
    url = app_server.url(f"/media/upload?access_token={token}&type=image")
    media_id = (await post(http, url, data=upload_form(PNG)))[1]["media_id"]
    html = _message(app_emulator, "sampleImageMsg", {"photoURL": media_id})
    assert f'<img src="/api/media/{media_id}"' in html
    markdown = _message(
        app_emulator,
        "sampleMarkdown",
        {"title": "t", "text": f"![chart]({media_id}) ![x](@lAunknown)"},
    )
    assert f'<img src="/api/media/{media_id}" alt="chart"' in markdown
    assert '<span class="blocked">[image: x]</span>' in markdown
    video = _message(
        app_emulator,
        "sampleVideo",
        {
            "duration": "1",
            "videoMediaId": media_id,
            "videoType": "mp4",
            "picMediaId": media_id,
        },
    )
    assert f'href="/api/media/{media_id}" download' in video
    async with http.get(app_server.url("/")) as response:
        policy = response.headers["Content-Security-Policy"]
        assert "img-src 'self'" in policy
        assert "form-action 'none'" in policy
        page = await response.text()
    assert "App robots" in page
    assert "Alice ↔ Butler" in page
    assert "App API calls" in page
    assert "<td>media</td>" in page


def test_session_answers_render_like_webhooks(app_emulator: Emulator) -> None:
    """A sendBySession answer renders with the webhook renderers and mentions."""
    message = app_emulator.apps.deliver(
        client_id=TEST_APP_KEY,
        conversation_id=TEST_GROUP_ID,
        conversation_type=ConversationType.GROUP,
        via=Via.SESSION,
        payload={
            "msgtype": "text",
            "text": {"content": "done @alice"},
            "at": {"atUserIds": ["alice"]},
        },
        at_user_ids=("alice",),
    )
    html = app_render.render_app_message(app_emulator.apps, message)
    assert '<span class="mention rang">@alice</span>' in html
    assert "sendBySession" in html


def test_chat_bubbles(app_emulator: Emulator) -> None:
    """A person's message shows @robot if it mentions it, and whether it was pushed."""
    apps = app_emulator.apps
    loud = apps.chat(TEST_APP_KEY, "bob", "status?", group=TEST_GROUP_ID, at_robot=True)
    quiet = apps.chat(TEST_APP_KEY, "bob", "lunch", group=TEST_GROUP_ID)
    html = app_render.render_chat(apps, loud)
    assert '<span class="mention rang">@Butler</span>' in html
    assert "· Bob · pushed" in html
    assert "not pushed (no @robot)" in app_render.render_chat(apps, quiet)
    notice = AppMessage(
        seq=99,
        at=0.0,
        client_id=TEST_APP_KEY,
        conversation_id=TEST_GROUP_ID,
        conversation_type=ConversationType.GROUP,
        via=Via.GROUP_SEND,
        msg_key="sampleImageMsg",
        msg_param={"photoURL": "@lAx"},
        notices=("unknown_media: @lAx",),
    )
    assert "⚠ unknown_media: @lAx" in app_render.render_app_message(apps, notice)


def test_page_without_apps() -> None:
    """With no apps the page says how to add one."""
    from dingtalk_emulator import render_page  # noqa: PLC0415

    assert "No apps yet" in render_page(Emulator())


def test_sse_data() -> None:
    """Only app events have app SSE data."""
    emulator = Emulator()
    assert app_render.app_sse_data(emulator.apps, Event(EventKind.APP_ENTRY)) is None
    assert app_render.app_sse_data(emulator.apps, Event(EventKind.RESET)) is None


async def test_live_updates(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """Chats, robot messages and API calls stream over /api/events."""
    async with http.get(app_server.url("/api/events")) as events:
        await events.content.readline()
        chat = app_emulator.apps.chat(TEST_APP_KEY, "alice", "hello")
        name, data = await sse_frame(events)
        assert name == "app_entry"
        dom = f"entries-{app_render.dom_id(chat.conversation_id)}"
        assert data["dom"] == dom
        assert data["sender"] == "alice"
        assert "hello" in str(data["html"])
        await get_token(http, app_server)
        name, data = await sse_frame(events)
        assert name == "app_request"
        assert str(data["html"]).startswith('<tr class="ok" id="app-req-1">')
        webhook = str((chat.callback or {})["sessionWebhook"])
        await post(http, webhook, {"msgtype": "text", "text": {"content": "pong"}})
        name, data = await sse_frame(events)
        assert (name, data["via"]) == ("app_entry", "sendBySession")
        async with http.get(app_server.url("/")) as response:
            page = await response.text()
        assert f'id="{dom}"' in page
        assert "Alice" in page
