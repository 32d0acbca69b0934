"""Fixtures for the emulator's own tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import pytest

from dingtalk_emulator import AppSettings, Emulator
from dingtalk_emulator.testing import make_test_app

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from dingtalk_emulator import EmulatorServer, ManualClock


@pytest.fixture
async def http(
    socket_enabled: None,  # noqa: ARG001 - enables sockets (127.0.0.1 only)
) -> AsyncIterator[aiohttp.ClientSession]:
    """Return an HTTP client session, closed after the test."""
    async with aiohttp.ClientSession() as session:
        yield session


#: App settings of the app-side tests: short real-time timeouts, no pings, a seed.
FAST_APP_SETTINGS = AppSettings(
    ack_timeout=0.2, ping_interval=None, disconnect_grace=0.05, seed=7
)


@pytest.fixture
def app_settings() -> AppSettings:
    """Return the app settings of ``app_emulator`` (override it in a module)."""
    return FAST_APP_SETTINGS


@pytest.fixture
def app_emulator(manual_clock: ManualClock, app_settings: AppSettings) -> Emulator:
    """Return an emulator with the test app, the test people and the test group."""
    emulator = Emulator(clock=manual_clock, app_settings=app_settings)
    make_test_app(emulator, name="Butler")
    return emulator


@pytest.fixture
async def app_server(
    app_emulator: Emulator,
    socket_enabled: None,  # noqa: ARG001 - enables sockets (127.0.0.1 only)
) -> AsyncIterator[EmulatorServer]:
    """Serve ``app_emulator`` on 127.0.0.1 and a free port."""
    async with app_emulator.serve() as server:
        yield server
