"""Fixtures of the browser tests: Chromium pages on a real Home Assistant.

One emulator and one onboarded Home Assistant serve every test of the package;
onboarding is finished completely (devtools.onboarding), so the browser never
lands on it. A test asks for ``ui``: a fresh browser page, logged in (it reuses
the local storage of one login through the real login page), in the language
of ``ui_language`` ("en" unless a test parametrizes it indirectly). When the
test fails, every page it opened is saved (screenshot, HTML, accessibility
tree) into its pytest tmp folder, and the report says where.

Playwright runs only while a test does (the ``ui`` and ``browser`` fixtures start
and stop it): its sync API marks its event loop as running between calls, which
the event loops of pytest-asyncio's and pytest-homeassistant-custom-component's
fixtures would trip over. The same goes for WebSocket calls of the harness: make
them in fixtures that set up before ``ui`` (as ``ui_language`` does).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
import pytest_socket

from devtools.browser import (
    HassUI,
    chromium,
    new_page,
    save_page,
    saved_on_failure,
    set_user_language,
    ui_processes,
)
from devtools.hass_process import PASSWORD, USERNAME
from devtools.process_util import HarnessError, tail
from tests.e2e.conftest import E2E

from .support import require_chromium

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator
    from pathlib import Path

    from _pytest.nodes import Item
    from _pytest.reports import TestReport
    from _pytest.runner import CallInfo
    from playwright.sync_api import Browser, StorageState

FAILURE_PAGES = pytest.StashKey[tuple[HassUI, "Path"]]()


@dataclass(slots=True)
class BrowserStack(E2E):
    """The processes the package shares, and a logged-in browser's local storage."""

    storage_state: StorageState | None = None


@pytest.fixture(autouse=True)
def browser_sockets(socket_enabled: None) -> None:
    """Let every browser test and its function fixtures open sockets (127.0.0.1)."""


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserStack]:
    """Start the emulator and Home Assistant, onboard, log in once in a browser."""
    require_chromium()
    pytest_socket.enable_socket()  # package fixtures set up before socket_enabled
    work_dir = tmp_path_factory.mktemp("browser")
    with ExitStack() as running:
        try:
            hass, emulator = running.enter_context(ui_processes(work_dir))
        except HarnessError as err:
            log = work_dir / "home-assistant.log"
            pytest.fail(f"{err}\n--- {log} ---\n{tail(log, 80)}", pytrace=False)
        stack = BrowserStack(hass, emulator, work_dir)
        with chromium() as browser:
            page = new_page(browser)
            with saved_on_failure(page, work_dir, "login"):
                HassUI(page, hass.base_url).log_in(USERNAME, PASSWORD)
            stack.storage_state = page.context.storage_state()
        yield stack


@pytest.fixture
def ui_language(request: pytest.FixtureRequest, stack: BrowserStack) -> Iterator[str]:
    """Set the user's language (profile page); "en" unless parametrized."""
    language: str = getattr(request, "param", "en")
    if language != "en":
        set_user_language(stack.hass, language)
    yield language
    if language != "en":
        set_user_language(stack.hass, "en")


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Start Chromium for one test."""
    with chromium() as started:
        yield started


@pytest.fixture
def ui(
    request: pytest.FixtureRequest,
    stack: BrowserStack,
    ui_language: str,
    browser: Browser,
    tmp_path: Path,
) -> HassUI:
    """Return a logged-in page of Home Assistant in the test's language."""
    page = new_page(browser, language=ui_language, storage_state=stack.storage_state)
    ui = HassUI(page, stack.hass.base_url, ui_language)
    request.node.stash[FAILURE_PAGES] = (ui, tmp_path / "failure")
    return ui


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: Item, call: CallInfo[None]
) -> Generator[None, TestReport, TestReport]:
    """Save the pages of a failed test and attach the end of Home Assistant's log."""
    report = yield
    if not (report.failed and call.when == "call"):
        return report
    pages = item.stash.get(FAILURE_PAGES, None)
    if pages is not None:
        ui, folder = pages
        saved = [
            path
            for number, page in enumerate(ui.page.context.pages)
            for path in save_page(page, folder, f"page-{number}")
        ]
        listing = "\n".join(map(str, saved)) or "nothing could be saved"
        report.sections.append(("Browser pages at failure", listing))
    stack = getattr(item, "funcargs", {}).get("stack")
    if isinstance(stack, BrowserStack):
        report.sections.append(
            (
                f"Home Assistant log ({stack.hass.log_path}), last lines",
                tail(stack.hass.log_path, 60),
            )
        )
    return report
