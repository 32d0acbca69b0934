"""Bench robots, signing and emulators: no Home Assistant imports (child-safe)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import quote_plus

from yarl import URL

from dingtalk_emulator import AppSettings, Emulator, RobotConfig
from dingtalk_emulator.codes import RATE_LIMIT_ERRORS
from dingtalk_emulator.testing import TEST_SECRET, TEST_TOKENS

if TYPE_CHECKING:
    from dingtalk_emulator import RecordedRequest

    from .clock import VirtualTime

LOOPBACK: Final = "127.0.0.1"
SECRET: Final = TEST_SECRET
TOKENS: Final = TEST_TOKENS
UNLIMITED: Final = 10**9
"""An emulator rate limit that never strikes (overhead and CPU runs)."""
JSON_HEADERS: Final = {"Content-Type": "application/json; charset=utf-8"}


class Endpoint(Protocol):
    """Where an emulator listens: in this process or in a child process."""

    @property
    def base_url(self) -> str:
        """Return http://127.0.0.1:PORT."""
        ...

    def webhook_url(self, token: str) -> str:
        """Return the robot's webhook URL, as DingTalk shows it (unsigned)."""
        ...


def robot_title(index: int) -> str:
    """Return the title of bench robot ``index`` (0-based)."""
    return f"Bench {index + 1}"


def sign(secret: str, timestamp_ms: int) -> str:
    """Sign as DingTalk asks: base64 of HMAC-SHA256(secret, ts LF secret), quoted."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def signed_url(endpoint: Endpoint, token: str, secret: str, now: float) -> URL:
    """Return the robot's webhook URL with a timestamp and sign for ``now``."""
    timestamp_ms = round(now * 1000)
    raw = f"{endpoint.webhook_url(token)}&timestamp={timestamp_ms}"
    return URL(f"{raw}&sign={sign(secret, timestamp_ms)}", encoded=True)


def is_throttle_answer(record: RecordedRequest) -> bool:
    """Whether the emulator answered a request with a rate-limit errcode."""
    return record.errcode in RATE_LIMIT_ERRORS


def is_other_rejection(record: RecordedRequest) -> bool:
    """Whether the emulator refused a request for a reason other than the rate."""
    return record.errcode != 0 and not is_throttle_answer(record)


def make_emulator(
    robots: int,
    *,
    clock: VirtualTime | None = None,
    rate_limit: int | None = None,
    signed: bool = True,
    app_settings: AppSettings | None = None,
) -> Emulator:
    """Return an emulator with ``robots`` robots (DingTalk's limits by default).

    ``rate_limit=UNLIMITED`` takes the rate limit away for overhead runs;
    ``signed=False`` makes robots without the sign security setting;
    ``app_settings`` replaces the app side's limits (``bench.app_robots``).
    """
    settings: dict[str, Any] = {"history_limit": 100_000}
    if rate_limit is not None:
        settings["rate_limit"] = rate_limit
    if app_settings is not None:
        settings["app_settings"] = app_settings
    emulator = Emulator(clock.clock if clock is not None else None, **settings)
    for index in range(robots):
        emulator.add_robot(
            RobotConfig(
                access_token=TOKENS[index],
                secret=SECRET if signed else None,
                name=robot_title(index),
            )
        )
    return emulator
