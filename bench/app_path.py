"""The app path of benchmark 6: a person of a DingTalk app, through Home Assistant.

Two actions on the bench person's notify entity (``dingtalk.send_message`` and
``notify.send_message``) against a bare aiohttp POST of the same batchSend request:
the same JSON body as the integration's (the emulator's record of its first
message, only the text differs), with an access token the poster requested once
before timing began, as a careful script caches it. They take turns with the
robot paths of ``bench.overhead``, message by message.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from custom_components.dingtalk.api.app_client import TOKEN_HEADER

from .robots import JSON_HEADERS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .app_robots import BenchApp
    from .app_tokens import AppTokenResult
    from .harness import AppTargets, BenchHass
    from .remote import RemoteEmulator
    from .stats import Summary

APP_BARE: Final = "bare aiohttp POST to batchSend (token cached)"
APP_ENTITY: Final = "notify.send_message (app person entity)"
APP_SERVICE: Final = "dingtalk.send_message to an app person (with response)"
APP_PATHS: Final = (APP_BARE, APP_ENTITY, APP_SERVICE)

TOKEN_PATH: Final = "/v1.0/oauth2/accessToken"  # noqa: S105 - a path
BATCH_SEND_PATH: Final = "/v1.0/robot/oToMessages/batchSend"
TEXT_KEY: Final = "sampleText"


@dataclass(frozen=True, slots=True)
class AppResult:
    """An app person's latency (ms) by path, and the token runs."""

    latency_ms: dict[str, Summary]
    latency_messages: int
    body_bytes: int
    """The batchSend body of one message (both paths send the same)."""
    tokens: AppTokenResult


def compact(value: Any) -> str:  # noqa: ANN401 - any JSON value
    """Return JSON as the integration writes it (UTF-8, no spaces)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class AppPoster:
    """POST batchSend bodies with a plain aiohttp session and one cached token."""

    def __init__(self, server: RemoteEmulator, app: BenchApp) -> None:
        """Post to ``server`` as ``app``."""
        self._base_url = server.base_url
        self._app = app
        self._session = aiohttp.ClientSession()
        self._headers: dict[str, str] = dict(JSON_HEADERS)

    async def request_token(self) -> None:
        """Request an access token once; every later POST carries it."""
        credentials = {
            "appKey": self._app.client_id,
            "appSecret": self._app.client_secret,
        }
        async with self._session.post(
            f"{self._base_url}{TOKEN_PATH}",
            data=compact(credentials).encode(),
            headers=JSON_HEADERS,
        ) as answer:
            answer.raise_for_status()
            token = (await answer.json())["accessToken"]
        self._headers[TOKEN_HEADER] = str(token)

    async def post(self, body: bytes) -> tuple[int, bytes]:
        """POST one batchSend body; return the HTTP status and the answer."""
        async with self._session.post(
            f"{self._base_url}{BATCH_SEND_PATH}", data=body, headers=self._headers
        ) as answer:
            return answer.status, await answer.read()

    async def close(self) -> None:
        """Close the session."""
        await self._session.close()


class AppPaths:
    """Send one message to the bench person by each app path; each waits."""

    def __init__(
        self, bench: BenchHass, poster: AppPoster, targets: AppTargets
    ) -> None:
        """Send through ``bench`` to ``targets.person``, or with ``poster``."""
        self._bench = bench
        self._poster = poster
        self._person = targets.person
        self._template: dict[str, Any] = {}

    async def start(self, emulator: RemoteEmulator, app: BenchApp) -> None:
        """Send one message through the integration and copy its request body."""
        await self.service("template")
        template = await emulator.last_app_body(app.client_id, "batchSend")
        if template.get("msgKey") != TEXT_KEY:
            raise RuntimeError(f"the integration sent {template.get('msgKey')}")
        self._template = template
        if json.loads(self.body("template")) != template:
            raise RuntimeError("the bare body differs from the integration's")
        await self._poster.request_token()

    def body(self, text: str) -> bytes:
        """Return the integration's batchSend body for ``text``."""
        param = json.loads(self._template["msgParam"])
        param["content"] = text
        return compact({**self._template, "msgParam": compact(param)}).encode()

    async def bare(self, text: str) -> None:
        """POST the body; check the answer as a careful script does."""
        status, raw = await self._poster.post(self.body(text))
        answer = json.loads(raw) if status == 200 else {}  # noqa: PLR2004 - HTTP OK
        skipped = (
            answer.get("invalidStaffIdList"),
            answer.get("flowControlledStaffIdList"),
        )
        if not answer.get("processQueryKey") or skipped != ([], []):
            raise RuntimeError(f"bare batchSend failed: HTTP {status} {raw[:80]!r}")

    async def entity(self, text: str) -> None:
        """Call notify.send_message on the person's entity."""
        await self._bench.hass.services.async_call(
            "notify",
            "send_message",
            {"entity_id": self._person, "message": text},
            blocking=True,
        )

    async def service(self, text: str) -> None:
        """Call dingtalk.send_message on the person; check that it reports "sent"."""
        answer = await self._bench.send_to(self._person, text)
        if answer.get("status") != "sent":
            raise RuntimeError(f"dingtalk.send_message answered {answer}")

    def by_name(self) -> dict[str, Callable[[str], Awaitable[None]]]:
        """Return the send function of each app path."""
        return {APP_BARE: self.bare, APP_ENTITY: self.entity, APP_SERVICE: self.service}
