"""Parse the webhook a user pastes."""

from __future__ import annotations

import hashlib

import pytest

from custom_components.dingtalk.api import (
    DEFAULT_ENDPOINT,
    InvalidWebhookError,
    Webhook,
    WebhookProblem,
)

from .conftest import SECRET, TOKEN


@pytest.mark.parametrize(
    ("value", "endpoint"),
    [
        (
            f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}",
            DEFAULT_ENDPOINT,
        ),
        (f"  {TOKEN}\n", DEFAULT_ENDPOINT),
        (TOKEN, DEFAULT_ENDPOINT),
        (f"oapi.dingtalk.com/robot/send?access_token={TOKEN}", DEFAULT_ENDPOINT),
        (
            f"HTTPS://OAPI.DingTalk.com/robot/send?access_token={TOKEN}",
            DEFAULT_ENDPOINT,
        ),
        (
            f"http://127.0.0.1:8123/robot/send?access_token={TOKEN}",
            "http://127.0.0.1:8123/robot/send",
        ),
        (
            f"https://proxy.example/dingtalk/send?access_token={TOKEN}#frag",
            "https://proxy.example/dingtalk/send",
        ),
        (
            (
                f"https://oapi.dingtalk.com/robot/send?timestamp=1&access_token={TOKEN}"
                "&sign=abc%2B%3D&x=y"
            ),
            DEFAULT_ENDPOINT,
        ),
        (
            (
                f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"
                f"&access_token={TOKEN}"
            ),
            DEFAULT_ENDPOINT,
        ),
    ],
)
def test_parse(value: str, endpoint: str) -> None:
    """Accept a full URL, a bare token, other hosts; drop stale sign and timestamp."""
    webhook = Webhook.parse(value)
    assert webhook.endpoint == endpoint
    assert webhook.access_token == TOKEN


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "https://oapi.dingtalk.com/robot/send",
        "https://oapi.dingtalk.com/robot/send?access_token=",
        "https://oapi.dingtalk.com/robot/send?access_token=%20",
        f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}&access_token=x1",
        f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}%20x",
        f"ftp://oapi.dingtalk.com/robot/send?access_token={TOKEN}",
        f"https://user:pw@oapi.dingtalk.com/robot/send?access_token={TOKEN}",
        f"https://{TOKEN}@oapi.dingtalk.com/robot/send?access_token={TOKEN}",
        f"http://[::1/robot/send?access_token={TOKEN}",
        f"http://127.0.0.1:99999/robot/send?access_token={TOKEN}",
        f"https:///robot/send?access_token={TOKEN}",
        f"{TOKEN} extra",
        SECRET,
    ],
)
def test_parse_rejects(value: str) -> None:
    """Raise InvalidWebhookError without echoing the token or secret."""
    with pytest.raises(InvalidWebhookError) as excinfo:
        Webhook.parse(value)
    text = f"{excinfo.value!s} {excinfo.value!r}"
    assert TOKEN not in text
    assert SECRET not in text
    assert isinstance(excinfo.value, ValueError)


def test_parse_recognises_a_pasted_secret() -> None:
    """Tell the user they pasted the secret, not the webhook."""
    with pytest.raises(InvalidWebhookError, match="secret") as excinfo:
        Webhook.parse(SECRET)
    assert excinfo.value.problem is WebhookProblem.LOOKS_LIKE_SECRET


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", WebhookProblem.EMPTY),
        ("office", WebhookProblem.BAD_TOKEN),
        ("a1b2c3", WebhookProblem.BAD_TOKEN),
        (f"{TOKEN} extra", WebhookProblem.BAD_TOKEN),
        ("https://oapi.dingtalk.com/robot/send", WebhookProblem.NO_TOKEN),
        (f"ftp://oapi.dingtalk.com/x?access_token={TOKEN}", WebhookProblem.SCHEME),
        (f"https:///robot/send?access_token={TOKEN}", WebhookProblem.NO_HOST),
        (f"https://u:p@example.org/?access_token={TOKEN}", WebhookProblem.USER_INFO),
        (
            f"https://example.org/?access_token={TOKEN}&access_token=x1",
            WebhookProblem.TWO_TOKENS,
        ),
        (f"http://[::1/robot/send?access_token={TOKEN}", WebhookProblem.NOT_A_URL),
        (
            f"http://oapi.dingtalk.com/robot/send?access_token={TOKEN}",
            WebhookProblem.INSECURE,
        ),
        (f"http://8.8.8.8/robot/send?access_token={TOKEN}", WebhookProblem.INSECURE),
    ],
)
def test_parse_says_what_is_wrong(value: str, problem: WebhookProblem) -> None:
    """Every refusal carries a code the config flow turns into a field error.

    Reported: an invalid webhook did not say what was wrong, and a bare word was
    taken as a token, then failed as "cannot connect" when offline.
    """
    with pytest.raises(InvalidWebhookError) as excinfo:
        Webhook.parse(value)
    assert excinfo.value.problem is problem


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "[::1]",
        "localhost",
        "192.168.1.20",
        "10.0.0.5",
        "172.16.3.4",
        "proxy.lan",
        "nas.local",
        "router.home.arpa",
        "hass",
    ],
)
def test_plain_http_to_local_hosts(host: str) -> None:
    """Plain http:// is fine for this machine and the local network."""
    webhook = Webhook.parse(f"http://{host}:8765/robot/send?access_token={TOKEN}")
    assert webhook.endpoint.startswith("http://")


@pytest.mark.parametrize(
    ("endpoint", "token"),
    [
        ("https://oapi.dingtalk.com/robot/send?access_token=x", TOKEN),
        ("https://oapi.dingtalk.com/robot/send#x", TOKEN),
        ("https://oapi.dingtalk.com/robot/se nd", TOKEN),
        ("oapi.dingtalk.com/robot/send", TOKEN),
        (DEFAULT_ENDPOINT, "tok en"),
        (DEFAULT_ENDPOINT, ""),
    ],
)
def test_constructor_validates(endpoint: str, token: str) -> None:
    """Reject a direct construction with a query, fragment, bad URL or bad token."""
    with pytest.raises(InvalidWebhookError):
        Webhook(endpoint=endpoint, access_token=token)


def test_repr_hides_token() -> None:
    """Show the endpoint and a fingerprint, never the token."""
    webhook = Webhook.parse(TOKEN)
    fingerprint = hashlib.sha256(TOKEN.encode()).hexdigest()[:16]
    assert webhook.token_fingerprint() == fingerprint
    assert repr(webhook) == (
        f"Webhook(endpoint='{DEFAULT_ENDPOINT}', token_fingerprint='{fingerprint}')"
    )
    assert TOKEN not in repr(webhook)
    assert TOKEN not in str(webhook)


def test_fingerprint_differs_per_token() -> None:
    """Give two robots two ids."""
    assert (
        Webhook.parse("a" * 64).token_fingerprint()
        != Webhook.parse("b" * 64).token_fingerprint()
    )


def test_equal_and_hashable() -> None:
    """Compare by value so a config flow can detect duplicates."""
    first = Webhook.parse(TOKEN)
    second = Webhook.parse(f"{DEFAULT_ENDPOINT}?access_token={TOKEN}&timestamp=5")
    assert first == second
    assert len({first, second}) == 1
