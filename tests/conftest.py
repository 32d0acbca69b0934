"""Shared fixtures.

DingTalk emulator fixtures (stable names: use them in client and Home Assistant tests):

- ``manual_clock``: a ManualClock at EMULATOR_START (1_700_000_000.0 s); move it with
  ``manual_clock.advance(seconds)`` to cross rate, throttle and signature windows.
- ``emulator``: ``Emulator(clock=manual_clock)`` with no robots.
- ``emulator_server`` (async): the emulator served on 127.0.0.1 and a free port, shut
  down cleanly after the test; ``.base_url``, ``.webhook_url(token)``, ``.url(path)``.
  It requests pytest-socket's ``socket_enabled`` (connections stay limited to
  127.0.0.1 by pytest-homeassistant-custom-component).
- ``make_robot``: ``make_robot(*, token=None, secret=TEST_SECRET, keywords=(),
  ip_allowlist=(), name="", state=RobotState.ACTIVE) -> RobotConfig`` adds a robot to
  ``emulator`` with the next fixed token of TEST_TOKENS (the first is TEST_TOKEN);
  ``secret=None`` makes an unsigned robot.

The fixed tokens and secret are in ``dingtalk_emulator.testing``: TEST_TOKEN,
TEST_TOKENS, TEST_SECRET, EMULATOR_START.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

# Import our package before pytest-homeassistant-custom-component mounts its own
# testing_config/custom_components, or Home Assistant reports "Integration not found".
from custom_components.dingtalk.const import DOMAIN
from dingtalk_emulator import Emulator, ManualClock
from dingtalk_emulator.testing import EMULATOR_START, make_test_robot

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from dingtalk_emulator import EmulatorServer, RobotConfig

__all__ = ["DOMAIN"]


@pytest.fixture
def manual_clock() -> ManualClock:
    """Return a manual clock at EMULATOR_START; move it with .advance(seconds)."""
    return ManualClock(EMULATOR_START)


@pytest.fixture
def emulator(manual_clock: ManualClock) -> Emulator:
    """Return an emulator on the manual clock, with no robots."""
    return Emulator(clock=manual_clock)


@pytest.fixture
async def emulator_server(
    emulator: Emulator,
    socket_enabled: None,  # noqa: ARG001 - enables sockets (127.0.0.1 only)
) -> AsyncIterator[EmulatorServer]:
    """Serve the emulator on 127.0.0.1 and a free port for the test's duration."""
    async with emulator.serve(host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
def make_robot(emulator: Emulator) -> Callable[..., RobotConfig]:
    """Return a factory that adds robots with fixed test tokens to the emulator."""

    def factory(**settings: Any) -> RobotConfig:  # noqa: ANN401 - forwards kwargs
        """Add a robot; settings are make_test_robot's keyword arguments."""
        return make_test_robot(emulator, **settings)

    return factory
