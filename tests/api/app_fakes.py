"""A scripted DingTalk for the app robot tests: v1.0 and oapi routes on 127.0.0.1.

Its fixtures are in app_fixtures.py (a plugin: ``pytest_plugins``).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
import io
import json
import struct
from typing import TYPE_CHECKING, Any, Final

from aiohttp import BodyPartReader, web
from aiohttp.test_utils import TestServer
from PIL import Image as PILImage

from custom_components.dingtalk.api.app_auth import AppCredentials

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

CLIENT_ID: Final = "dingappkey0123456789"
CLIENT_SECRET: Final = "Zx9-app-secret-" + "f00d" * 12
SESSION_SECRET: Final = "5e55104" + "c0ffee" * 8
CREDENTIALS: Final = AppCredentials(CLIENT_ID, CLIENT_SECRET)

TOKEN_PATH: Final = "/v1.0/oauth2/accessToken"
BATCH_PATH: Final = "/v1.0/robot/oToMessages/batchSend"
GROUP_PATH: Final = "/v1.0/robot/groupMessages/send"
UPLOAD_PATH: Final = "/media/upload"
MOBILE_PATH: Final = "/topapi/v2/user/getbymobile"
SESSION_PATH: Final = "/robot/sendBySession"


def image_bytes(pil_format: str) -> bytes:
    """Return a real 2x2 picture encoded by Pillow in ``pil_format``."""
    buffer = io.BytesIO()
    PILImage.new("RGB", (2, 2), (200, 30, 30)).save(buffer, format=pil_format)
    return buffer.getvalue()


PNG = image_bytes("PNG")
JPEG = image_bytes("JPEG")
GIF = image_bytes("GIF")
BMP = image_bytes("BMP")
MP3_FRAME = b"\xff\xfb\x90\x64" + bytes(60)  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz
MP3_ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + MP3_FRAME
AMR = b"#!AMR\n" + bytes(32)
AMR_WB = b"#!AMR-WB\n" + bytes(32)
WAV = b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + bytes(24)
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(16)
TEXT = b"hello, this is plain text\n"


def token_value(number: int) -> str:
    """Return the access token the fake issues for its ``number``-th token request."""
    return f"at{number}-" + "5ca1ab1e" * 6


@dataclass(frozen=True, slots=True)
class Answer:
    """Hold one scripted answer: a status and a body (JSON, or raw bytes)."""

    status: int = 200
    body: Any = None
    drop: bool = False
    slow: bool = False


@dataclass(frozen=True, slots=True)
class FormPart:
    """Hold one part of a multipart request."""

    value: bytes
    filename: str | None
    content_type: str | None


@dataclass(frozen=True, slots=True)
class Received:
    """Hold one request as the fake received it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    form: dict[str, FormPart]

    def json(self) -> dict[str, Any]:
        """Return the JSON object body."""
        data = json.loads(self.body)
        assert isinstance(data, dict)
        return data


def _default(path: str, number: int) -> dict[str, Any]:
    """Return the default successful answer body for ``path``."""
    match path:
        case "/v1.0/oauth2/accessToken":
            return {"accessToken": token_value(number), "expireIn": 7200}
        case "/v1.0/robot/oToMessages/batchSend":
            return {
                "processQueryKey": "pqk-1",
                "invalidStaffIdList": [],
                "flowControlledStaffIdList": [],
            }
        case "/v1.0/robot/groupMessages/send":
            return {"processQueryKey": "pqk-group"}
        case "/media/upload":
            return {"errcode": 0, "errmsg": "ok", "media_id": "@lAmedia1", "type": "x"}
        case "/topapi/v2/user/getbymobile":
            return {"errcode": 0, "errmsg": "ok", "result": {"userid": "user-7"}}
    return {"errcode": 0, "errmsg": "ok"}


@dataclass(slots=True)
class FakeDingTalk:
    """Answer every app robot route as scripted (else successfully), and record."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _scripts: defaultdict[str, deque[Answer]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    _counts: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def base(self) -> str:
        """Return the base URL (for api_base and oapi_base)."""
        return f"http://127.0.0.1:{self.port}"

    def session_webhook(self, secret: str = SESSION_SECRET) -> str:
        """Return a sessionWebhook URL on this fake."""
        return f"{self.base}{SESSION_PATH}?session={secret}"

    def script(self, path: str, *answers: Answer) -> None:
        """Queue answers for ``path``; once used up, it answers successfully."""
        self._scripts[path].extend(answers)

    def to(self, path: str) -> list[Received]:
        """Return the requests received on ``path``."""
        return [request for request in self.received if request.path == path]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Record the request and answer as scripted."""
        form: dict[str, FormPart] = {}
        body = b""
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                assert isinstance(part, BodyPartReader)
                form[str(part.name)] = FormPart(
                    await part.read(),
                    part.filename,
                    part.headers.get("Content-Type"),
                )
        else:
            body = await request.read()
        self.received.append(
            Received(
                request.path, dict(request.query), dict(request.headers), body, form
            )
        )
        self.arrived.set()
        self._counts[request.path] += 1
        queue = self._scripts[request.path]
        answer = queue.popleft() if queue else Answer()
        if answer.slow:
            await self.release.wait()
        if answer.drop:
            assert request.transport is not None
            request.transport.close()
            raise ConnectionResetError
        content = answer.body
        if content is None:
            content = _default(request.path, self._counts[request.path])
        raw = content if isinstance(content, bytes) else json.dumps(content).encode()
        return web.Response(
            status=answer.status, body=raw, content_type="application/json"
        )


@asynccontextmanager
async def serve_fake() -> AsyncIterator[FakeDingTalk]:
    """Serve a FakeDingTalk on a free 127.0.0.1 port (sockets must be enabled)."""
    dingtalk = FakeDingTalk()
    app = web.Application()
    app.router.add_post("/{path:.*}", dingtalk.handle)
    # No access log: it would print the query (token, session) caplog is checked for.
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(access_log=None)
    assert server.port is not None
    dingtalk.port = server.port
    try:
        yield dingtalk
    finally:
        dingtalk.release.set()
        await server.close()
