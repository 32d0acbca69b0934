"""Fixtures for end-to-end tests: Home Assistant and the emulator as real processes.

The tests are plain synchronous tests that talk HTTP to 127.0.0.1, so the
autouse fixtures of pytest-homeassistant-custom-component (event loop, lingering
tasks and threads) have nothing to complain about. Its socket guard stays active:
only connections to 127.0.0.1 are allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
import pytest_socket

from devtools.emulator_process import EmulatorProcess, Robot
from devtools.hass_process import HassProcess
from devtools.process_util import HarnessError, tail, wait_for

from .releases import MAIN, HaRelease

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator, Sequence
    from pathlib import Path

    from _pytest.nodes import Item
    from _pytest.reports import TestReport
    from _pytest.runner import CallInfo


@dataclass(frozen=True, slots=True)
class RobotHandle:
    """A robot known to the emulator and added to Home Assistant."""

    name: str
    robot: Robot
    entry_id: str
    entity_id: str

    @property
    def token(self) -> str:
        """The robot's access token."""
        return self.robot.token


@dataclass(slots=True)
class E2E:
    """The processes a test module shares."""

    hass: HassProcess
    emulator: EmulatorProcess
    work_dir: Path
    shared: dict[str, RobotHandle] = field(default_factory=dict)

    def new_robot(self, name: str, *, keywords: Sequence[str] = ()) -> Robot:
        """Create a signed robot in the emulator (not yet in Home Assistant)."""
        robot = Robot.generate(signed=True, keywords=keywords, name=name)
        self.emulator.add_robot(robot)
        return robot

    def flow_data(
        self,
        name: str,
        robot: Robot,
        *,
        secret: str | None = None,
        keywords: Sequence[str] | None = None,
        send_test_message: bool = False,
    ) -> dict[str, object]:
        """Return the "Add robot" form as a user fills it in."""
        return {
            "name": name,
            "webhook": self.emulator.webhook_url(robot.token),
            "secret": secret if secret is not None else robot.secret,
            "keywords": list(robot.keywords if keywords is None else keywords),
            "send_test_message": send_test_message,
        }

    def notify_entities(self) -> set[str]:
        """Return the notify entities that exist now."""
        return set(self.hass.entity_ids("notify"))

    def wait_new_entity(self, before: set[str]) -> str:
        """Wait for the notify entity a new robot adds; return its id."""

        def probe() -> str | None:
            added = sorted(self.notify_entities() - before)
            return added[0] if added else None

        entity_id = wait_for(probe, timeout=10.0)
        assert entity_id is not None, "the robot's notify entity did not appear"
        return entity_id

    def add_robot(
        self,
        name: str,
        *,
        keywords: Sequence[str] = (),
        send_test_message: bool = False,
    ) -> RobotHandle:
        """Create a robot in the emulator and add it through the config flow."""
        robot = self.new_robot(name, keywords=keywords)
        before = self.notify_entities()
        entry = self.hass.add_entry(
            self.flow_data(name, robot, send_test_message=send_test_message)
        )
        entity_id = self.wait_new_entity(before)
        return RobotHandle(name, robot, str(entry["entry_id"]), entity_id)

    def shared_robot(self, name: str, *, keywords: Sequence[str] = ()) -> RobotHandle:
        """Return the module's robot ``name``, adding it on first use."""
        if name not in self.shared:
            self.shared[name] = self.add_robot(name, keywords=keywords)
        return self.shared[name]


@pytest.fixture(autouse=True)
def e2e_sockets(socket_enabled: None) -> None:
    """Let every end-to-end test and its function fixtures open sockets.

    Autouse fixtures are set up before the other fixtures of their scope, so
    function-scoped fixtures that talk to the processes (E2E.shared_robot) may.
    """


@pytest.fixture(scope="module")
def ha_release() -> HaRelease:
    """Return the Home Assistant a module runs against: .venv's, unless overridden."""
    # A module that overrides this fixture with ``params`` runs once per release.
    return MAIN


@pytest.fixture(scope="module")
def e2e(
    tmp_path_factory: pytest.TempPathFactory, ha_release: HaRelease
) -> Iterator[E2E]:
    """Start the emulator and an onboarded Home Assistant for one test module."""
    ha_release.require()
    # Module fixtures are set up before the test's socket_enabled fixture; the
    # guard that allows 127.0.0.1 only stays in place.
    pytest_socket.enable_socket()
    work_dir = tmp_path_factory.mktemp(f"e2e-{ha_release.test_id}")
    emulator_log = work_dir / "emulator.log"
    hass_log = work_dir / "home-assistant.log"
    emulator = EmulatorProcess(log_path=emulator_log)
    hass = HassProcess(work_dir / "config", log_path=hass_log, python=ha_release.python)
    try:
        emulator.start()  # starts while Home Assistant does
        try:
            hass.start_and_onboard()
            emulator.wait_until_up()
        except HarnessError as err:
            # The logs live in a temporary folder: show their ends (CI keeps this).
            pytest.fail(
                f"{err}\n--- {hass_log} ---\n{tail(hass_log, 80)}"
                f"\n--- {emulator_log} ---\n{tail(emulator_log, 20)}",
                pytrace=False,
            )
        yield E2E(hass, emulator, work_dir)
    finally:
        try:
            hass.stop()
        finally:
            emulator.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: Item, call: CallInfo[None]
) -> Generator[None, TestReport, TestReport]:
    """Attach the end of Home Assistant's log to a failed end-to-end test."""
    report = yield
    funcargs = getattr(item, "funcargs", {})
    shared = funcargs.get("e2e")
    if report.failed and call.when == "call" and isinstance(shared, E2E):
        report.sections.append(
            (
                f"Home Assistant log ({shared.hass.log_path}), last lines",
                tail(shared.hass.log_path, 80),
            )
        )
    return report
