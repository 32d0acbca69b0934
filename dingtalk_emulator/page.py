"""The chat page (GET /): group robots' chats, app robots' chats, both call logs."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Final

from .app_render import render_app_log, render_app_sections
from .render import PAGE_REQUESTS, esc, render_request_row, robot_section

if TYPE_CHECKING:
    from .emulator import Emulator

_STATIC: Final = resources.files(__package__) / "static"
_CSS: Final = (_STATIC / "page.css").read_text(encoding="utf-8")
_JS: Final = (_STATIC / "page.js").read_text(encoding="utf-8")


def render_page(emulator: Emulator) -> str:
    """Render the whole page: every chat and the request logs."""
    chats = "".join(robot_section(emulator, robot) for robot in emulator.robots)
    if not chats:
        chats = '<p class="empty">No robots yet: add one with POST /api/robots.</p>'
    rows = "".join(
        render_request_row(r) for r in reversed(emulator.requests[-PAGE_REQUESTS:])
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>DingTalk emulator</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head><body>"
        '<header><h1>DingTalk emulator</h1><span id="live">loading…</span>'
        f"<span>wording: {esc(emulator.wording.value)}</span></header>"
        '<main><h2 class="part">Group robots (webhook)</h2>'
        f'<section class="chats">{chats}</section>'
        '<h2 class="part">App robots</h2>'
        f'<section class="apps">{render_app_sections(emulator)}</section>'
        '<section class="log"><h2>Requests (newest first)</h2><table><thead><tr>'
        "<th>#</th><th>time (UTC)</th><th>robot</th><th>HTTP</th><th>errcode</th>"
        "<th>errmsg</th><th>sign</th><th>flags</th><th>body</th></tr></thead>"
        f'<tbody id="requests" data-max-rows="{PAGE_REQUESTS}">{rows}</tbody>'
        f"</table></section>{render_app_log(emulator)}</main>"
        f"<script>{_JS}</script></body></html>"
    )
