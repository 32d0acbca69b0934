"""Sign against fixed and independently computed vectors."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote_plus, unquote

import pytest

from custom_components.dingtalk.api import sign

from .conftest import SECRET


def _reference_sign(secret: str, timestamp_ms: int) -> str:
    """Compute the sign the way DingTalk's documentation spells it out."""
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), message, digestmod=hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


def test_fixed_vector() -> None:
    """Sign "SEC" + 64 zeros at 1 700 000 000 000 ms to the literal computed once."""
    assert (
        sign("SEC" + "0" * 64, 1_700_000_000_000)
        == "%2B8WOOUUcTkFRyfCevQaISh9EUbkxaatnd6MLtL7dAY8%3D"
    )


@pytest.mark.parametrize(
    ("secret", "timestamp_ms"),
    [
        (SECRET, 1_700_000_000_000),
        (SECRET, 1_700_000_000_001),
        ("SEC" + "f" * 64, 0),
        ("SECsecret-with-ünïcode", 1_234_567_890_123),
    ],
)
def test_matches_reference(secret: str, timestamp_ms: int) -> None:
    """Match an independent HMAC-SHA256/base64/quote_plus computation."""
    assert sign(secret, timestamp_ms) == _reference_sign(secret, timestamp_ms)


def test_encoded_exactly_once() -> None:
    """Leave no raw '+', '/' or '=' and no double-encoded '%25' in the sign."""
    signs = [sign(SECRET, 1_700_000_000_000 + offset) for offset in range(200)]
    assert any("%2F" in value for value in signs)
    assert any("%2B" in value for value in signs)
    for value in signs:
        assert not set("+/=") & set(value)
        assert "%25" not in value
        assert len(base64.b64decode(unquote(value), validate=True)) == 32


def test_depends_on_secret_and_timestamp() -> None:
    """Change the sign with either input: it is computed fresh, never cached."""
    base = sign(SECRET, 1_700_000_000_000)
    assert sign(SECRET, 1_700_000_000_000) == base
    assert sign(SECRET, 1_700_000_000_001) != base
    assert sign(SECRET + "0", 1_700_000_000_000) != base
