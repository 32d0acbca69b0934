"""Carry an app robot's requests: session, token, and one retry with a new token."""

from __future__ import annotations

from dataclasses import dataclass
import logging
from typing import TYPE_CHECKING, Any, Final, Protocol, Self

import aiohttp

from .app_auth import DEFAULT_API_BASE, AccessTokenProvider
from .app_config import parse_base_url
from .errors import AccessTokenInvalidError
from .transport import async_request

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from yarl import URL

    from .app_auth import AppCredentials

# An authorized call is one request, plus exactly one retry with a fresh token when
# DingTalk says the token is invalid (AccessTokenInvalidError: v1.0
# InvalidAuthentication, oapi 40014/42001 …); a second refusal is raised, and that
# token is dropped too. Such a refusal means the request was not executed, so the
# retry cannot duplicate a message. Nothing else is retried.

_LOGGER: Final = logging.getLogger(__name__)


class AnswerDecoder(Protocol):
    """Decode an answer into its JSON object, or raise."""

    def __call__(
        self, status: int, raw: bytes, *, secrets: tuple[str, ...], where: str
    ) -> dict[str, Any]:
        """Return the JSON object of a successful answer."""


@dataclass(frozen=True, slots=True)
class AppCall:
    """Hold one request: where, what, the secrets to scrub, how to decode."""

    url: URL
    data: bytes | aiohttp.FormData
    headers: Mapping[str, str]
    secrets: tuple[str, ...]
    where: str
    decode: AnswerDecoder


@dataclass(frozen=True, slots=True)
class AppClientStats:
    """Count a client's work, for diagnostics and benchmarks."""

    requests: int
    token_requests: int
    auth_retries: int


class AppSession:
    """Own (or borrow) the HTTP session and the token provider of an app client."""

    def __init__(
        self,
        credentials: AppCredentials,
        *,
        session: aiohttp.ClientSession | None,
        api_base: str = DEFAULT_API_BASE,
        token_provider: AccessTokenProvider | None,
        request_timeout: float,
    ) -> None:
        """Set up; a session is created (and owned) only if none is given."""
        if request_timeout <= 0:
            raise ValueError("request_timeout must be positive")
        self._credentials = credentials
        self._api_base = parse_base_url(api_base, field="api_base")
        self._session = session
        self._close_session = False
        self._provider = token_provider
        self._own_provider = token_provider is None
        self._request_timeout = request_timeout
        self._requests = 0
        self._auth_retries = 0

    @property
    def stats(self) -> AppClientStats:
        """Return the requests sent, token requests and retries after a bad token."""
        tokens = 0 if self._provider is None else self._provider.token_requests
        return AppClientStats(self._requests, tokens, self._auth_retries)

    async def close(self) -> None:
        """Close the session if this client created it; leave an injected one open."""
        if self._session is not None and self._close_session:
            await self._session.close()
            self._session = None
            self._close_session = False
            if self._own_provider:
                self._provider = None  # it holds the closed session

    async def __aenter__(self) -> Self:
        """Return the client."""
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        """Close the session if this client created it."""
        await self.close()

    def _get_session(self) -> aiohttp.ClientSession:
        """Return the session, creating (and owning) one on first use."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._close_session = True
        return self._session

    def _get_provider(self) -> AccessTokenProvider:
        """Return the token provider, creating one on first use."""
        if self._provider is None:
            self._provider = AccessTokenProvider(
                self._credentials,
                session=self._get_session(),
                api_base=self._api_base,
                request_timeout=self._request_timeout,
            )
        return self._provider

    async def _async_authorized(
        self, build: Callable[[str], AppCall]
    ) -> dict[str, Any]:
        """Send with a token; on a refused token, retry once with a fresh one."""
        provider = self._get_provider()
        token = await provider.async_get_token()
        try:
            return await self._async_once(build(token))
        except AccessTokenInvalidError:
            provider.invalidate(token)
            self._auth_retries += 1
            _LOGGER.debug("DingTalk refused the access token: retrying with a new one")
        token = await provider.async_get_token()
        try:
            return await self._async_once(build(token))
        except AccessTokenInvalidError:
            provider.invalidate(token)
            raise

    async def _async_once(self, call: AppCall) -> dict[str, Any]:
        """Send one request and decode its answer."""
        self._requests += 1
        status, raw = await async_request(
            self._get_session(),
            "POST",
            call.url,
            data=call.data,
            headers=call.headers,
            request_timeout=self._request_timeout,
            secrets=call.secrets,
            where=call.where,
        )
        return call.decode(status, raw, secrets=call.secrets, where=call.where)
