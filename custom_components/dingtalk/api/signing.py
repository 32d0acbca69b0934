"""Sign webhook requests for robots with the "加签" (sign) security setting."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote_plus


def sign(secret: str, timestamp_ms: int) -> str:
    """Return the sign for ``secret`` at ``timestamp_ms``, URL-encoded exactly once."""
    # UTF-8 throughout; the whole secret, "SEC" prefix included, is the HMAC key.
    # DingTalk refuses a timestamp over an hour from its clock: sign every request.
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))
