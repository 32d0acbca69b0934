"""Obtain and cache an app robot's access token (dingtalk-api.md §6.1)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
import logging
import time
from typing import TYPE_CHECKING, Any, Final

from yarl import URL

from .app_config import check_identifier, parse_base_url
from .app_errors import decode_v1_answer
from .errors import (
    FIRST_SERVER_ERROR_STATUS,
    AppCredentialsError,
    BusyError,
    DingTalkApiError,
    DingTalkBadResponseError,
    IPNotAllowedError,
    RateLimitedError,
)
from .models import serialize_payload
from .transport import JSON_HEADERS, async_request

if TYPE_CHECKING:
    from collections.abc import Callable

    import aiohttp

# One refresh at a time: concurrent callers await the same task, shielded, so a
# cancelled caller never cancels it for the others (nor for the cache). A refused
# token is dropped with invalidate(token), which ignores a token already replaced.
# Neither the secret nor a token is ever logged, raised or shown in a repr.

_LOGGER: Final = logging.getLogger(__name__)

DEFAULT_API_BASE: Final = "https://api.dingtalk.com"
"""Where the v1.0 OpenAPI lives (mainland China)."""

TOKEN_PATH: Final = "/v1.0/oauth2/accessToken"  # noqa: S105 - a path
"""The v1.0 endpoint that trades Client ID and Secret for an access token."""

_FIRST_CLIENT_ERROR: Final = 400


@dataclass(frozen=True, slots=True)
class AppCredentials:
    """Hold an app's Client ID (AppKey) and Client Secret (AppSecret; never shown)."""

    client_id: str
    client_secret: str = field(repr=False)

    def __post_init__(self) -> None:
        """Strip both and refuse blanks or inner whitespace (InvalidAppConfigError)."""
        client_id = check_identifier(self.client_id, field="client_id")
        secret = check_identifier(self.client_secret, field="client_secret")
        object.__setattr__(self, "client_id", client_id)
        object.__setattr__(self, "client_secret", secret)


def _credentials_error(error: DingTalkApiError) -> DingTalkApiError:
    """Return what a token endpoint error means: a 4xx refusal is the credentials."""
    status = error.status or 0
    if isinstance(error, (RateLimitedError, BusyError, IPNotAllowedError)) or not (
        _FIRST_CLIENT_ERROR <= status < FIRST_SERVER_ERROR_STATUS
    ):
        return error
    return AppCredentialsError(
        error.errcode, error.errmsg, status=error.status, request_id=error.request_id
    )


def _positive_int(value: object) -> int | None:
    """Return a positive int given as a number or a digit string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return value if isinstance(value, int) and value > 0 else None


class AccessTokenProvider:
    """Get an app's access token, cached until ``refresh_margin`` before it expires."""

    def __init__(  # noqa: PLR0913 - the credentials and keyword-only settings
        self,
        credentials: AppCredentials,
        *,
        session: aiohttp.ClientSession,
        api_base: str = DEFAULT_API_BASE,
        request_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        refresh_margin: float = 300.0,
    ) -> None:
        """Set up the provider; it never closes ``session``."""
        if request_timeout <= 0:
            raise ValueError("request_timeout must be positive")
        if refresh_margin < 0:
            raise ValueError("refresh_margin must not be negative")
        self._credentials = credentials
        self._session = session
        self._url = URL(parse_base_url(api_base, field="api_base") + TOKEN_PATH)
        self._request_timeout = request_timeout
        self._clock = clock
        self._refresh_margin = refresh_margin
        self._token: str | None = None
        self._refresh_at = 0.0
        self._refresh: asyncio.Task[str] | None = None
        self._token_requests = 0

    @property
    def token_requests(self) -> int:
        """Return how many requests were sent to the token endpoint."""
        return self._token_requests

    def __repr__(self) -> str:
        """Show the Client ID and whether a token is cached, never the token."""
        return (
            f"AccessTokenProvider(client_id={self._credentials.client_id!r}, "
            f"cached={self._token is not None})"
        )

    async def async_get_token(self) -> str:
        """Return a valid access token, fetching one if none is cached or it is due.

        Raises:
            AppCredentialsError: DingTalk refused the Client ID or Secret.
            RateLimitedError: the token endpoint throttled the app.
            BusyError: DingTalk reported a server error.
            DingTalkTransportError: no usable answer arrived.

        """
        if self._token is not None and self._clock() < self._refresh_at:
            return self._token
        task = self._refresh
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(
                self._async_fetch(), name="dingtalk-access-token"
            )
            task.add_done_callback(self._refresh_done)
            self._refresh = task
        return await asyncio.shield(task)

    def invalidate(self, token: str) -> bool:
        """Forget ``token`` if it is still the cached one; return whether it was."""
        if token and token == self._token:
            self._token = None
            return True
        return False

    def _refresh_done(self, task: asyncio.Task[str]) -> None:
        """Forget the finished refresh; mark its error retrieved if nobody awaited."""
        if self._refresh is task:
            self._refresh = None
        if not task.cancelled():
            task.exception()

    async def _async_fetch(self) -> str:
        """Request a token from DingTalk and cache it."""
        credentials = self._credentials
        body = serialize_payload(
            {"appKey": credentials.client_id, "appSecret": credentials.client_secret}
        )
        where = f"{self._url} (app {credentials.client_id})"
        secrets = (credentials.client_secret,)
        started = self._clock()
        self._token_requests += 1
        _LOGGER.debug("Requesting an access token from %s", where)
        status, raw = await async_request(
            self._session,
            "POST",
            self._url,
            data=body,
            headers=JSON_HEADERS,
            request_timeout=self._request_timeout,
            secrets=secrets,
            where=where,
        )
        try:
            data = decode_v1_answer(status, raw, secrets=secrets, where=where)
        except DingTalkApiError as err:
            raise _credentials_error(err) from None
        return self._store(data, started, where)

    def _store(self, data: dict[str, Any], started: float, where: str) -> str:
        """Cache the token of a token answer and return it."""
        token = data.get("accessToken")
        expire_in = _positive_int(data.get("expireIn"))
        if not isinstance(token, str) or not token.strip() or expire_in is None:
            _LOGGER.debug("%s answered without accessToken and expireIn", where)
            raise DingTalkBadResponseError(
                "DingTalk's token answer has no accessToken and positive expireIn"
            )
        # A lifetime shorter than twice the margin is refreshed at half its life.
        margin = min(self._refresh_margin, expire_in / 2)
        self._token = token
        self._refresh_at = started + expire_in - margin
        _LOGGER.debug("Got an access token valid for %d s from %s", expire_in, where)
        return token
