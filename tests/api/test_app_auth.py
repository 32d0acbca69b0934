"""Obtain, cache, refresh and share an app's access token over real HTTP."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import pytest

from custom_components.dingtalk.api.app_auth import AccessTokenProvider, AppCredentials
from custom_components.dingtalk.api.app_config import (
    AppConfigProblem,
    InvalidAppConfigError,
)
from custom_components.dingtalk.api.errors import (
    AppCredentialsError,
    BusyError,
    DingTalkBadResponseError,
    DingTalkHTTPError,
    DingTalkTimeoutError,
    IPNotAllowedError,
    RateLimitedError,
)

from .app_fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    CREDENTIALS,
    TOKEN_PATH,
    Answer,
    FakeDingTalk,
    token_value,
)

pytest_plugins = ["tests.api.app_fixtures"]

if TYPE_CHECKING:
    import aiohttp


class Clock:
    """Tell a time the test sets."""

    def __init__(self) -> None:
        """Start at 1000 s."""
        self.now = 1000.0

    def __call__(self) -> float:
        """Return the current time."""
        return self.now


@pytest.fixture
def clock() -> Clock:
    """Return a settable clock."""
    return Clock()


@pytest.fixture
def provider(
    app_fake: FakeDingTalk, http_session: aiohttp.ClientSession, clock: Clock
) -> AccessTokenProvider:
    """Return a provider against the app_fake, on the settable clock."""
    return AccessTokenProvider(
        CREDENTIALS, session=http_session, api_base=app_fake.base, clock=clock
    )


async def _slow_refresh(
    app_fake: FakeDingTalk, provider: AccessTokenProvider, count: int, *, answer: Answer
) -> list[asyncio.Task[str]]:
    """Start ``count`` callers on a token request held until app_fake.release is set."""
    app_fake.script(TOKEN_PATH, answer)
    waiters = [asyncio.create_task(provider.async_get_token()) for _ in range(count)]
    await app_fake.arrived.wait()
    return waiters


def _assert_clean(*texts: str) -> None:
    """Assert that neither the secret nor any issued token is in ``texts``."""
    for text in texts:
        assert CLIENT_SECRET not in text
        for number in range(1, 6):
            assert token_value(number) not in text


async def test_token_request(
    app_fake: FakeDingTalk,
    provider: AccessTokenProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """POST the credentials as JSON and return the token; log no secret."""
    caplog.set_level(logging.DEBUG)
    assert await provider.async_get_token() == token_value(1)
    (request,) = app_fake.to(TOKEN_PATH)
    assert request.json() == {"appKey": CLIENT_ID, "appSecret": CLIENT_SECRET}
    assert request.headers["Content-Type"].startswith("application/json")
    assert provider.token_requests == 1
    assert "valid for 7200 s" in caplog.text
    _assert_clean(caplog.text, repr(provider))
    assert (
        repr(provider) == f"AccessTokenProvider(client_id='{CLIENT_ID}', cached=True)"
    )


async def test_cached_until_margin_before_expiry(
    app_fake: FakeDingTalk, provider: AccessTokenProvider, clock: Clock
) -> None:
    """Reuse the token until 300 s before it expires, then fetch a new one."""
    assert await provider.async_get_token() == token_value(1)
    clock.now += 7200 - 300 - 0.001
    assert await provider.async_get_token() == token_value(1)
    clock.now += 0.001
    assert await provider.async_get_token() == token_value(2)
    assert await provider.async_get_token() == token_value(2)
    assert provider.token_requests == 2
    assert len(app_fake.to(TOKEN_PATH)) == 2


async def test_short_lived_token_refreshes_at_half_life(
    app_fake: FakeDingTalk, provider: AccessTokenProvider, clock: Clock
) -> None:
    """Refresh a token that lives less than twice the margin at half its life."""
    app_fake.script(
        TOKEN_PATH, Answer(body={"accessToken": "short", "expireIn": "100"})
    )
    assert await provider.async_get_token() == "short"
    clock.now += 49.9
    assert await provider.async_get_token() == "short"
    clock.now += 0.1
    assert await provider.async_get_token() == token_value(2)


async def test_concurrent_callers_share_one_refresh(
    app_fake: FakeDingTalk, provider: AccessTokenProvider
) -> None:
    """Send one token request for many concurrent callers."""
    waiters = await _slow_refresh(app_fake, provider, 5, answer=Answer(slow=True))
    app_fake.release.set()
    assert await asyncio.gather(*waiters) == [token_value(1)] * 5
    assert provider.token_requests == 1
    assert len(app_fake.received) == 1


async def test_cancelled_caller_does_not_cancel_the_refresh(
    app_fake: FakeDingTalk, provider: AccessTokenProvider
) -> None:
    """Let the other callers (and the cache) get the token when one is cancelled."""
    first, second = await _slow_refresh(app_fake, provider, 2, answer=Answer(slow=True))
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    app_fake.release.set()
    assert await second == token_value(1)
    assert provider.token_requests == 1


async def test_refresh_completes_when_every_caller_is_cancelled(
    app_fake: FakeDingTalk, provider: AccessTokenProvider
) -> None:
    """Finish and cache a refresh whose callers all gave up."""
    (only,) = await _slow_refresh(app_fake, provider, 1, answer=Answer(slow=True))
    only.cancel()
    with pytest.raises(asyncio.CancelledError):
        await only
    refresh = provider._refresh
    assert refresh is not None
    app_fake.release.set()
    assert await refresh == token_value(1)
    assert await provider.async_get_token() == token_value(1)
    assert provider.token_requests == 1


async def test_failed_refresh_is_shared_then_retried(
    app_fake: FakeDingTalk, provider: AccessTokenProvider
) -> None:
    """Give every waiter the same failure; the next call tries again."""
    refused = {
        "code": "invalidClientIdOrSecret",
        "message": "无效的clientId或者clientSecret",
    }
    waiters = await _slow_refresh(
        app_fake, provider, 3, answer=Answer(400, refused, slow=True)
    )
    app_fake.release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(result, AppCredentialsError) for result in results)
    assert await provider.async_get_token() == token_value(2)
    assert provider.token_requests == 2


async def test_unawaited_failure_is_retrieved(
    app_fake: FakeDingTalk, provider: AccessTokenProvider
) -> None:
    """Mark a refresh's error retrieved even if every caller was cancelled."""
    busy = Answer(500, {"code": "server.error"}, slow=True)
    (only,) = await _slow_refresh(app_fake, provider, 1, answer=busy)
    only.cancel()
    refresh = provider._refresh
    assert refresh is not None
    app_fake.release.set()
    with pytest.raises(BusyError):
        await refresh
    assert provider._refresh is None


async def test_cancelled_refresh_cancels_its_waiters(
    app_fake: FakeDingTalk, provider: AccessTokenProvider
) -> None:
    """Cancel the waiters of a refresh cancelled itself (at shutdown); start afresh."""
    (waiter,) = await _slow_refresh(app_fake, provider, 1, answer=Answer(slow=True))
    refresh = provider._refresh
    assert refresh is not None
    refresh.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert provider._refresh is None
    assert await provider.async_get_token() == token_value(2)


async def test_stale_refresh_callback_keeps_the_current_refresh(
    provider: AccessTokenProvider,
) -> None:
    """Leave a newer refresh in place when an older one's callback runs late."""

    async def finished() -> str:
        """Return a token at once."""
        return "old"

    old = asyncio.create_task(finished())
    await old
    current = asyncio.create_task(finished())
    provider._refresh = current
    provider._refresh_done(old)
    assert provider._refresh is current
    await current


async def test_invalidate(
    app_fake: FakeDingTalk, provider: AccessTokenProvider
) -> None:
    """Drop the cached token only if it is the one refused."""
    token = await provider.async_get_token()
    assert not provider.invalidate("some-other-token")
    assert not provider.invalidate("")
    assert await provider.async_get_token() == token
    assert provider.invalidate(token)
    assert not provider.invalidate(token)
    assert repr(provider).endswith("cached=False)")
    assert await provider.async_get_token() == token_value(2)
    assert not provider.invalidate(token)
    assert len(app_fake.to(TOKEN_PATH)) == 2


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, {"code": "invalidClientIdOrSecret", "message": "m"}, AppCredentialsError),
        (401, {"code": "authFailed", "message": "鉴权失败"}, AppCredentialsError),
        (400, {"code": "Something.New", "message": "m"}, AppCredentialsError),
        (404, {"code": "NotFound", "message": "m"}, AppCredentialsError),
        (403, {"code": "Forbidden.AccessDenied.QpsLimitForApi"}, RateLimitedError),
        (429, {"code": "Throttling", "message": "m"}, RateLimitedError),
        (403, {"code": "Forbidden.AccessDenied.IpNotInWhiteList"}, IPNotAllowedError),
        (500, {"code": "server.error", "message": "m"}, BusyError),
        (503, {"code": "ServiceUnavailable", "message": "m"}, BusyError),
    ],
)
async def test_token_errors(
    app_fake: FakeDingTalk,
    provider: AccessTokenProvider,
    status: int,
    body: dict[str, str],
    expected: type[Exception],
) -> None:
    """Turn a 4xx refusal into AppCredentialsError; keep throttling, IP and 5xx."""
    app_fake.script(TOKEN_PATH, Answer(status, body | {"requestid": "REQ"}))
    with pytest.raises(expected) as excinfo:
        await provider.async_get_token()
    error = excinfo.value
    assert type(error) is expected
    assert isinstance(
        error, (AppCredentialsError, RateLimitedError, BusyError, IPNotAllowedError)
    )
    assert (error.errcode, error.status, error.request_id) == (
        body["code"],
        status,
        "REQ",
    )


async def test_credentials_error_keeps_code_and_message(
    app_fake: FakeDingTalk,
    provider: AccessTokenProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Keep DingTalk's code and message; scrub a secret it echoes."""
    caplog.set_level(logging.DEBUG)
    body = {"code": "invalidClientIdOrSecret", "message": f"bad {CLIENT_SECRET}"}
    app_fake.script(TOKEN_PATH, Answer(400, body))
    with pytest.raises(AppCredentialsError) as excinfo:
        await provider.async_get_token()
    assert excinfo.value.errmsg == "bad ***"
    assert not excinfo.value.retryable
    _assert_clean(str(excinfo.value), repr(excinfo.value), caplog.text)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (502, b"<html>bad gateway</html>", DingTalkHTTPError),
        (401, b"", DingTalkHTTPError),
        (200, b"<html>", DingTalkBadResponseError),
        (200, {"expireIn": 7200}, DingTalkBadResponseError),
        (200, {"accessToken": " ", "expireIn": 7200}, DingTalkBadResponseError),
        (200, {"accessToken": 5, "expireIn": 7200}, DingTalkBadResponseError),
        (200, {"accessToken": "t", "expireIn": 0}, DingTalkBadResponseError),
        (200, {"accessToken": "t", "expireIn": True}, DingTalkBadResponseError),
        (200, {"accessToken": "t", "expireIn": "soon"}, DingTalkBadResponseError),
        (200, {"accessToken": "t"}, DingTalkBadResponseError),
    ],
)
async def test_not_a_token_answer(
    app_fake: FakeDingTalk,
    provider: AccessTokenProvider,
    status: int,
    body: object,
    expected: type[Exception],
) -> None:
    """Raise a transport error for an answer that is not DingTalk's token JSON."""
    app_fake.script(TOKEN_PATH, Answer(status, body))
    with pytest.raises(expected):
        await provider.async_get_token()
    assert repr(provider).endswith("cached=False)")


async def test_timeout(
    app_fake: FakeDingTalk, http_session: aiohttp.ClientSession
) -> None:
    """Raise DingTalkTimeoutError when the token endpoint does not answer in time."""
    app_fake.script(TOKEN_PATH, Answer(slow=True))
    provider = AccessTokenProvider(
        CREDENTIALS, session=http_session, api_base=app_fake.base, request_timeout=0.2
    )
    with pytest.raises(DingTalkTimeoutError):
        await provider.async_get_token()


async def test_api_base_with_a_path_prefix(
    app_fake: FakeDingTalk, http_session: aiohttp.ClientSession
) -> None:
    """Append the token path to a proxy's path prefix (a trailing '/' is dropped)."""
    app_fake.script(
        f"/proxy{TOKEN_PATH}", Answer(body={"accessToken": "p", "expireIn": 60})
    )
    provider = AccessTokenProvider(
        CREDENTIALS, session=http_session, api_base=f"{app_fake.base}/proxy/"
    )
    assert await provider.async_get_token() == "p"


@pytest.mark.parametrize(
    ("request_timeout", "margin", "message"),
    [
        (0, 300, "request_timeout must be positive"),
        (10, -1, "refresh_margin must not be negative"),
    ],
)
async def test_invalid_settings(
    http_session: aiohttp.ClientSession,
    request_timeout: float,
    margin: float,
    message: str,
) -> None:
    """Refuse a non-positive timeout and a negative margin."""
    with pytest.raises(ValueError, match=message):
        AccessTokenProvider(
            CREDENTIALS,
            session=http_session,
            request_timeout=request_timeout,
            refresh_margin=margin,
        )


async def test_invalid_api_base(http_session: aiohttp.ClientSession) -> None:
    """Refuse an api_base that is not https (or local http)."""
    with pytest.raises(InvalidAppConfigError) as excinfo:
        AccessTokenProvider(
            CREDENTIALS, session=http_session, api_base="http://api.dingtalk.com"
        )
    assert excinfo.value.problem is AppConfigProblem.INSECURE
    assert excinfo.value.field == "api_base"


def test_credentials_hide_the_secret() -> None:
    """Strip the credentials; never show the secret in repr or str."""
    credentials = AppCredentials(f" {CLIENT_ID} ", f"{CLIENT_SECRET}\n")
    assert credentials == CREDENTIALS
    assert repr(credentials) == f"AppCredentials(client_id='{CLIENT_ID}')"
    assert CLIENT_SECRET not in str(credentials)


@pytest.mark.parametrize(
    ("client_id", "secret", "field", "problem"),
    [
        ("", "s", "client_id", AppConfigProblem.EMPTY),
        ("id", "  ", "client_secret", AppConfigProblem.EMPTY),
        ("id", None, "client_secret", AppConfigProblem.EMPTY),
        ("my id", "s", "client_id", AppConfigProblem.INVALID),
        ("id", "xyzzy\x00plugh", "client_secret", AppConfigProblem.INVALID),
    ],
)
def test_credentials_refused(
    client_id: str, secret: object, field: str, problem: AppConfigProblem
) -> None:
    """Refuse blank credentials or ones with inner whitespace, without echoing."""
    with pytest.raises(InvalidAppConfigError) as excinfo:
        AppCredentials(client_id, secret)  # type: ignore[arg-type]  # on purpose
    assert excinfo.value.problem is problem
    assert excinfo.value.field == field
    assert isinstance(excinfo.value, ValueError)
    assert "xyzzy" not in str(excinfo.value)
