"""Fixtures for the robot client tests: a scripted robot endpoint on 127.0.0.1."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web
import pytest

from custom_components.dingtalk.api import Webhook

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

TOKEN = "a1b2c3d4" * 8
SECRET = "SEC" + "0123456789abcdef" * 4


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """Hold one request as the robot endpoint received it."""

    method: str
    path: str
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class FakeRobot:
    """Answer POST /robot/send with whatever the test scripted, and record requests."""

    status: int = 200
    body: bytes = b'{"errcode":0,"errmsg":"ok"}'
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    slow: bool = False
    requests: list[RecordedRequest] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    @property
    def url(self) -> str:
        """Return the endpoint URL (no query)."""
        return f"http://127.0.0.1:{self.port}/robot/send"

    def webhook(self, token: str = TOKEN) -> Webhook:
        """Return a webhook for this endpoint."""
        return Webhook.parse(f"{self.url}?access_token={token}")

    def answer(self, body: bytes | str, *, status: int = 200) -> None:
        """Script the next answers."""
        self.body = body.encode() if isinstance(body, str) else body
        self.status = status

    async def handle(self, request: web.Request) -> web.Response:
        """Record the request and answer as scripted."""
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                raw_path=request.raw_path,
                query=dict(request.query),
                headers=dict(request.headers),
                body=await request.read(),
            )
        )
        if self.slow:
            await self.release.wait()
        return web.Response(
            status=self.status,
            body=self.body,
            content_type=self.content_type,
            headers=self.headers,
        )


@pytest.fixture
async def robot(
    socket_enabled: None,  # noqa: ARG001 - requested for its effect: real sockets
) -> AsyncIterator[FakeRobot]:
    """Serve a FakeRobot on a free 127.0.0.1 port for the test."""
    fake = FakeRobot()
    app = web.Application()
    app.router.add_post("/robot/send", fake.handle)
    # No access log: it would print the signed URL the test then looks for in caplog.
    runner = web.AppRunner(app, shutdown_timeout=1, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.port = runner.addresses[0][1]
    try:
        yield fake
    finally:
        fake.release.set()
        await runner.cleanup()
