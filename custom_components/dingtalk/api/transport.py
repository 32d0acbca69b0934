"""One HTTP request with a timeout, transport errors decoded and secrets scrubbed."""

from __future__ import annotations

import asyncio
import logging
import re
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

import aiohttp

from .errors import DingTalkConnectionError, DingTalkTimeoutError, http_error

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from yarl import URL

# Nothing raised or logged here contains a secret: aiohttp's error text (which holds
# the URL, and so a webhook's access token and sign) is scrubbed, chained from None.

_LOGGER: Final = logging.getLogger(__name__)

USER_AGENT: Final = "ha-dingtalk/0.1.0 (+https://github.com/ha-dingtalk/ha-dingtalk)"
"""User-Agent of every request."""

JSON_HEADERS: Final = MappingProxyType(
    {
        "Content-Type": "application/json; charset=utf-8",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }
)
"""Headers of every JSON request."""

REDACTED: Final = "***"
"""What replaces a secret in error text and logs."""

_SECRET_PARAMS_RE: Final = re.compile(
    r"(?P<name>access_token|timestamp|sign|secret|session|ticket)=[^&\s'\"<>]*",
    re.IGNORECASE,
)
_URL_QUERY_RE: Final = re.compile(r"(?P<base>://[^\s?'\"<>]*)\?[^\s'\"<>]*")


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with the secrets, their parameters and URL queries as ***."""
    for secret in sorted({value for value in secrets if value}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _SECRET_PARAMS_RE.sub(rf"\g<name>={REDACTED}", text)
    return _URL_QUERY_RE.sub(rf"\g<base>?{REDACTED}", text)


async def async_request(  # noqa: PLR0913 - one request's parts, keyword-only
    session: aiohttp.ClientSession,
    method: str,
    url: URL,
    *,
    data: bytes | aiohttp.FormData | None,
    headers: Mapping[str, str],
    request_timeout: float,
    secrets: tuple[str, ...] = (),
    where: str,
) -> tuple[int, bytes]:
    """Send one request and return its status and raw body, within ``request_timeout``.

    Raise DingTalkTimeoutError, DingTalkHTTPError (a session that raises for status)
    or DingTalkConnectionError; ``maybe_delivered`` is False only when the connection
    could not even be opened, so the request surely did not reach DingTalk.
    """
    try:
        async with (
            asyncio.timeout(request_timeout),
            session.request(
                method, url, data=data, headers=headers, allow_redirects=False
            ) as response,
        ):
            return response.status, await response.read()
    except TimeoutError:
        # Before ClientError: aiohttp's own timeouts are both.
        _LOGGER.debug("%s timed out", where)
        raise DingTalkTimeoutError(
            f"DingTalk did not answer within {request_timeout} s"
        ) from None
    except aiohttp.ClientResponseError as err:
        # Only from a session created with raise_for_status; its text has the URL.
        _LOGGER.debug("%s answered HTTP %d", where, err.status)
        raise http_error(err.status) from None
    except (aiohttp.ClientError, OSError) as err:
        reason = scrub(f"{type(err).__name__}: {err}", secrets)
        _LOGGER.debug("Request to %s failed: %s", where, reason)
        raise DingTalkConnectionError(
            f"cannot reach DingTalk: {reason}",
            maybe_delivered=not isinstance(err, aiohttp.ClientConnectorError),
        ) from None
