"""Server-side HTML of the app side: 1:1 and group chats, the composer, the call log.

Like render.py: everything user-supplied is escaped before markup is added; images
are http(s) URLs or uploaded media_ids served by GET /api/media/{media_id}.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from . import app_checks, checks
from .app_models import AppMessage, ChatMessage, Via
from .app_serialize import app_message_json, app_request_json, chat_json
from .models import DeliveredMessage, EventKind
from .render import (
    BODIES,
    BODY_PREVIEW_CHARS,
    PAGE_MESSAGES,
    PAGE_REQUESTS,
    anchor,
    esc,
    picture,
    render_markdown,
    render_text,
    safe_url,
    text_of,
    when,
)

if TYPE_CHECKING:
    from .app_models import AppConfig, AppRequest
    from .apps import AppRobots
    from .emulator import Emulator
    from .models import Event

type Entry = AppMessage | ChatMessage
type ImageUrl = Callable[[str], str | None]

#: Buttons of sampleActionCard2…6: (title key, URL key, count, horizontal).
_CARD_BUTTONS: Final = {
    **{
        f"sampleActionCard{n}": ("actionTitle", "actionURL", n, False)
        for n in range(2, 6)
    },
    "sampleActionCard6": ("buttonTitle", "buttonUrl", 2, True),
}


def dom_id(conversation_id: str) -> str:
    """Return the DOM id suffix of a conversation (cids contain + / =)."""
    return app_checks.short_id("conversation", conversation_id)


def image_resolver(apps: AppRobots) -> ImageUrl:
    """Return a function that turns a URL or a media_id into an escaped src."""

    def resolve(ref: str) -> str | None:
        """Return the src of an image reference, or None (blocked, unknown)."""
        if ref.startswith("@"):
            if not apps.has_media(ref):
                return None
            return esc(f"/api/media/{quote(ref, safe='@')}")
        return safe_url(ref)

    return resolve


def _image(src: str | None, ref: str) -> str:
    """Return an <img> for a resolved src, or a marker for a blocked one."""
    if src is None:
        return f'<span class="blocked">[image: {esc(ref)}]</span>'
    return f'<img src="{src}" alt="" loading="lazy" referrerpolicy="no-referrer">'


def _card(
    param: Mapping[str, Any],
    buttons: list[tuple[str, str]],
    image_url: ImageUrl,
    *,
    horizontal: bool,
) -> str:
    """Render an action card: markdown text and buttons."""
    text = render_markdown(text_of(param, "text"), image_url=image_url)
    rendered = "".join(anchor(url, esc(title), "btn") for title, url in buttons)
    orientation = "horizontal" if horizontal else "vertical"
    return (
        f'<div class="note">title: {esc(text_of(param, "title"))}</div>'
        f'<div class="markdown">{text}</div>'
        f'<div class="btns {orientation}">{rendered}</div>'
    )


def _media_link(apps: AppRobots, media_id: str, label: str) -> str:
    """Link an uploaded file, or mark an unknown media_id."""
    if not apps.has_media(media_id):
        return (
            f'<span class="blocked">{esc(label)} (unknown media {esc(media_id)})</span>'
        )
    href = esc(f"/api/media/{quote(media_id, safe='@')}")
    return f'<a class="file" href="{href}" download>{esc(label)}</a>'


def _api_body(apps: AppRobots, key: str, param: Mapping[str, Any]) -> str:  # noqa: PLR0911
    """Render a msgKey/msgParam message as DingTalk shows it."""
    image_url = image_resolver(apps)
    if key == "sampleText":
        return render_text(text_of(param, "content"))
    if key == "sampleMarkdown":
        text = render_markdown(text_of(param, "text"), image_url=image_url)
        title = esc(text_of(param, "title"))
        return (
            f'<div class="note">title: {title}</div><div class="markdown">{text}</div>'
        )
    if key == "sampleImageMsg":
        ref = text_of(param, "photoURL")
        return _image(image_url(ref), ref)
    if key == "sampleLink":
        inner = (
            f'<div class="card-title">{esc(text_of(param, "title"))}</div>'
            f'<div class="card-row"><p>{esc(text_of(param, "text"))}</p>'
            f"{picture(text_of(param, 'picUrl'), 'thumb')}</div>"
        )
        return anchor(text_of(param, "messageUrl"), inner, "link-card")
    if key == "sampleActionCard":
        single = [(text_of(param, "singleTitle"), text_of(param, "singleURL"))]
        return _card(param, single, image_url, horizontal=False)
    if key in _CARD_BUTTONS:
        title_key, url_key, count, horizontal = _CARD_BUTTONS[key]
        buttons = [
            (text_of(param, f"{title_key}{i}"), text_of(param, f"{url_key}{i}"))
            for i in range(1, count + 1)
        ]
        return _card(param, buttons, image_url, horizontal=horizontal)
    if key == "sampleFile":
        label = f"📎 {text_of(param, 'fileName')} ({text_of(param, 'fileType')})"
        return _media_link(apps, text_of(param, "mediaId"), label)
    if key == "sampleAudio":
        label = f"🔊 voice, {text_of(param, 'duration')} ms"
        return _media_link(apps, text_of(param, "mediaId"), label)
    ref = text_of(param, "picMediaId")  # sampleVideo
    label = f"🎬 video ({text_of(param, 'videoType')}), {text_of(param, 'duration')} s"
    return _image(image_url(ref), ref) + _media_link(
        apps, text_of(param, "videoMediaId"), label
    )


def _session_body(message: AppMessage) -> str:
    """Render a sendBySession answer like a webhook message."""
    payload = message.payload or {}
    msgtype = str(payload.get("msgtype"))
    delivered = DeliveredMessage(
        seq=message.seq,
        at=message.at,
        token="",
        msgtype=msgtype,
        payload=payload,
        mentions=checks.analyse_mentions(payload),
    )
    return BODIES[msgtype](delivered)


def render_app_message(apps: AppRobots, message: AppMessage) -> str:
    """Render a robot message as a chat bubble."""
    if message.via is Via.SESSION:
        kind = str((message.payload or {}).get("msgtype"))
        body = _session_body(message)
    else:
        kind = str(message.msg_key)
        body = _api_body(apps, kind, message.msg_param)
    notices = "".join(f'<div class="notice">⚠ {esc(n)}</div>' for n in message.notices)
    return (
        f'<div class="msg robot" id="app-msg-{message.seq}" data-type="{esc(kind)}">'
        f'<div class="meta">#{message.seq} · {when(message.at)} · robot · '
        f"{esc(message.via.value)} · {esc(kind)}</div>"
        f'<div class="bubble {esc(kind)}">{body}</div>{notices}</div>'
    )


def render_chat(apps: AppRobots, chat: ChatMessage) -> str:
    """Render a person's message; @robot and whether it was pushed show."""
    nick = next((p.nick for p in apps.people if p.user_id == chat.sender), chat.sender)
    robot = apps.app(chat.client_id)
    mention = (
        f'<span class="mention rang">@{esc(robot.name or robot.client_id)}</span> '
        if chat.at_robot
        else ""
    )
    pushed = "pushed" if chat.callback is not None else "not pushed (no @robot)"
    return (
        f'<div class="msg person" id="chat-{chat.seq}">'
        f'<div class="meta">#{chat.seq} · {when(chat.at)} · {esc(nick)} · '
        f"{pushed}</div>"
        f'<div class="bubble mine">{mention}{render_text(chat.text)}</div></div>'
    )


def render_entry(apps: AppRobots, entry: Entry) -> str:
    """Render a robot message or a person's message."""
    if isinstance(entry, AppMessage):
        return render_app_message(apps, entry)
    return render_chat(apps, entry)


def _conversation(apps: AppRobots, cid: str, title: str, note: str) -> str:
    """Render one conversation with its latest entries."""
    entries = apps.conversation(cid)[-PAGE_MESSAGES:]
    did = dom_id(cid)
    return (
        f'<section class="chat" id="conv-{did}">'
        f"<h2>{esc(title)}</h2>"
        f'<div class="security">{esc(note)}</div>'
        f'<div class="messages" id="entries-{did}">'
        f"{''.join(render_entry(apps, e) for e in entries)}</div></section>"
    )


def _app_header(emulator: Emulator, app: AppConfig) -> str:
    """Render an app's name and state."""
    state = "published" if app.published else "unpublished"
    css = "active" if app.published else "disabled"
    connections = len(emulator.stream.connections(app.client_id))
    return (
        f'<h2 class="app-title">{esc(app.name or "app")} <small>{esc(app.client_id)}'
        f'</small> <span class="badge {css}">{state}</span>'
        f'<span class="badge">{connections} Stream connection(s)</span></h2>'
        f'<div class="security">permissions: {esc(", ".join(sorted(app.permissions)))}'
        "</div>"
    )


def _composer(apps: AppRobots) -> str:
    """Render the form that writes as a person (POST /api/apps/{id}/chat)."""
    app_options = "".join(
        f'<option value="{esc(a.client_id)}">{esc(a.name or a.client_id)}</option>'
        for a in apps.apps
    )
    user_options = "".join(
        f'<option value="{esc(p.user_id)}">{esc(p.nick)}</option>' for p in apps.people
    )
    group_options = "".join(
        f'<option value="{esc(g.open_conversation_id)}">group: {esc(g.title)}</option>'
        for g in apps.groups
    )
    return (
        '<form id="composer" class="composer" autocomplete="off">'
        f'<select id="c-app" aria-label="app">{app_options}</select>'
        f'<select id="c-user" aria-label="person">{user_options}</select>'
        '<select id="c-conv" aria-label="conversation">'
        f'<option value="">1:1 chat</option>{group_options}</select>'
        '<label><input type="checkbox" id="c-at"> @robot</label>'
        '<input id="c-text" type="text" placeholder="Message" aria-label="message">'
        '<button type="submit">Send</button><span id="c-error" class="notice"></span>'
        "</form>"
    )


def render_app_sections(emulator: Emulator) -> str:
    """Render every app's 1:1 chats, the groups and the composer."""
    apps = emulator.apps
    if not apps.apps:
        return '<p class="empty">No apps yet: add one with POST /api/apps.</p>'
    parts = []
    for app in apps.apps:
        chats = "".join(
            _conversation(
                apps,
                apps.conversation_id(app.client_id, p.user_id),
                f"{p.nick} ↔ {app.name or app.client_id}",
                f"1:1 chat · {p.user_id}",
            )
            for p in apps.people
        )
        parts.append(
            f'<div class="app">{_app_header(emulator, app)}'
            f'<div class="chats">{chats}</div></div>'
        )
    groups = "".join(
        _conversation(
            apps,
            g.open_conversation_id,
            g.title or g.open_conversation_id,
            f"group · members: {', '.join(g.members)} · robots: {', '.join(g.robots)}",
        )
        for g in apps.groups
    )
    if groups:
        parts.append(
            f'<div class="app"><h2>Groups</h2><div class="chats">{groups}</div></div>'
        )
    return _composer(apps) + "".join(parts)


def render_app_request_row(record: AppRequest) -> str:
    """Render one app-API log row; failed calls get the "err" class (red)."""
    flags = []
    if record.delivered:
        flags.append(f"delivered:{record.delivered}")
    if record.fault is not None:
        flags.append(f"fault:{record.fault.value}")
    status = "dropped" if record.http_status is None else str(record.http_status)
    body = record.body[:BODY_PREVIEW_CHARS]
    return (
        f'<tr class="{"ok" if record.ok else "err"}" id="app-req-{record.seq}">'
        f"<td>{record.seq}</td><td>{when(record.at)}</td><td>{esc(record.api)}</td>"
        f"<td>{esc(record.client_id or '–')}</td><td>{status}</td>"
        f"<td>{esc(record.code or '')}</td><td>{esc(record.message)}</td>"
        f"<td>{esc(' '.join(flags))}</td>"
        f"<td><details><summary>{len(record.body)} chars</summary>"
        f"<pre>{esc(body)}</pre></details></td></tr>"
    )


def render_app_log(emulator: Emulator) -> str:
    """Render the app-API call log, newest first."""
    rows = "".join(
        render_app_request_row(r)
        for r in reversed(emulator.apps.requests[-PAGE_REQUESTS:])
    )
    return (
        '<section class="log"><h2>App API calls (newest first)</h2><table><thead>'
        "<tr><th>#</th><th>time (UTC)</th><th>API</th><th>app</th><th>HTTP</th>"
        "<th>code</th><th>message</th><th>flags</th><th>body</th></tr></thead>"
        f'<tbody id="app-requests" data-max-rows="{PAGE_REQUESTS}">{rows}</tbody>'
        "</table></section>"
    )


def app_sse_data(apps: AppRobots, event: Event) -> tuple[str, dict[str, object]] | None:
    """Return an app event's SSE name and data (None: not an app event)."""
    if event.kind is EventKind.APP_ENTRY and event.entry is not None:
        entry = event.entry
        if isinstance(entry, AppMessage):
            data = app_message_json(entry)
        else:
            data = chat_json(entry)
        data["dom"] = f"entries-{dom_id(entry.conversation_id)}"
        data["html"] = render_entry(apps, entry)
        return "app_entry", data
    if event.kind is EventKind.APP_REQUEST and event.app_request is not None:
        data = app_request_json(event.app_request)
        data["html"] = render_app_request_row(event.app_request)
        return "app_request", data
    return None
