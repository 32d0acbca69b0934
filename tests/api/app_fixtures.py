"""Fixtures of the app robot tests: app_fake, http_session, refused_port (a plugin)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import aiohttp
import pytest

from .app_fakes import FakeDingTalk, serve_fake

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture
async def app_fake(
    socket_enabled: None,  # noqa: ARG001 - requested for its effect: real sockets
) -> AsyncIterator[FakeDingTalk]:
    """Serve a scripted DingTalk on 127.0.0.1."""
    async with serve_fake() as dingtalk:
        yield dingtalk


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    """Return a client session for the test."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def refused_port(
    socket_enabled: None,  # noqa: ARG001 - requested for its effect: real sockets
) -> int:
    """Return a 127.0.0.1 port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
