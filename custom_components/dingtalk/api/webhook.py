"""Parse the webhook a user pastes: the full robot URL or a bare access token."""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import re
from typing import Final, Self

from yarl import URL

from .errors import InvalidWebhookError, WebhookProblem
from .hosts import is_local_host

DEFAULT_ENDPOINT: Final = "https://oapi.dingtalk.com/robot/send"
"""Where a bare access token is sent."""

_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9._~-]+")
_BARE_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9_-]{32,}")
"""What a token pasted alone must look like (DingTalk's are 64 hex digits; loosely)."""
_SECRET_RE: Final = re.compile(r"SEC[0-9a-fA-F]{16,}")
_SCHEMES: Final = frozenset({"http", "https"})


@dataclass(frozen=True, slots=True, repr=False)
class Webhook:
    """Hold a robot's endpoint (scheme://host[:port]/path, no query) and token."""

    endpoint: str
    access_token: str

    def __post_init__(self) -> None:
        """Validate both parts without echoing them."""
        if not _TOKEN_RE.fullmatch(self.access_token):
            raise InvalidWebhookError(
                WebhookProblem.BAD_TOKEN,
                "the access token must be letters, digits, '.', '_', '~' or '-'",
            )
        url = _parse_url(self.endpoint)
        if url.raw_query_string or url.raw_fragment or str(url) != self.endpoint:
            raise InvalidWebhookError(
                WebhookProblem.NOT_A_URL,
                "the endpoint must be an encoded http(s) URL without query or fragment",
            )

    @classmethod
    def parse(cls, value: str) -> Self:
        """Parse a full webhook URL or a bare access token, or raise."""
        text = value.strip()
        if not text:
            raise InvalidWebhookError(WebhookProblem.EMPTY, "the webhook is empty")
        if "://" not in text and ("/" in text or "?" in text):
            text = f"https://{text}"  # "oapi.dingtalk.com/robot/send?access_token=…"
        if "://" not in text:
            if _SECRET_RE.fullmatch(text):
                raise InvalidWebhookError(
                    WebhookProblem.LOOKS_LIKE_SECRET,
                    "this looks like the robot's secret (SEC…), not its webhook",
                )
            if not _BARE_TOKEN_RE.fullmatch(text):
                raise InvalidWebhookError(
                    WebhookProblem.BAD_TOKEN,
                    "neither a webhook URL nor an access token (32+ letters or digits)",
                )
            return cls(endpoint=DEFAULT_ENDPOINT, access_token=text)
        url = _parse_url(text)
        tokens = url.query.getall("access_token", [])
        if not tokens or not tokens[0].strip():
            raise InvalidWebhookError(
                WebhookProblem.NO_TOKEN, "the webhook URL has no access_token parameter"
            )
        if len(set(tokens)) > 1:
            raise InvalidWebhookError(
                WebhookProblem.TWO_TOKENS,
                "the webhook URL has two different access tokens",
            )
        # Everything else in the query (a stale timestamp/sign included) is dropped:
        # the client signs every request afresh.
        endpoint = str(url.with_query(None).with_fragment(None))
        return cls(endpoint=endpoint, access_token=tokens[0].strip())

    def token_fingerprint(self) -> str:
        """Return a short, stable, non-reversible id of the token for ids and logs."""
        return hashlib.sha256(self.access_token.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        """Show the endpoint and the token fingerprint, never the token."""
        return (
            f"Webhook(endpoint={self.endpoint!r}, "
            f"token_fingerprint={self.token_fingerprint()!r})"
        )


def _parse_url(text: str) -> URL:
    """Parse an http(s) URL with a host and no user info, without echoing it."""
    try:
        url = URL(text)
        # yarl checks some parts lazily: touch every one inside the try.
        scheme, host, user, password = url.scheme, url.host, url.user, url.password
        _port = url.port
    except ValueError, TypeError:
        raise InvalidWebhookError(
            WebhookProblem.NOT_A_URL, "the webhook is not a valid URL"
        ) from None
    if scheme not in _SCHEMES:
        raise InvalidWebhookError(
            WebhookProblem.SCHEME, "the webhook URL must start with http:// or https://"
        )
    if not host:
        raise InvalidWebhookError(WebhookProblem.NO_HOST, "the webhook URL has no host")
    if user is not None or password is not None:
        raise InvalidWebhookError(
            WebhookProblem.USER_INFO, "the webhook URL must not carry user credentials"
        )
    if scheme == "http" and not is_local_host(host):
        raise InvalidWebhookError(
            WebhookProblem.INSECURE,
            "http:// is only accepted for loopback and private-network hosts",
        )
    return url
