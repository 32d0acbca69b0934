"""Signature details: URL-encoding exactly once, and the one-hour window edges."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

import pytest

from dingtalk_emulator.testing import TEST_SECRET, TEST_TOKEN

from .helpers import raw_sign, send, sign

if TYPE_CHECKING:
    from collections.abc import Callable

    from dingtalk_emulator import Emulator, ManualClock, RobotConfig

    type MakeRobot = Callable[..., RobotConfig]

NOW_MS = 1_700_000_000_000


def _timestamp_whose_sign_has(char: str) -> int:
    """Find a timestamp near NOW_MS whose base64 signature contains ``char``."""
    return next(
        ts for ts in range(NOW_MS, NOW_MS + 1000) if char in raw_sign(TEST_SECRET, ts)
    )


def _query(timestamp: int | str, encoded_sign: str) -> str:
    """Return a query with the given timestamp and (already encoded) sign."""
    return f"access_token={TEST_TOKEN}&timestamp={timestamp}&sign={encoded_sign}"


@pytest.mark.parametrize("encode", [quote_plus, lambda s: quote(s, safe="")])
def test_encoded_once_is_accepted(
    emulator: Emulator,
    make_robot: MakeRobot,
    encode: Callable[[str], str],
) -> None:
    """quote_plus (Python samples) and quote(safe="") (apprise) both work."""
    make_robot()
    timestamp = _timestamp_whose_sign_has("+")
    query = _query(timestamp, encode(raw_sign(TEST_SECRET, timestamp)))
    result = send(emulator, TEST_TOKEN, query=query)
    assert result.record.ok
    assert result.record.signature_verified is True


def test_raw_plus_is_rejected(emulator: Emulator, make_robot: MakeRobot) -> None:
    """A sign that was not URL-encoded: its "+" decodes to a space, so no match."""
    make_robot()
    timestamp = _timestamp_whose_sign_has("+")
    query = _query(timestamp, raw_sign(TEST_SECRET, timestamp))
    result = send(emulator, TEST_TOKEN, query=query)
    assert result.record.errcode == 310000
    assert "签名不匹配" in result.record.errmsg
    assert result.record.signature_verified is False


def test_double_encoded_is_rejected(emulator: Emulator, make_robot: MakeRobot) -> None:
    """A sign encoded twice (%252B) is decoded only once, so it does not match."""
    make_robot()
    timestamp = _timestamp_whose_sign_has("/")
    query = _query(timestamp, quote_plus(sign(TEST_SECRET, timestamp)))
    assert "%25" in query
    result = send(emulator, TEST_TOKEN, query=query)
    assert result.record.errcode == 310000
    assert "签名不匹配" in result.record.errmsg


@pytest.mark.parametrize(
    ("offset_ms", "ok"),
    [
        (0, True),
        (-3_600_000, True),
        (3_600_000, True),
        (-3_600_001, False),
        (3_600_001, False),
        (-86_400_000, False),
    ],
)
def test_one_hour_window(
    emulator: Emulator, make_robot: MakeRobot, offset_ms: int, ok: bool
) -> None:
    """A timestamp exactly 1 h off is fine; 1 ms more is "signature expired"."""
    make_robot()
    timestamp = NOW_MS + offset_ms
    result = send(
        emulator, TEST_TOKEN, query=_query(timestamp, sign(TEST_SECRET, timestamp))
    )
    if ok:
        assert result.record.ok
    else:
        assert result.record.errcode == 310000
        assert result.record.errmsg.startswith("description:机器人发送签名过期")
        assert result.record.signature_verified is False


def test_window_follows_the_clock(
    emulator: Emulator, make_robot: MakeRobot, manual_clock: ManualClock
) -> None:
    """A signed URL stays valid for an hour of emulator time, then expires."""
    make_robot()
    query = _query(NOW_MS, sign(TEST_SECRET, NOW_MS))
    manual_clock.advance(3600)
    assert send(emulator, TEST_TOKEN, query=query).record.ok
    manual_clock.advance(0.001)
    assert "签名过期" in send(emulator, TEST_TOKEN, query=query).record.errmsg


@pytest.mark.parametrize("timestamp", ["abc", "1.7e12", "-1700000000000", "１７"])
def test_timestamp_not_milliseconds(
    emulator: Emulator, make_robot: MakeRobot, timestamp: str
) -> None:
    """A timestamp that is not a whole number of milliseconds is expired/invalid."""
    make_robot()
    query = _query(quote_plus(timestamp), sign(TEST_SECRET, timestamp))
    result = send(emulator, TEST_TOKEN, query=query)
    assert "签名过期" in result.record.errmsg


def test_expired_but_also_wrong(emulator: Emulator, make_robot: MakeRobot) -> None:
    """The timestamp is checked before the sign itself (modelling choice)."""
    make_robot()
    result = send(emulator, TEST_TOKEN, query=_query(NOW_MS - 7_200_000, "bad"))
    assert "签名过期" in result.record.errmsg


def test_first_value_of_a_repeated_parameter_wins(
    emulator: Emulator, make_robot: MakeRobot
) -> None:
    """Stale timestamp/sign pairs appended after fresh ones are ignored."""
    make_robot()
    fresh = _query(NOW_MS, sign(TEST_SECRET, NOW_MS))
    query = f"{fresh}&timestamp=1&sign=x"
    assert send(emulator, TEST_TOKEN, query=query).record.ok
