"""A bare aiohttp Stream mode client: the floor of the receive benchmark.

What a careful script does with nothing but aiohttp (dingtalk-api.md §7): open a
connection (``connections/open``, then the WebSocket with the ticket), ACK every
frame, and on a SYSTEM disconnect frame open a new connection at once, reading the
old one until the new one is up. Each robot message's text is handed to
``on_message`` with the ``time.perf_counter()`` at which its frame arrived.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote_plus

import aiohttp

from .robots import JSON_HEADERS

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from .app_robots import BenchApp

OPEN_PATH: Final = "/v1.0/gateway/connections/open"
BOT_TOPIC: Final = "/v1.0/im/bot/messages/get"
CALLBACK_ACK_DATA: Final = '{"response": null}'


def ack(message_id: str, data: str) -> str:
    """Return the ACK of a frame (§7.3): code 200, its messageId, ``data``."""
    headers = {"contentType": "application/json", "messageId": message_id}
    return json.dumps({"code": 200, "headers": headers, "message": "OK", "data": data})


class BareStream:
    """Receive one app's robot messages over Stream mode with plain aiohttp."""

    def __init__(
        self,
        base_url: str,
        app: BenchApp,
        on_message: Callable[[str, float], None],
    ) -> None:
        """Receive ``app``'s messages from the emulator at ``base_url``."""
        self._base_url = base_url
        self._app = app
        self._on_message = on_message
        self._session = aiohttp.ClientSession()
        self._sockets: set[aiohttp.ClientWebSocketResponse] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connect_seconds: list[float] = []
        """How long each connection took to open (connections/open + handshake)."""

    async def start(self) -> None:
        """Open the first connection."""
        self._read(await self._open())

    async def _open(self) -> aiohttp.ClientWebSocketResponse:
        """Get a ticket and open a WebSocket with it."""
        started = time.perf_counter()
        body: dict[str, Any] = {
            "clientId": self._app.client_id,
            "clientSecret": self._app.client_secret,
            "subscriptions": [{"type": "CALLBACK", "topic": BOT_TOPIC}],
            "ua": "bench-bare-aiohttp",
        }
        async with self._session.post(
            f"{self._base_url}{OPEN_PATH}",
            data=json.dumps(body).encode(),
            headers={**JSON_HEADERS, "Accept": "application/json"},
        ) as answer:
            answer.raise_for_status()
            info = await answer.json()
        url = f"{info['endpoint']}?ticket={quote_plus(info['ticket'])}"
        socket = await self._session.ws_connect(url)
        self._sockets.add(socket)
        self.connect_seconds.append(time.perf_counter() - started)
        return socket

    def _read(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        """Start reading ``socket`` in a task of its own."""
        self._spawn(self._receive(socket))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` as a task kept until it ends."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _receive(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        """ACK and hand on every frame of ``socket`` until it closes."""
        try:
            async for message in socket:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue
                arrived = time.perf_counter()
                frame = json.loads(message.data)
                headers = frame["headers"]
                if frame["type"] == "CALLBACK" and headers["topic"] == BOT_TOPIC:
                    data = json.loads(frame["data"])
                    self._on_message(str(data["text"]["content"]).strip(), arrived)
                    await socket.send_str(ack(headers["messageId"], CALLBACK_ACK_DATA))
                elif frame["type"] == "SYSTEM":
                    await socket.send_str(ack(headers["messageId"], frame["data"]))
                    if headers["topic"] == "disconnect":
                        self._spawn(self._hand_over(socket))
        finally:
            self._sockets.discard(socket)

    async def _hand_over(self, old: aiohttp.ClientWebSocketResponse) -> None:
        """Open a new connection at once, then close the old one."""
        self._read(await self._open())
        await old.close()

    async def close(self) -> None:
        """Close every socket, wait for the readers, close the session."""
        for socket in list(self._sockets):
            await socket.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._session.close()
