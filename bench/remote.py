"""Drive ``bench.emulator_child`` from the benchmark process."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager, suppress
import json
import os
from pathlib import Path
import sys
import time
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import quote

import aiohttp

from .robots import LOOPBACK

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
START_TIMEOUT: Final = 60.0
STOP_TIMEOUT: Final = 10.0
POLL_SECONDS: Final = 0.005


class RemoteEmulator:
    """An emulator in a child process: its URLs and its JSON API."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        """Talk to the emulator at ``base_url``."""
        if not base_url.startswith(f"http://{LOOPBACK}:"):
            raise ValueError(f"the emulator must listen on {LOOPBACK}: {base_url}")
        self._base_url = base_url
        self._session = session

    @property
    def base_url(self) -> str:
        """Return http://127.0.0.1:PORT."""
        return self._base_url

    def webhook_url(self, token: str) -> str:
        """Return the robot's webhook URL, as DingTalk shows it (unsigned)."""
        return f"{self._base_url}/robot/send?access_token={quote(token, safe='')}"

    async def _get(self, path: str) -> dict[str, Any]:
        """GET a JSON object from the emulator's API."""
        async with self._session.get(f"{self._base_url}{path}") as answer:
            answer.raise_for_status()
            return cast("dict[str, Any]", await answer.json())

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON object to the emulator's API; return its JSON answer."""
        async with self._session.post(f"{self._base_url}{path}", json=body) as answer:
            answer.raise_for_status()
            return cast("dict[str, Any]", await answer.json())

    async def delivered(self) -> int:
        """Return how many messages all robots have delivered."""
        robots = (await self._get("/api/robots"))["robots"]
        return sum(int(robot["delivered"]) for robot in robots)

    async def last_body(self) -> bytes:
        """Return the body of the last request the emulator received."""
        [record] = (await self._get("/api/requests?limit=1"))["requests"]
        return str(record["body"]).encode()

    async def app(self, client_id: str) -> dict[str, Any]:
        """Return an app's state (``token_requests``, ``delivered``, …)."""
        answer = await self._get(f"/api/apps/{quote(client_id, safe='')}")
        return cast("dict[str, Any]", answer["app"])

    async def app_messages(self, client_id: str) -> list[dict[str, Any]]:
        """Return every message the app's robot delivered, oldest first."""
        answer = await self._get(f"/api/apps/{quote(client_id, safe='')}/messages")
        return cast("list[dict[str, Any]]", answer["messages"])

    async def last_app_body(self, client_id: str, api: str) -> dict[str, Any]:
        """Return the JSON body of the app's last ``api`` call (e.g. batchSend)."""
        query = f"client_id={quote(client_id, safe='')}&api={quote(api)}&limit=1"
        [record] = (await self._get(f"/api/app-requests?{query}"))["requests"]
        return cast("dict[str, Any]", json.loads(record["body"]))

    async def expire_tokens(self, client_id: str) -> None:
        """Make every access token of the app invalid at once."""
        url = f"{self._base_url}/api/apps/{quote(client_id, safe='')}/tokens"
        async with self._session.delete(url) as answer:
            answer.raise_for_status()

    async def short_token(self, client_id: str, seconds: int) -> None:
        """Make the app's next access token live ``seconds`` (its expireIn), once."""
        await self._post(
            f"/api/apps/{quote(client_id, safe='')}/tokens", {"expire_in": seconds}
        )

    async def write(self, client_id: str, user_id: str, text: str) -> None:
        """Write ``text`` as ``user_id`` to the app's robot (1:1; pushed at once)."""
        await self._post(
            f"/api/apps/{quote(client_id, safe='')}/chat",
            {"user_id": user_id, "text": text},
        )

    async def disconnect(self, client_id: str) -> None:
        """Send a SYSTEM disconnect frame to every Stream connection of the app."""
        await self._post(
            f"/api/apps/{quote(client_id, safe='')}/stream/faults",
            {"kind": "disconnect"},
        )

    async def stream_stats(self, client_id: str) -> dict[str, int]:
        """Return the app's Stream counters (``connections_open``, ``acks``, …)."""
        answer = await self._get(f"/api/apps/{quote(client_id, safe='')}/stream")
        return cast("dict[str, int]", answer["stats"])

    async def wait_delivered(self, target: int, timeout: float) -> None:  # noqa: ASYNC109 - a plain bound
        """Return once ``target`` messages were delivered in total."""
        deadline = time.monotonic() + timeout
        while await self.delivered() < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {target} messages delivered")
            await asyncio.sleep(POLL_SECONDS)


def child_env() -> dict[str, str]:
    """Return this process's environment, with the repository on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])
    )
    return env


@asynccontextmanager
async def remote_emulator(robots: int) -> AsyncIterator[RemoteEmulator]:
    """Start ``python -m bench.emulator_child`` and stop it afterwards."""
    env = child_env()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.emulator_child",
        "--robots",
        str(robots),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO_ROOT,
        env=env,
    )
    try:
        if process.stdout is None:
            raise RuntimeError("no pipe to the emulator")
        line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
        if not line:
            raise RuntimeError("the emulator child exited before it listened")
        async with aiohttp.ClientSession() as session:
            yield RemoteEmulator(line.decode().strip(), session)
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with suppress(ProcessLookupError):
                process.kill()
            await process.wait()
