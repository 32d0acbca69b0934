"""Test helpers: signatures computed here, independently of the emulator's code."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

from dingtalk_emulator.testing import TEST_SECRET

if TYPE_CHECKING:
    import aiohttp
    import pytest

    from dingtalk_emulator import Emulator, EmulatorServer, SendResult

#: Proxy variables `requests`-based clients (the SDKs, DingtalkChatbot) would honour.
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make sure `requests` talks to 127.0.0.1 directly."""
    for variable in PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


async def sse_frame(response: aiohttp.ClientResponse) -> tuple[str, dict[str, object]]:
    """Read one SSE frame (skipping comments); return its event name and data."""
    name, data = "", ""
    while True:
        line = (await asyncio.wait_for(response.content.readline(), 5)).decode()
        if line in {"\n", ""} and name:
            return name, json.loads(data)
        if line.startswith("event: "):
            name = line.removeprefix("event: ").strip()
        elif line.startswith("data: "):
            data = line.removeprefix("data: ").strip()


def raw_sign(secret: str, timestamp_ms: int | str) -> str:
    """Return base64(HMAC-SHA256(secret, timestamp + LF + secret)), not URL-encoded."""
    string_to_sign = f"{timestamp_ms}\n{secret}"
    digest = hmac.new(
        secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def sign(secret: str, timestamp_ms: int | str) -> str:
    """Return the signature URL-encoded exactly once, as DingTalk's samples do."""
    return quote_plus(raw_sign(secret, timestamp_ms))


def signed_query(token: str, secret: str | None = TEST_SECRET, *, now: float) -> str:
    """Return the query string of a webhook URL signed at ``now`` (seconds)."""
    if secret is None:
        return f"access_token={token}"
    timestamp = round(now * 1000)
    return f"access_token={token}&timestamp={timestamp}&sign={sign(secret, timestamp)}"


def text(content: str = "hello", **extra: object) -> dict[str, object]:
    """Return a text message payload."""
    return {"msgtype": "text", "text": {"content": content}, **extra}


def send(  # noqa: PLR0913 - every part of a request can be varied
    emulator: Emulator,
    token: str,
    payload: object | None = None,
    *,
    secret: str | None = TEST_SECRET,
    query: str | None = None,
    body: bytes | None = None,
    content_type: str | None = "application/json",
    remote: str | None = "127.0.0.1",
) -> SendResult:
    """Send through the emulator's Python API, signed at the emulator's current time."""
    if query is None:
        query = signed_query(token, secret, now=emulator.clock.now())
    if body is None:
        body = json.dumps(text() if payload is None else payload).encode()
    return emulator.handle_send(
        query, content_type=content_type, body=body, remote=remote
    )


def signed_url(
    server: EmulatorServer,
    token: str,
    secret: str | None = TEST_SECRET,
    *,
    now: float,
) -> str:
    """Return the robot's webhook URL, signed at ``now`` when it has a secret."""
    return server.url(f"/robot/send?{signed_query(token, secret, now=now)}")
