"""scripts/develop on a copy of config/, on free ports: sign-in, HTTP config, Ctrl-C.

Also what a person sees: the banner last (the logs go to files), onboarding
finished, the demo robot named alike in the banner and the emulator, and a
browser that lands on the dashboard after logging in.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from pathlib import Path
import re
import signal
import sys
from typing import IO, TYPE_CHECKING, Any

from playwright.sync_api import expect
import pytest

from devtools.browser import HassUI, chat_section, chromium, new_page, saved_on_failure
from devtools.develop import (
    EMULATOR_LOG,
    HASS_LOG,
    ROBOT_NAME,
    USER_FILE,
    USERNAME,
)
from devtools.hass_process import HTTP_STORE, HassProcess, HttpBinding
from devtools.process_util import (
    LOOPBACK,
    REPO_ROOT,
    child_env,
    free_port,
    http_request,
    port_is_free,
    start_process,
    stop_process,
    tail,
    wait_for,
)
from tests.browser.support import require_chromium

if TYPE_CHECKING:
    import subprocess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

RULE = "=" * 72
NOTICE = "HTTP CONFIG NOT CONFIRMED"
# A line of Home Assistant's log starts with its date and time.
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


@dataclass(slots=True)
class Develop:
    """One run of ``python -m devtools.develop``, output to a file."""

    process: subprocess.Popen[bytes]
    log: IO[bytes] | None
    output: Path

    def text(self) -> str:
        """Return what develop (and Home Assistant, on its console) printed."""
        return self.output.read_text("utf-8", "replace")

    def wait_for_banner(self) -> str:
        """Wait until the banner is complete; return it."""

        def probe() -> str | None:
            if self.process.poll() is not None:
                pytest.fail(f"develop exited early:\n{tail(self.output, 60)}")
            text = self.text()
            found = re.search(f"^{RULE}$(.*?)^{RULE}$", text, re.MULTILINE | re.DOTALL)
            return found[1] if found else None

        banner = wait_for(probe, timeout=180.0, interval=0.5)
        assert banner is not None, tail(self.output, 60)
        return banner

    def interrupt(self) -> int | None:
        """Press Ctrl-C (SIGINT to develop alone); return its exit code."""
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=90.0)
        finally:
            code = stop_process(self.process)  # only if Ctrl-C did not stop it
            if self.log is not None:
                self.log.close()
        return code


@dataclass(slots=True)
class DevConfig:
    """A copy of config/ with ports of its own."""

    config_dir: Path
    port: int
    emulator_port: int

    def run(self, *extra: str) -> Develop:
        """Start develop on this copy."""
        output = self.config_dir.parent / f"develop-{len(self.runs())}.out"
        args = [
            sys.executable,
            "-m",
            "devtools.develop",
            "--config",
            str(self.config_dir),
            "--port",
            str(self.port),
            "--emulator-port",
            str(self.emulator_port),
            *extra,
        ]
        process, log = start_process(
            args, cwd=REPO_ROOT, env=child_env(), log_path=output
        )
        return Develop(process, log, output)

    def runs(self) -> list[Path]:
        """Return the output files of earlier runs."""
        return sorted(self.config_dir.parent.glob("develop-*.out"))

    def user(self) -> dict[str, Any] | None:
        """Return the stored development user, if any."""
        path = self.config_dir / USER_FILE
        if not path.exists():
            return None
        user: dict[str, Any] = json.loads(path.read_text("utf-8"))
        return user

    def http_store(self) -> dict[str, Any]:
        """Return the data of .storage/http."""
        data: dict[str, Any] = json.loads(
            (self.config_dir / HTTP_STORE).read_text("utf-8")
        )["data"]
        return data


@pytest.fixture
def dev_config(tmp_path: Path) -> DevConfig:
    """Copy the repository's config/configuration.yaml, on free ports."""
    port, emulator_port = free_port(), free_port()
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    text = (REPO_ROOT / "config" / "configuration.yaml").read_text("utf-8")
    text, count = re.subn(r"server_port: 8123\b", f"server_port: {port}", text)
    assert count == 1
    (config_dir / "configuration.yaml").write_text(text, "utf-8")
    return DevConfig(config_dir, port, emulator_port)


def processes_using(config_dir: Path) -> list[str]:
    """Return the command lines of processes that name ``config_dir``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if str(config_dir).encode() in args:
            found.append(b" ".join(args).decode("utf-8", "replace"))
    return found


def assert_stopped(dev: DevConfig, run: Develop) -> None:
    """Press Ctrl-C; assert develop stopped Home Assistant, the emulator and itself."""
    assert run.interrupt() == 0, tail(run.output, 40)
    assert "Stopping Home Assistant and the emulator" in run.text()
    assert port_is_free(dev.port)
    assert port_is_free(dev.emulator_port)
    assert processes_using(dev.config_dir) == []


def assert_confirmed(dev: DevConfig) -> None:
    """Assert the store keeps 127.0.0.1 and develop's port, with nothing on trial."""

    def promoted() -> dict[str, Any] | None:
        data = dev.http_store()
        return data if data["pending"] is None else None

    data = wait_for(promoted, timeout=10.0)
    assert data is not None, f"{HTTP_STORE} still has a pending config"
    assert HttpBinding.of(data["stable"]) == HttpBinding((LOOPBACK,), dev.port)


def test_develop_onboards_then_logs_in_and_confirms_the_http_config(
    dev_config: DevConfig,
) -> None:
    """First start: onboard "dev" and confirm; later start: log in; Ctrl-C stops all."""
    first = dev_config.run()
    banner = first.wait_for_banner()

    user = dev_config.user()
    assert user is not None
    assert user["username"] == USERNAME
    assert f"log in as:        {USERNAME} / {user['password']}" in banner
    assert (dev_config.config_dir / USER_FILE).stat().st_mode & 0o777 == 0o600
    assert NOTICE not in banner
    assert f"http://{LOOPBACK}:{dev_config.port}/" in banner
    assert_confirmed(dev_config)
    assert_stopped(dev_config, first)

    later = dev_config.run()
    banner = later.wait_for_banner()

    assert dev_config.user() == user
    assert f"log in as:        {USERNAME} / {user['password']}" in banner
    assert NOTICE not in banner
    assert_confirmed(dev_config)
    assert_stopped(dev_config, later)


def test_develop_onboarded_by_a_person_asks_for_confirmation_then_reset(
    dev_config: DevConfig,
) -> None:
    """Without a dev user it says how to confirm; --reset starts over with one."""
    person = HassProcess(
        dev_config.config_dir,
        port=dev_config.port,
        log_path=dev_config.config_dir.parent / "person.log",
    )
    try:
        person.start()
        person.wait_until_up()
        person.onboard(username="person", password="not-the-dev-user")
    finally:
        person.stop()  # without confirming: the moved http: block stays on trial
    assert dev_config.http_store()["pending"] is not None

    run = dev_config.run()
    banner = run.wait_for_banner()

    assert NOTICE in banner
    assert "log in as:        your own account" in banner
    notice = " ".join(banner.split(NOTICE)[1].split())  # unwrapped
    assert "somebody else onboarded this Home Assistant" in notice
    assert "previous HTTP config (every interface, port 8123)" in notice
    assert "scripts/develop --reset" in notice
    assert dev_config.user() is None
    assert_stopped(dev_config, run)

    reset = dev_config.run("--reset")
    banner = reset.wait_for_banner()

    assert "develop --reset: removed" in reset.text()
    user = dev_config.user()
    assert user is not None
    assert f"log in as:        {USERNAME} / {user['password']}" in banner
    assert NOTICE not in banner
    assert_confirmed(dev_config)
    assert_stopped(dev_config, reset)


@pytest.mark.browser
def test_develop_banner_comes_last_and_the_browser_lands_on_the_dashboard(
    dev_config: DevConfig, tmp_path: Path
) -> None:
    """Logs in files, onboarding done, one robot name; login leads to the dashboard."""
    require_chromium()
    run = dev_config.run()
    banner = run.wait_for_banner()
    user = dev_config.user()
    assert user is not None

    before, rule, after = run.text().partition(RULE)
    assert rule
    assert len(before.strip().splitlines()) == 1, before  # "starting …" only
    assert not [line for line in run.text().splitlines() if LOG_LINE.match(line)]
    assert after.strip().endswith(RULE)  # nothing after the banner
    hass_log = dev_config.config_dir / HASS_LOG
    assert f"log:              {hass_log}" in banner
    assert "Home Assistant initialized in" in hass_log.read_text("utf-8")
    assert f"log:              {dev_config.config_dir / EMULATOR_LOG}" in banner

    base_url = f"http://{LOOPBACK}:{dev_config.port}"
    steps = http_request("GET", f"{base_url}/api/onboarding").json_list()
    assert {step["step"]: step["done"] for step in steps} == {
        "user": True,
        "core_config": True,
        "analytics": True,
        "integration": True,
    }
    emulator_url = f"http://{LOOPBACK}:{dev_config.emulator_port}"
    robots = http_request("GET", f"{emulator_url}/api/robots").json_object()
    assert [robot["name"] for robot in robots["robots"]] == [ROBOT_NAME]
    assert f"Demo robot {ROBOT_NAME!r}" in banner

    with chromium() as browser:
        page = new_page(browser)
        with saved_on_failure(page, tmp_path, "develop"):
            ui = HassUI(page, base_url)
            ui.log_in(user["username"], user["password"])
            expect(page).to_have_url(re.compile(r"/(home|lovelace)\b"))
            expect(ui.sidebar_link(re.compile("Developer"))).to_be_visible()
            chat = page.context.new_page()
            chat.goto(f"{emulator_url}/")
            expect(chat_section(chat, ROBOT_NAME)).to_be_visible()
    assert_stopped(dev_config, run)
