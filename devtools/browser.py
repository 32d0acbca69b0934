"""Debian's Chromium driven by Playwright: Home Assistant's UI as a person uses it.

The browser tests (tests/browser) and scripts/screenshots share what is here.
Chromium is Debian's (/usr/bin/chromium, installed by scripts/setup): Playwright
never downloads a browser of its own. It starts with flags that keep it off the
network (no background requests, updates, sync or QUIC) and, as Playwright always
does, a fresh temporary user-data folder.

Home Assistant's frontend is made of Lit web components with open shadow roots;
Playwright's locators pierce them. One catch: a component's light-DOM children
are slotted into its shadow tree, so a locator scoped to an element *inside* the
shadow tree (the <dialog> of ha-dialog, a role=listitem button) does not see them.
Scope to the component (the custom element) instead, or search the whole page.

Playwright's sync API marks its event loop as running in the thread that uses it,
between its calls. Nothing else may run an asyncio loop in that thread meanwhile
(``asyncio.run``, pytest-asyncio's fixtures, ``HassProcess.websocket_command``).
"""

from __future__ import annotations

from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache
import importlib.util
import json
import os
from pathlib import Path
import re
from typing import TYPE_CHECKING, Any, Final

from .emulator_process import EmulatorProcess
from .hass_process import HassProcess
from .onboarding import finish_local_onboarding_steps
from .process_util import REPO_ROOT

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from playwright.sync_api import Browser, Locator, Page, StorageState

CHROMIUM: Final = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying Google's hosts.
CHROMIUM_FLAGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT: Final = {"width": 1280, "height": 900}
TIMEOUT_MS: Final = 15_000  # actions (click, fill, wait_for)
EXPECT_TIMEOUT_MS: Final = 10_000  # expect(...) assertions
INTEGRATION_NAME: Final = "DingTalk"  # manifest.json "name"
TRANSLATIONS: Final = REPO_ROOT / "custom_components" / "dingtalk" / "translations"
BROWSER_LOCALES: Final = {"en": "en-US", "zh-Hans": "zh-CN"}

# Home Assistant's own words (its frontend 20260930), in the languages we test.
FRONTEND_TEXT: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {
        "welcome": "Welcome home!",
        "username": "Username",
        "password": "Password",
        "log_in": "Log in",
        "overview": "Overview",
        "add_integration": "Add integration",
        "search_brand": "Search for a brand name",
        "submit": "Submit",
        "skip_and_finish": "Skip and finish",
        "configure": "Configure",
        "menu": "Menu",
        "reconfigure": "Reconfigure",
        "options_saved": "Options successfully saved.",
        "add_item": "Add {label}",
        "action": "Action",
        "add_target": "Add target",
        "entities": "Entities",
        "add": "Add",
        "perform_action": "Perform action",
        "notifiers": "Notifiers",
    },
    "zh-Hans": {
        "welcome": "欢迎回家！",
        "username": "用户名",
        "password": "密码",
        "log_in": "登录",
        "overview": "概览",
        "add_integration": "添加集成",
        "search_brand": "搜索品牌名称",
        "submit": "提交",
        "skip_and_finish": "跳过并完成",
        "configure": "配置",
        "menu": "菜单",
        "reconfigure": "重新配置",
        "options_saved": "选项已成功保存。",
        "add_item": "添加{label}",
        "action": "动作",
        "add_target": "添加目标",
        "entities": "实体",
        "add": "添加",
        "perform_action": "执行动作",
        "notifiers": "通知程序",
    },
}
# frontend/set_user_data "language", as the profile page sends it.
_LOCALE_DEFAULTS: Final = {
    "number_format": "language",
    "time_format": "language",
    "date_format": "language",
    "time_zone": "local",
    "first_weekday": "language",
}


@contextmanager
def ui_processes(
    work_dir: Path, *, emulator_port: int | None = None
) -> Iterator[tuple[HassProcess, EmulatorProcess]]:
    """Run the emulator and an onboarded Home Assistant (logs in ``work_dir``).

    Onboarding is complete (devtools.onboarding), so a browser never sees it.
    """
    emulator = EmulatorProcess(port=emulator_port, log_path=work_dir / "emulator.log")
    hass = HassProcess(work_dir / "config", log_path=work_dir / "home-assistant.log")
    finish_local_onboarding_steps(hass.config_dir)
    try:
        emulator.start()  # starts while Home Assistant does
        hass.start_and_onboard()
        emulator.wait_until_up()
        yield hass, emulator
    finally:
        try:
            hass.stop()
        finally:
            emulator.stop()


def chromium_problem() -> str | None:
    """Say why the browser tests cannot run here, or None if they can."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed in .venv; run scripts/setup"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing; run scripts/setup (Debian's chromium package)"
    return None


@contextmanager
def chromium() -> Iterator[Browser]:
    """Start Playwright and Debian's headless Chromium; stop both afterwards."""
    from playwright.sync_api import expect, sync_playwright  # noqa: PLC0415 - optional

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_FLAGS), headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def new_page(
    browser: Browser,
    *,
    language: str = "en",
    storage_state: StorageState | None = None,
) -> Page:
    """Open a page in a context of its own (cookies, local storage)."""
    # A dict, not a file: Playwright would read a file in a thread of its event
    # loop's executor, which outlives the call (pytest-homeassistant-custom-
    # component fails a test that leaves a thread behind).
    context = browser.new_context(
        locale=BROWSER_LOCALES.get(language, "en-US"),
        viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]},
        storage_state=storage_state,
        color_scheme="light",
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def save_page(page: Page, folder: Path, stem: str) -> list[Path]:
    """Save a screenshot, the HTML and the accessibility tree; return the files."""
    # page.content() has the light DOM only; the accessibility tree (a YAML
    # outline of roles and texts) pierces the shadow roots, so it shows the UI.
    # Files are written here, not by Playwright: see new_page.
    folder.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    savers: tuple[tuple[str, Callable[[Path], object]], ...] = (
        (".png", lambda path: path.write_bytes(page.screenshot(full_page=True))),
        (".html", lambda path: path.write_text(page.content(), "utf-8")),
        (
            ".aria.yaml",
            lambda path: path.write_text(page.locator("body").aria_snapshot(), "utf-8"),
        ),
    )
    for suffix, save in savers:
        path = folder / f"{stem}{suffix}"
        # A page that crashed or closed must not hide the failure itself.
        with suppress(Exception):
            save(path)
            saved.append(path)
    return saved


@contextmanager
def saved_on_failure(page: Page, folder: Path, stem: str) -> Iterator[Page]:
    """Save the page (save_page) when the block raises; the error says where."""
    try:
        yield page
    except BaseException as err:
        saved = save_page(page, folder, stem)
        err.add_note(f"page at failure: {', '.join(map(str, saved)) or 'not saved'}")
        raise


def set_user_language(hass: HassProcess, language: str) -> None:
    """Set the user's language as the profile page does (frontend/set_user_data)."""
    # Not while Playwright runs in this thread: the WebSocket call runs a loop.
    hass.websocket_command(
        {
            "type": "frontend/set_user_data",
            "key": "language",
            "value": {"language": language, **_LOCALE_DEFAULTS},
        }
    )


@cache
def _translations(language: str) -> dict[str, Any]:
    """Return the integration's translations for ``language``."""
    data: dict[str, Any] = json.loads(
        (TRANSLATIONS / f"{language}.json").read_text("utf-8")
    )
    return data


def integration_text(language: str, key: str) -> str:
    """Return the integration's text at a dotted key, e.g. config.step.user.title."""
    value: Any = _translations(language)
    for part in key.split("."):
        value = value[part]
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a text in {language}.json")
    return value


def exact(text: str) -> re.Pattern[str]:
    """Match exactly ``text`` (an accessible name may end in "*" if required)."""
    return re.compile(rf"^{re.escape(text)}\*?$")


@dataclass(slots=True)
class HassUI:
    """Home Assistant's UI on one page, in one language."""

    page: Page
    base_url: str
    language: str = "en"

    def text(self, key: str, **values: str) -> str:
        """Return Home Assistant's own text ``key`` in the UI's language."""
        return FRONTEND_TEXT[self.language][key].format(**values)

    def ours(self, key: str) -> str:
        """Return the integration's text ``key`` in the UI's language."""
        return integration_text(self.language, key)

    def goto(self, path: str) -> None:
        """Open a path of Home Assistant."""
        self.page.goto(f"{self.base_url}{path}")

    # -- login ----------------------------------------------------------------

    def log_in(self, username: str, password: str) -> None:
        """Log in on the login page; return once the frontend has loaded."""
        self.goto("/")
        self.submit_login(username, password)

    def submit_login(self, username: str, password: str) -> None:
        """Fill in the login page that is open; wait for the frontend."""
        page = self.page
        page.get_by_role("textbox", name=self.text("username")).fill(username)
        page.get_by_role("textbox", name=self.text("password")).fill(password)
        page.get_by_role("button", name=self.text("log_in")).click()
        page.wait_for_url(re.compile(r"^(?!.*(/auth/|auth_callback)).*$"))
        self.sidebar_link(self.text("overview")).wait_for()

    def sidebar_link(self, name: str | re.Pattern[str]) -> Locator:
        """Return a link of the sidebar."""
        return self.page.locator("ha-sidebar").get_by_role("link", name=name)

    # -- Add integration and config flows ---------------------------------------

    def open_add_integration(self) -> None:
        """Open Settings > Devices & services > Add integration."""
        self.goto("/config/integrations/dashboard")
        self.page.get_by_role("button", name=self.text("add_integration")).click()

    def search_brands(self, query: str) -> Locator:
        """Type into the dialog's search box; return the listed brands."""
        self.page.get_by_placeholder(self.text("search_brand")).fill(query)
        return self.page.locator("ha-integration-list-item")

    def start_robot_flow(self, query: str = INTEGRATION_NAME) -> None:
        """Add integration, search ``query``, pick DingTalk, then a group robot."""
        self.open_add_integration()
        self.search_brands(query).filter(has_text=INTEGRATION_NAME).click()
        self.choose_group_robot()

    def choose_group_robot(self) -> None:
        """Pick "Group robot" in DingTalk's first step (a menu); wait for its form."""
        title = self.dialog_title(self.ours("config.step.user.title"))
        title.wait_for()
        self.page.locator("ha-dialog").get_by_text(
            self.ours("config.step.user.menu_options.robot"), exact=True
        ).click()
        self.dialog_title(self.ours("config.step.robot.title")).wait_for()

    def dialog_title(self, title: str) -> Locator:
        """Return a dialog's title."""
        return self.page.locator("ha-dialog").get_by_text(title, exact=True)

    def textbox(self, label: str) -> Locator:
        """Return a form's text field by its label."""
        return self.page.get_by_role("textbox", name=exact(label))

    def fill_robot_form(self, name: str, webhook: str, secret: str) -> None:
        """Fill in the name, webhook and secret of the "Add robot" form."""
        data = "config.step.robot.data"
        self.textbox(self.ours(f"{data}.name")).fill(name)
        self.textbox(self.ours(f"{data}.webhook")).fill(webhook)
        self.textbox(self.ours(f"{data}.secret")).fill(secret)

    def field_error(self, label: str) -> Locator:
        """Return the error Home Assistant shows on the field ``label`` (above it)."""
        field = self.page.locator("ha-form ha-selector").filter(has=self.textbox(label))
        return field.locator("xpath=preceding-sibling::*[1][self::ha-alert]")

    def add_list_item(self, label: str, value: str) -> None:
        """Add one value to a field that takes several (e.g. keywords)."""
        add = self.text("add_item", label=label)
        self.page.get_by_role("button", name=add).click()
        self.textbox(label).last.fill(value)

    def submit(self) -> None:
        """Press the form's Submit button."""
        self.page.get_by_role("button", name=self.text("submit")).click()

    def skip_and_finish(self) -> None:
        """Close the "Name and assign" step that follows a new entry."""
        self.page.get_by_role("button", name=self.text("skip_and_finish")).click()

    # -- config entries ---------------------------------------------------------

    def entry_row(self, title: str) -> Locator:
        """Open the integration's page; return the entry's row."""
        self.goto("/config/integrations/integration/dingtalk")
        return self.page.locator("ha-config-entry-row").filter(
            has=self.page.get_by_text(title, exact=True)
        )

    def open_options(self, title: str) -> None:
        """Press Configure on an entry."""
        row = self.entry_row(title)
        row.get_by_role("button", name=self.text("configure")).click()

    def open_reconfigure(self, title: str) -> None:
        """Choose Reconfigure in an entry's menu."""
        row = self.entry_row(title)
        row.get_by_role("button", name=self.text("menu")).first.click()
        self.page.get_by_role("menuitem", name=self.text("reconfigure")).click()

    def open_device(self, title: str) -> None:
        """Open the device page of an entry's device (named like the entry)."""
        row = self.entry_row(title)
        row.get_by_role("button", name=re.compile(rf"^{re.escape(title)}\s")).click()
        self.page.wait_for_url(re.compile(r"/config/devices/device/"))

    def device_card(self, heading: str) -> Locator:
        """Return a card of the device page (Notifiers, Sensors, ...)."""
        return self.page.locator("ha-device-entities-card").filter(
            has=self.page.get_by_role("heading", name=heading)
        )

    def choose(self, label: str, option: str) -> None:
        """Pick ``option`` in the drop-down list ``label`` of a form."""
        self.page.get_by_text(label).first.click()
        self.page.get_by_role("menuitem", name=option, exact=True).click()

    # -- Developer tools > Actions ----------------------------------------------

    def open_action(self, action: str) -> None:
        """Open Developer tools > Actions in UI mode and pick ``action``."""
        self.goto("/developer-tools/action")
        page = self.page
        page.get_by_text(self.text("action"), exact=True).last.click()
        page.get_by_role("dialog").get_by_role("textbox").fill(action)
        page.get_by_text(action, exact=True).click()

    def action_field(self, label: str) -> Locator:
        """Return the row of the action's field ``label``."""
        return self.page.locator("ha-settings-row").filter(
            has=self.page.get_by_text(label, exact=True)
        )

    def use_action_field(self, label: str) -> Locator:
        """Tick an optional field (so that it is sent); return its row."""
        row = self.action_field(label)
        row.locator("ha-checkbox").click()
        return row

    def fill_action_field(self, label: str, value: str) -> None:
        """Tick a text field and type ``value``."""
        self.use_action_field(label).get_by_role("textbox").fill(value)

    def choose_action_option(self, label: str, option: str) -> None:
        """Tick a drop-down field and pick ``option``."""
        self.use_action_field(label).locator("ha-selector-select").click()
        self.page.get_by_role("menuitem", name=option, exact=True).click()

    def add_action_target(self, search: str) -> None:
        """Add the first entity that ``search`` finds as the action's target."""
        page = self.page
        page.get_by_role("button", name=self.text("add_target")).click()
        picker = page.get_by_role("dialog")
        picker.get_by_role("textbox").fill(search)
        picker.get_by_role("button", name=self.text("entities")).click()
        page.locator("ha-combo-box-item").filter(has_text=search).first.click()

    def open_section(self, name: str) -> None:
        """Expand a collapsed group of fields."""
        self.page.get_by_role("button", name=re.compile(f"^{re.escape(name)}")).click()

    def add_action_object(self, label: str, values: Mapping[str, str]) -> None:
        """Add one item to a list-of-objects field (e.g. a button), field by field."""
        row = self.action_field(label)
        row.get_by_role("button", name=self.text("add"), exact=True).click()
        form = self.page.locator("dialog-form")
        for field, value in values.items():
            form.get_by_role("textbox", name=exact(field)).fill(value)
        form.get_by_role("button", name=self.text("add"), exact=True).click()
        form.wait_for(state="hidden")

    def compose_action_card(
        self,
        robot: str,
        title: str,
        text: str,
        buttons: Sequence[tuple[str, str]] = (),
        *,
        horizontal: bool = False,
    ) -> None:
        """Fill in dingtalk.send_message for an action card, field by field."""
        fields = "services.send_message.fields"
        self.open_action("dingtalk.send_message")
        self.add_action_target(robot)
        self.fill_action_field(self.ours(f"{fields}.title.name"), title)
        self.fill_action_field(self.ours(f"{fields}.message.name"), text)
        self.choose_action_option(
            self.ours(f"{fields}.msgtype.name"),
            self.ours("selector.msgtype.options.action_card"),
        )
        self.open_section(self.ours("services.send_message.sections.action_card.name"))
        if buttons:
            label = self.ours(f"{fields}.buttons.name")
            button = "selector.buttons.fields"
            self.use_action_field(label)
            for button_title, url in buttons:
                values = {
                    self.ours(f"{button}.title.name"): button_title,
                    self.ours(f"{button}.url.name"): url,
                }
                self.add_action_object(label, values)
        if horizontal:
            option = self.ours("selector.orientation.options.horizontal")
            row = self.use_action_field(self.ours(f"{fields}.orientation.name"))
            row.get_by_role("radio", name=option).check()

    def perform_action(self) -> None:
        """Press Perform action."""
        self.page.get_by_role("button", name=self.text("perform_action")).click()

    def action_error(self) -> Locator:
        """Return the error an action answered with, as the page shows it."""
        return self.page.locator("ha-alert[alert-type='error']")


def chat_section(page: Page, robot_name: str) -> Locator:
    """Return a robot's group chat on the emulator's page."""
    heading = page.get_by_role(
        "heading", level=2, name=re.compile(rf"^{re.escape(robot_name)}\s")
    )
    return page.locator("section.chat").filter(has=heading)
