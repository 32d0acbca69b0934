"""Send messages to a DingTalk robot webhook with aiohttp."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Self
from urllib.parse import quote, quote_plus, unquote

import aiohttp
from yarl import URL

from .errors import (
    DingTalkBadResponseError,
    DingTalkConnectionError,
    DingTalkHTTPError,
    DingTalkTimeoutError,
    error_from_response,
    parse_errcode,
)
from .models import serialize_payload
from .signing import sign

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from .models import Message
    from .webhook import Webhook

# send() makes exactly one request: no prepare(), no retry. The caller owns pacing and
# retries, and every exception says whether a retry can help. Each request gets a
# fresh timestamp and sign. Nothing raised or logged here contains the access token,
# the secret or the signed URL: aiohttp's error text is scrubbed, chained from None.

_LOGGER: Final = logging.getLogger(__name__)

USER_AGENT: Final = "ha-dingtalk/0.1.0 (+https://github.com/ha-dingtalk/ha-dingtalk)"
"""User-Agent of every request."""

HEADERS: Final = MappingProxyType(
    {
        "Content-Type": "application/json; charset=utf-8",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }
)
"""Headers of every request."""

REDACTED: Final = "***"
"""What replaces a secret in error text and logs."""

_SECRET_PARAMS_RE: Final = re.compile(
    r"(?P<name>access_token|timestamp|sign|secret)=[^&\s'\"<>]*", re.IGNORECASE
)
_URL_QUERY_RE: Final = re.compile(r"(?P<base>://[^\s?'\"<>]*)\?[^\s'\"<>]*")


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with the secrets, their parameters and URL queries as ***."""
    for secret in sorted({value for value in secrets if value}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _SECRET_PARAMS_RE.sub(rf"\g<name>={REDACTED}", text)
    return _URL_QUERY_RE.sub(rf"\g<base>?{REDACTED}", text)


class DingTalkClient:
    """Send messages to one DingTalk robot."""

    def __init__(
        self,
        webhook: Webhook,
        secret: str | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
        request_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Set up the client; it creates (and owns) a session only if none is given."""
        if request_timeout <= 0:
            raise ValueError("request_timeout must be positive")
        self._webhook = webhook
        self._secret = (secret or "").strip() or None
        self._session = session
        self._close_session = False
        self._request_timeout = request_timeout
        self._clock = clock

    @property
    def webhook(self) -> Webhook:
        """Return the robot's webhook."""
        return self._webhook

    @property
    def signed(self) -> bool:
        """Return whether requests are signed (a secret was given)."""
        return self._secret is not None

    def __repr__(self) -> str:
        """Show the webhook (without its token) and whether requests are signed."""
        return f"DingTalkClient(webhook={self._webhook!r}, signed={self.signed})"

    async def send(self, message: Message) -> None:
        """Send one message as is; raise a DingTalkError unless DingTalk accepts it."""
        await self.send_payload(message.to_payload())

    async def send_payload(self, payload: Mapping[str, Any]) -> None:
        """Send one already-built payload (e.g. a stored message) like ``send``."""
        body = serialize_payload(payload)
        timestamp_ms = round(self._clock() * 1000)
        url, secrets = self._signed_url(timestamp_ms)
        where = self._redacted_endpoint()
        msg_uuid = payload.get("msgUuid")
        _LOGGER.debug(
            "Sending %s message %s (%d bytes) to %s",
            payload.get("msgtype"),
            msg_uuid,
            len(body),
            where,
        )
        status, raw = await self._post(url, body, secrets)
        if not 200 <= status < 300:  # noqa: PLR2004 - the 2xx range
            _LOGGER.debug("%s answered HTTP %d", where, status)
            raise DingTalkHTTPError(status)
        try:
            data = json.loads(raw)
        except ValueError:
            _LOGGER.debug("%s answered a non-JSON body (%d bytes)", where, len(raw))
            raise DingTalkBadResponseError(
                f"DingTalk answered HTTP {status} with a body that is not JSON "
                f"({len(raw)} bytes)"
            ) from None
        errcode = parse_errcode(data.get("errcode")) if isinstance(data, dict) else None
        if errcode is None:
            raise DingTalkBadResponseError(
                f"DingTalk answered HTTP {status} with JSON that has no integer errcode"
            )
        if errcode == 0:
            _LOGGER.debug("%s accepted message %s", where, msg_uuid)
            return
        errmsg = scrub(str(data.get("errmsg", "")), secrets)
        _LOGGER.debug("%s answered errcode %d: %s", where, errcode, errmsg)
        raise error_from_response(errcode, errmsg)

    async def close(self) -> None:
        """Close the session if this client created it; leave an injected one open."""
        if self._session is not None and self._close_session:
            await self._session.close()
            self._session = None
            self._close_session = False

    async def __aenter__(self) -> Self:
        """Return the client."""
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        """Close the session if this client created it."""
        await self.close()

    def _signed_url(self, timestamp_ms: int) -> tuple[URL, tuple[str, ...]]:
        """Return the request URL and every secret string it holds, for scrubbing."""
        token = self._webhook.access_token
        quoted_token = quote(token, safe="")
        query = f"access_token={quoted_token}"
        secrets: tuple[str, ...] = (token, quoted_token)
        if self._secret is not None:
            signature = sign(self._secret, timestamp_ms)
            query += f"&timestamp={timestamp_ms}&sign={signature}"
            secrets += (
                self._secret,
                quote_plus(self._secret),
                signature,
                unquote(signature),
            )
        # The sign is already URL-encoded: encoded=True keeps yarl and aiohttp from
        # encoding it a second time.
        return URL(f"{self._webhook.endpoint}?{query}", encoded=True), secrets

    def _redacted_endpoint(self) -> str:
        """Return the endpoint and the token fingerprint, for logs."""
        return f"{self._webhook.endpoint} (token {self._webhook.token_fingerprint()})"

    async def _post(
        self, url: URL, body: bytes, secrets: tuple[str, ...]
    ) -> tuple[int, bytes]:
        """POST ``body`` and return the status and raw body, within the timeout."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._close_session = True
        try:
            async with (
                asyncio.timeout(self._request_timeout),
                self._session.post(
                    url, data=body, headers=HEADERS, allow_redirects=False
                ) as response,
            ):
                return response.status, await response.read()
        except TimeoutError:
            # Before ClientError: aiohttp's own timeouts are both.
            _LOGGER.debug("%s timed out", self._redacted_endpoint())
            raise DingTalkTimeoutError(
                f"DingTalk did not answer within {self._request_timeout} s"
            ) from None
        except aiohttp.ClientResponseError as err:
            # Only from a session created with raise_for_status; its text has the URL.
            _LOGGER.debug("%s answered HTTP %d", self._redacted_endpoint(), err.status)
            raise DingTalkHTTPError(err.status) from None
        except (aiohttp.ClientError, OSError) as err:
            reason = scrub(f"{type(err).__name__}: {err}", secrets)
            _LOGGER.debug("Request to %s failed: %s", self._redacted_endpoint(), reason)
            raise DingTalkConnectionError(f"cannot reach DingTalk: {reason}") from None
