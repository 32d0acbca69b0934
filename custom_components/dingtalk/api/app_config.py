"""Validate an app robot's settings: credentials, robot code and endpoint URLs."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from yarl import URL

from .errors import DingTalkError
from .hosts import is_local_host

# No message raised here echoes the value: a secret, or a sessionWebhook (whose query
# holds a session secret), must never reach a log through an exception text.


class AppConfigProblem(StrEnum):
    """Why an app robot setting was refused, as a stable code for the config flow."""

    EMPTY = "empty"
    INVALID = "invalid"  # whitespace or control characters inside the value
    NOT_A_URL = "not_a_url"
    SCHEME = "scheme"
    NO_HOST = "no_host"
    USER_INFO = "user_info"
    QUERY = "query"  # a query or fragment where none is allowed
    INSECURE = "insecure"  # http:// to a host that is not local


class InvalidAppConfigError(DingTalkError, ValueError):
    """Reject an app robot setting; ``field`` names the setting, ``problem`` why."""

    def __init__(self, problem: AppConfigProblem, message: str, *, field: str) -> None:
        """Store the problem code and the field; the message is English, for logs."""
        super().__init__(f"{field}: {message}")
        self.problem = problem
        self.field = field


_MESSAGES: Final = {
    AppConfigProblem.EMPTY: "the value is empty",
    AppConfigProblem.INVALID: "the value contains whitespace or control characters",
    AppConfigProblem.NOT_A_URL: "not a valid URL",
    AppConfigProblem.SCHEME: "the URL must start with https:// (or http:// if local)",
    AppConfigProblem.NO_HOST: "the URL has no host",
    AppConfigProblem.USER_INFO: "the URL must not carry user credentials",
    AppConfigProblem.QUERY: "the URL must not have a query or a fragment",
    AppConfigProblem.INSECURE: "http:// is only accepted for local hosts",
}


def _fail(problem: AppConfigProblem, field: str) -> InvalidAppConfigError:
    """Return the error for ``problem`` in ``field``."""
    return InvalidAppConfigError(problem, _MESSAGES[problem], field=field)


def check_identifier(value: object, *, field: str) -> str:
    """Return a credential or robot code stripped; refuse blanks and inner spaces."""
    if not isinstance(value, str) or not value.strip():
        raise _fail(AppConfigProblem.EMPTY, field)
    text = value.strip()
    if any(char.isspace() or not char.isprintable() for char in text):
        raise _fail(AppConfigProblem.INVALID, field)
    return text


def _url_problem(url: URL, *, allow_query: bool) -> AppConfigProblem | None:
    """Return what makes ``url`` unusable as a DingTalk endpoint, or None."""
    if url.scheme not in {"http", "https"}:
        return AppConfigProblem.SCHEME
    if not url.host:
        return AppConfigProblem.NO_HOST
    if url.user is not None or url.password is not None:
        return AppConfigProblem.USER_INFO
    if url.raw_fragment or (url.raw_query_string and not allow_query):
        return AppConfigProblem.QUERY
    if url.scheme == "http" and not is_local_host(url.host):
        return AppConfigProblem.INSECURE
    return None


def parse_endpoint(value: object, *, field: str, allow_query: bool = False) -> URL:
    """Return ``value`` as an https (or local http) URL, or raise for ``field``."""
    if not isinstance(value, str) or not value.strip():
        raise _fail(AppConfigProblem.EMPTY, field)
    text = value.strip()
    if any(char.isspace() for char in text):
        raise _fail(AppConfigProblem.NOT_A_URL, field)
    try:
        url = URL(text)
        # yarl checks the port lazily: touch it inside the try.
        _port = url.port
    except ValueError, TypeError:
        raise _fail(AppConfigProblem.NOT_A_URL, field) from None
    problem = _url_problem(url, allow_query=allow_query)
    if problem is not None:
        raise _fail(problem, field)
    return url


def parse_base_url(value: object, *, field: str) -> str:
    """Return an API base URL (a proxy path prefix allowed) without a trailing '/'."""
    return str(parse_endpoint(value, field=field)).rstrip("/")
