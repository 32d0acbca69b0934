"""Stream client parts without sockets: tuning, de-duplication, back-off, open."""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import quote_plus

import pytest

from custom_components.dingtalk.api import (
    AppCredentialsError,
    BusyError,
    DingTalkApiError,
    DingTalkBadResponseError,
    DingTalkHTTPError,
    RateLimitedError,
    UnknownApiError,
)
from custom_components.dingtalk.api.stream_connect import (
    decode_open_response,
    socket_url,
)
from custom_components.dingtalk.api.stream_support import (
    DedupeCache,
    StreamState,
    StreamStats,
    StreamTuning,
    backoff_delay,
)

from .stream_fakes import CLIENT_SECRET, FixedRandom

SECRETS = (CLIENT_SECRET, quote_plus(CLIENT_SECRET))


@pytest.mark.parametrize(
    "field",
    [f.name for f in dataclasses.fields(StreamTuning) if f.name != "backoff_jitter"],
)
def test_tuning_must_be_positive(field: str) -> None:
    """Refuse a zero or negative timing or bound."""
    with pytest.raises(ValueError, match=field):
        StreamTuning(**{field: 0})


@pytest.mark.parametrize("jitter", [-0.1, 1.0])
def test_tuning_jitter_range(jitter: float) -> None:
    """Refuse a jitter that could make a delay zero or negative."""
    with pytest.raises(ValueError, match="backoff_jitter"):
        StreamTuning(backoff_jitter=jitter)


def test_tuning_cap_below_base() -> None:
    """Refuse a cap below the first delay."""
    with pytest.raises(ValueError, match="backoff_max"):
        StreamTuning(backoff_base=5, backoff_max=2)
    assert StreamTuning(backoff_jitter=0).backoff_jitter == 0


def test_stats_as_dict() -> None:
    """Give every counter to diagnostics, with the state as its string."""
    stats = StreamStats(acks_sent=3)
    data = stats.as_dict()
    assert data["acks_sent"] == 3
    assert data["state"] == "stopped"
    assert data["state"] is StreamState.STOPPED
    assert set(data) == {f.name for f in dataclasses.fields(StreamStats)}
    json.dumps(data)


def test_dedupe_by_any_key() -> None:
    """Recognise a message again by any of its keys, and learn its new keys."""
    cache = DedupeCache(ttl=600, max_entries=10)
    assert cache.check(("m:1", "p:a"), now=0) is False
    assert cache.check(("m:2", "p:a"), now=1) is True  # same msgId, new messageId
    assert cache.check(("m:2", ""), now=2) is True  # learnt from the duplicate
    assert cache.check(("", ""), now=3) is False
    assert len(cache) == 3


def test_dedupe_expires() -> None:
    """Forget keys after ttl seconds."""
    cache = DedupeCache(ttl=600, max_entries=10)
    cache.check(("m:1",), now=0)
    cache.check(("m:2",), now=100)
    assert cache.check(("m:1",), now=599) is True  # refreshed: now expires at 1199
    assert cache.check(("m:3",), now=700) is False
    assert len(cache) == 2  # m:2 expired at 700
    assert cache.check(("m:2",), now=701) is False


def test_dedupe_bounded() -> None:
    """Keep at most max_entries keys, dropping the oldest."""
    cache = DedupeCache(ttl=600, max_entries=2)
    for key in ("m:1", "m:2", "m:3"):
        cache.check((key,), now=0)
    assert len(cache) == 2
    assert cache.check(("m:1",), now=0) is False
    assert cache.check(("m:3",), now=0) is True


def test_backoff_doubles_to_the_cap() -> None:
    """Wait 1, 2, 4 … 60 s; jitter only shortens a delay, by at most 20 %."""
    tuning = StreamTuning()
    longest = [backoff_delay(n, tuning, FixedRandom(0.0)) for n in range(9)]
    assert longest == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    shortest = [backoff_delay(n, tuning, FixedRandom(0.99999)) for n in range(9)]
    for low, high in zip(shortest, longest, strict=True):
        assert high * 0.8 <= low < high
    assert backoff_delay(10_000, tuning, FixedRandom(0.0)) == 60


def _open_answer(status: int, body: object) -> tuple[int, bytes]:
    """Return a connections/open answer as (status, raw body)."""
    return status, body if isinstance(body, bytes) else json.dumps(body).encode()


def test_decode_open_response() -> None:
    """Return the endpoint and ticket of a 200 answer."""
    answer = {"endpoint": "wss://gw.example/connect", "ticket": "t-1"}
    assert decode_open_response(*_open_answer(200, answer), SECRETS) == (
        "wss://gw.example/connect",
        "t-1",
    )


@pytest.mark.parametrize(
    "body",
    [b"<xml>endpoint</xml>", {"endpoint": "wss://x/connect"}, {"ticket": "t"}, [1]],
)
def test_decode_open_response_incomplete(body: object) -> None:
    """Refuse a 200 answer without both endpoint and ticket (e.g. XML, §11.1)."""
    with pytest.raises(DingTalkBadResponseError, match="HTTP 200"):
        decode_open_response(*_open_answer(200, body), SECRETS)


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (401, "authFailed", AppCredentialsError),
        (401, "anything", AppCredentialsError),
        (400, "invalid.client", AppCredentialsError),
        (403, "InvalidAuthentication", AppCredentialsError),
        (400, "unauthorized.client", AppCredentialsError),
        (403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", RateLimitedError),
        (403, "Forbidden.AccessDenied.IpNotInWhiteList", UnknownApiError),
        (429, "tooManyRequests", RateLimitedError),
        (503, "ServiceUnavailable", BusyError),
        (400, "invalidParameter", UnknownApiError),
    ],
)
def test_decode_open_errors(
    status: int, code: str, cls: type[DingTalkApiError]
) -> None:
    """Decode v1.0 errors; only refused credentials are AppCredentialsError."""
    body = {"code": code, "message": f"bad {CLIENT_SECRET}", "requestid": "rq-1"}
    with pytest.raises(DingTalkApiError) as caught:
        decode_open_response(*_open_answer(status, body), SECRETS)
    assert type(caught.value) is cls
    assert (caught.value.errcode, caught.value.status) == (code, status)
    assert caught.value.request_id == "rq-1"
    assert CLIENT_SECRET not in str(caught.value)


def test_decode_open_errors_without_code() -> None:
    """Treat a bare 401 as refused credentials, other bare statuses by status."""
    with pytest.raises(AppCredentialsError) as caught:
        decode_open_response(401, b"", SECRETS)
    assert caught.value.errcode == 401
    with pytest.raises(DingTalkHTTPError) as http:
        decode_open_response(*_open_answer(502, {"code": ""}), SECRETS)
    assert http.value.status == 502
    body = {"code": "x", "message": "m", "requestId": 5}
    with pytest.raises(UnknownApiError) as unknown:
        decode_open_response(*_open_answer(400, body), SECRETS)
    assert unknown.value.request_id is None


def test_socket_url_encodes_the_ticket() -> None:
    """Append the URL-encoded ticket (quote_plus) to a wss endpoint."""
    url = socket_url("wss://wss-open-connection.dingtalk.com:443/connect", "a+b/c= d")
    # yarl leaves out the default port; the URL is the same.
    assert str(url) == (
        "wss://wss-open-connection.dingtalk.com/connect?ticket=a%2Bb%2Fc%3D+d"
    )
    assert url.query["ticket"] == "a+b/c= d"
    with_query = socket_url("wss://gw.example/connect?region=cn", "t")
    assert str(with_query) == "wss://gw.example/connect?region=cn&ticket=t"
    assert socket_url("ws://127.0.0.1:8080/connect", "t").port == 8080


@pytest.mark.parametrize(
    "endpoint",
    [
        "ws://gw.example/connect",
        "https://gw.example/connect",
        "wss:///connect",
        "/connect",
        "wss://[::1/connect",
    ],
)
def test_socket_url_must_be_secure(endpoint: str) -> None:
    """Refuse anything but wss://, and ws:// to a local host."""
    with pytest.raises(DingTalkBadResponseError, match="not wss"):
        socket_url(endpoint, "t")
