"""Fixtures for the emulator's own tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import pytest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture
async def http(
    socket_enabled: None,  # noqa: ARG001 - enables sockets (127.0.0.1 only)
) -> AsyncIterator[aiohttp.ClientSession]:
    """Return an HTTP client session, closed after the test."""
    async with aiohttp.ClientSession() as session:
        yield session
