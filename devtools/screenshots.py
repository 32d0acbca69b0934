"""Take the README's screenshots in a real browser: ``scripts/screenshots``.

Starts the DingTalk emulator and a throw-away Home Assistant, drives them in
Debian's Chromium as the browser tests do, and writes docs/screenshots/*.png
(SHOTS lists the files). The robots, their tokens and the texts are fixed, so a
run changes a picture only where the UI changed (and in the chat page's times
and message ids).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import hashlib
from pathlib import Path
import shutil
import sys
import tempfile
from typing import TYPE_CHECKING, Final

from .browser import (
    HassUI,
    chat_section,
    chromium,
    new_page,
    saved_on_failure,
    set_user_language,
    ui_processes,
)
from .emulator_process import Robot
from .hass_process import PASSWORD, USERNAME
from .process_util import REPO_ROOT, HarnessError, port_is_free, say

if TYPE_CHECKING:
    from collections.abc import Sequence

    from playwright.sync_api import Browser, Locator, StorageState

    from .emulator_process import EmulatorProcess
    from .hass_process import HassProcess

OUT_DIR: Final = REPO_ROOT / "docs" / "screenshots"
SHOTS: Final = {
    "add-robot-form-en.png": "Add integration > DingTalk: the form, filled in",
    "add-robot-form-zh-hans.png": "the same form in 简体中文",
    "add-robot-error-en.png": "a wrong secret: the error on the secret field",
    "send-message-action-en.png": "Developer tools > Actions: an action card",
    "send-message-action-zh-hans.png": "the same action in 简体中文",
    "emulator-chat.png": "the emulator's chat page with that card",
}
ROBOT_NAME: Final = "Home"
# Fixed, so that the pictures do not change from run to run.
TOKEN: Final = hashlib.sha256(b"ha-dingtalk screenshots").hexdigest()
SECRET: Final = f"SEC{hashlib.sha256(b'ha-dingtalk screenshots secret').hexdigest()}"
OTHER_TOKEN: Final = hashlib.sha256(b"ha-dingtalk screenshots other").hexdigest()
EXAMPLE_WEBHOOK: Final = f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"
WRONG_SECRET: Final = f"SEC{'0' * 64}"
EMULATOR_PORT: Final = 8765
CARD: Final = (
    "Garage",
    "The garage door has been open for **10 minutes**.",
    (
        ("Open Home Assistant", "https://ha.example.com/"),
        ("Camera", "https://ha.example.com/lovelace/cameras"),
    ),
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="scripts/screenshots",
        description="Write the README's screenshots into docs/screenshots/.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=OUT_DIR,
        help="folder for the pictures (default: %(default)s)",
    )
    return parser.parse_args(argv)


def shoot(target: Locator, out_dir: Path, name: str) -> None:
    """Save a picture of one element (written here: see devtools.browser.save_page)."""
    path = out_dir / name
    target.page.mouse.move(0, 0)  # no hover effect, no cursor in the picture
    path.write_bytes(target.screenshot(animations="disabled"))
    say(f"  {path}")


def dialog(ui: HassUI) -> Locator:
    """Return the open dialog's visible box."""
    return ui.page.locator("ha-dialog dialog[open]")


@dataclass(frozen=True, slots=True)
class Studio:
    """What every picture needs: the processes, a login, where files go."""

    hass: HassProcess
    emulator: EmulatorProcess
    state: StorageState
    out_dir: Path
    work_dir: Path

    def ui(self, browser: Browser, language: str = "en") -> HassUI:
        """Open a logged-in page in ``language``."""
        page = new_page(browser, language=language, storage_state=self.state)
        return HassUI(page, self.hass.base_url, language)

    def robot_form(self, browser: Browser, language: str) -> None:
        """Picture the "Add robot" form, filled in with the example values."""
        ui = self.ui(browser, language)
        with saved_on_failure(ui.page, self.work_dir, f"form-{language}"):
            ui.start_robot_flow()
            ui.fill_robot_form(ROBOT_NAME, EXAMPLE_WEBHOOK, SECRET)
            name = f"add-robot-form-{language.lower()}.png"
            shoot(dialog(ui), self.out_dir, name)
        ui.page.context.close()

    def robot_error(self, browser: Browser) -> None:
        """Picture a wrong secret: the error sits on the secret field."""
        robot = Robot(OTHER_TOKEN, SECRET, name="Office")
        self.emulator.add_robot(robot)
        ui = self.ui(browser)
        webhook = self.emulator.webhook_url(robot.token)
        with saved_on_failure(ui.page, self.work_dir, "error"):
            ui.start_robot_flow()
            ui.fill_robot_form("Office", webhook, WRONG_SECRET)
            ui.submit()
            ui.field_error(ui.ours("config.step.robot.data.secret")).wait_for()
            shoot(dialog(ui), self.out_dir, "add-robot-error-en.png")
        ui.page.context.close()

    def action_card(
        self, browser: Browser, language: str = "en", *, chat: bool = True
    ) -> None:
        """Picture the action's form with an action card, then the card in the chat."""
        title, text, buttons = CARD
        ui = self.ui(browser, language)
        page = ui.page
        page.set_viewport_size({"width": 1280, "height": 1800})
        with saved_on_failure(page, self.work_dir, f"action-{language}"):
            ui.compose_action_card(ROBOT_NAME, title, text, buttons, horizontal=True)
            ui.perform_action()
            page.get_by_text("status: sent").wait_for()
            form = page.locator("ha-card").first
            shoot(form, self.out_dir, f"send-message-action-{language.lower()}.png")
            if chat:
                chat_page = page.context.new_page()
                chat_page.goto(self.emulator.page_url)
                section = chat_section(chat_page, ROBOT_NAME)
                section.locator(".msg[data-type='actionCard']").wait_for()
                shoot(section, self.out_dir, "emulator-chat.png")
        page.context.close()


def take(out_dir: Path, work_dir: Path) -> None:
    """Start everything, take every picture, stop everything."""
    port = EMULATOR_PORT if port_is_free(EMULATOR_PORT) else None
    with ui_processes(work_dir, emulator_port=port) as (hass, emulator):
        emulator.add_robot(Robot(TOKEN, SECRET, name=ROBOT_NAME))
        hass.add_entry(
            {
                "name": ROBOT_NAME,
                "webhook": emulator.webhook_url(TOKEN),
                "secret": SECRET,
                "keywords": [],
                "send_test_message": True,
            }
        )
        with chromium() as browser:
            page = new_page(browser)
            HassUI(page, hass.base_url).log_in(USERNAME, PASSWORD)
            studio = Studio(
                hass, emulator, page.context.storage_state(), out_dir, work_dir
            )
            page.context.close()
            studio.robot_form(browser, "en")
            studio.robot_error(browser)
            studio.action_card(browser)
        # The WebSocket call runs an event loop: not while Playwright runs.
        set_user_language(hass, "zh-Hans")
        with chromium() as browser:
            studio.robot_form(browser, "zh-Hans")
            studio.action_card(browser, "zh-Hans", chat=False)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the screenshots; return the exit code."""
    args = parse_args(argv)
    out_dir: Path = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix="dingtalk-screenshots-"))
    say(f"screenshots: {len(SHOTS)} pictures into {out_dir}")
    try:
        take(out_dir, work_dir)
    except HarnessError as err:
        say(f"screenshots failed: {err}; logs kept in {work_dir}")
        return 1
    except Exception as err:  # noqa: BLE001 - a browser step failed: say where to look
        say(f"screenshots failed: {err}")
        say(f"logs and the page at failure kept in {work_dir}")
        return 1
    shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
