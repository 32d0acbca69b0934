"""Open one Stream-mode WebSocket: a fresh ticket from connections/open (§7.1)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
import json
import logging
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote_plus

import aiohttp
from yarl import URL

from .errors import (
    AppCredentialsError,
    BusyError,
    DingTalkApiError,
    DingTalkBadResponseError,
    DingTalkConnectionError,
    DingTalkTimeoutError,
    RateLimitedError,
    UnknownApiError,
    http_error,
)
from .hosts import is_local_host
from .stream_models import SUBSCRIPTIONS
from .transport import USER_AGENT, async_request, scrub

if TYPE_CHECKING:
    from .stream_support import EndReason, StreamTuning

# A ticket is valid 90 s and single-use (§11.1): every socket gets its own, and
# neither it nor the socket URL (which holds it) is logged or put into an exception.

_LOGGER: Final = logging.getLogger(__name__)

OPEN_PATH: Final = "v1.0/gateway/connections/open"
OPEN_HEADERS: Final = MappingProxyType(
    {
        "Content-Type": "application/json",
        "Accept": "application/json",  # else the answer may be XML (§11.1)
        "User-Agent": USER_AGENT,
    }
)
STREAM_UA: Final = "ha-dingtalk/v0.1.0-union"
"""The ``ua`` of connections/open (the official SDK added "-union" for intl. use)."""
HARD_FRAME_FACTOR: Final = 4
"""aiohttp drops the socket on a frame over this many times max_frame_bytes."""

CREDENTIAL_CODES: Final = frozenset(
    {
        "authfailed",  # HTTP 401 (I13)
        # HTTP 400/403 wordings of the v1.0 and OAuth APIs (§6.1, §6.5); UNCONFIRMED
        # for connections/open, where only 401 authFailed has been seen.
        "invalidauthentication",
        "invalid.client",
        "unauthorized.client",
        "invalidclientid",
        "invalidclientsecret",
    }
)
"""connections/open codes (case-folded) that mean the Client ID or Secret is refused."""

_UNAUTHORIZED: Final = 401
_CREDENTIAL_STATUSES: Final = frozenset({400, 403})
_TOO_MANY_REQUESTS: Final = 429
_SERVER_ERROR: Final = 500


@dataclass(eq=False, slots=True)
class Connection:
    """One open WebSocket, its reader task and why it should be replaced."""

    ws: aiohttp.ClientWebSocketResponse
    opened_at: float
    outcome: asyncio.Future[EndReason]
    reader: asyncio.Task[None] = field(init=False)
    closing: bool = False  # we are closing it: errors are ours, not the server's

    def end(self, reason: EndReason) -> None:
        """Report the first reason the connection should be replaced."""
        if not self.outcome.done():
            self.outcome.set_result(reason)


async def open_socket(  # noqa: PLR0913 - one connection's parts
    session: aiohttp.ClientSession,
    open_url: URL,
    client_id: str,
    secret: str,
    *,
    local_ip: str | None,
    tuning: StreamTuning,
) -> aiohttp.ClientWebSocketResponse:
    """Get a fresh ticket and open the WebSocket with it; raise a DingTalkError.

    Raise AppCredentialsError when DingTalk refuses the credentials, and another
    DingTalkError (all worth retrying after a pause) for any other failure.
    """
    secrets = (secret, quote_plus(secret))
    body: dict[str, Any] = {
        "clientId": client_id,
        "clientSecret": secret,
        "subscriptions": list(SUBSCRIPTIONS),
        "ua": STREAM_UA,
    }
    if local_ip:
        body["localIp"] = local_ip
    status, raw = await async_request(
        session,
        "POST",
        open_url,
        data=json.dumps(body).encode(),
        headers=OPEN_HEADERS,
        request_timeout=tuning.request_timeout,
        secrets=secrets,
        where="DingTalk Stream connections/open",
    )
    endpoint, ticket = decode_open_response(status, raw, secrets)
    url = socket_url(endpoint, ticket)
    where = str(url.with_query(None))
    try:
        async with asyncio.timeout(tuning.connect_timeout):
            ws = await session.ws_connect(
                url,
                autoping=False,  # the reader answers pings and watches pongs
                headers={"User-Agent": USER_AGENT},
                max_msg_size=HARD_FRAME_FACTOR * tuning.max_frame_bytes,
                timeout=aiohttp.ClientWSTimeout(
                    ws_receive=None, ws_close=tuning.close_timeout
                ),
            )
    except TimeoutError:
        raise DingTalkTimeoutError(f"no WebSocket handshake with {where}") from None
    except aiohttp.WSServerHandshakeError as err:  # its text holds the URL
        _LOGGER.debug("%s refused the handshake: HTTP %d", where, err.status)
        raise http_error(err.status) from None
    except (aiohttp.ClientError, OSError) as err:
        reason = scrub(f"{type(err).__name__}: {err}", (ticket, *secrets))
        raise DingTalkConnectionError(f"cannot open {where}: {reason}") from None
    _LOGGER.debug("Connected to DingTalk Stream at %s", where)
    return ws


def decode_open_response(
    status: int, raw: bytes, secrets: tuple[str, ...]
) -> tuple[str, str]:
    """Return (endpoint, ticket) from connections/open, or raise a DingTalkError.

    Raise AppCredentialsError for refused credentials (HTTP 401, or 400/403 with a
    credential code), RateLimitedError, BusyError (5xx), UnknownApiError,
    DingTalkHTTPError (no JSON error) or DingTalkBadResponseError.
    """
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = {}
    if 200 <= status < 300:  # noqa: PLR2004 - the 2xx range
        endpoint, ticket = data.get("endpoint"), data.get("ticket")
        if (
            isinstance(endpoint, str)
            and endpoint
            and isinstance(ticket, str)
            and ticket
        ):
            return endpoint, ticket
        raise DingTalkBadResponseError(
            f"connections/open answered HTTP {status} without an endpoint and ticket"
        )
    code = data.get("code")
    if not isinstance(code, str) or not code:
        if status == _UNAUTHORIZED:
            raise AppCredentialsError(status, "credentials refused", status=status)
        raise http_error(status)
    message = scrub(str(data.get("message", "")), secrets)
    request_id = data.get("requestid") or data.get("requestId")
    cls: type[DingTalkApiError] = UnknownApiError
    folded = code.casefold()
    if status == _UNAUTHORIZED or (
        status in _CREDENTIAL_STATUSES and folded in CREDENTIAL_CODES
    ):
        cls = AppCredentialsError
    elif status == _TOO_MANY_REQUESTS or "qpslimit" in folded:
        cls = RateLimitedError
    elif status >= _SERVER_ERROR:
        cls = BusyError
    raise cls(
        code,
        message,
        status=status,
        request_id=request_id if isinstance(request_id, str) else None,
    )


def socket_url(endpoint: str, ticket: str) -> URL:
    """Return ``endpoint?ticket=…``; the endpoint must be wss (ws only on a local host).

    Raise DingTalkBadResponseError for any other endpoint.
    """
    try:
        url = URL(endpoint)
    except ValueError:
        url = URL()
    host = url.host or ""
    secure = url.scheme == "wss" or (url.scheme == "ws" and is_local_host(host))
    if not host or not secure:
        raise DingTalkBadResponseError(
            "connections/open answered an endpoint that is not wss:// "
            f"({url.scheme or 'no scheme'}://{host or 'no host'})"
        )
    separator = "&" if url.raw_query_string else "?"
    return URL(f"{url}{separator}ticket={quote_plus(ticket)}", encoded=True)
