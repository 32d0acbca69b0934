"""Send messages to a DingTalk robot webhook with aiohttp."""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any, Final, Self
from urllib.parse import quote, quote_plus, unquote

import aiohttp
from yarl import URL

from .errors import (
    DingTalkBadResponseError,
    error_from_response,
    http_error,
    parse_errcode,
)
from .models import serialize_payload
from .signing import sign
from .transport import JSON_HEADERS, async_request, scrub

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .models import Message
    from .webhook import Webhook

# send() makes exactly one request: no prepare(), no retry. The caller owns pacing and
# retries, and every exception says whether a retry can help. Each request gets a
# fresh timestamp and sign. Nothing raised or logged here contains the access token,
# the secret or the signed URL (transport.async_request scrubs aiohttp's errors).

_LOGGER: Final = logging.getLogger(__name__)


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
            raise http_error(status)
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
        return await async_request(
            self._session,
            "POST",
            url,
            data=body,
            headers=JSON_HEADERS,
            request_timeout=self._request_timeout,
            secrets=secrets,
            where=self._redacted_endpoint(),
        )
