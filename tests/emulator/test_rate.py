"""Rate limit (20 per rolling minute), 10-minute throttle, msgUuid de-duplication."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dingtalk_emulator import Emulator, RobotConfig
from dingtalk_emulator.testing import TEST_TOKEN, TEST_TOKENS

from .helpers import send, text

if TYPE_CHECKING:
    from collections.abc import Callable

    from dingtalk_emulator import ManualClock

    type MakeRobot = Callable[..., RobotConfig]

RATE = {"errcode": 410100, "errmsg": "发送速度太快而限流"}


def _burst(emulator: Emulator, count: int, token: str = TEST_TOKEN) -> list[int | None]:
    """Send ``count`` distinct messages and return their errcodes."""
    return [send(emulator, token).record.errcode for _ in range(count)]


def test_twenty_per_minute_then_throttled_for_ten_minutes(
    emulator: Emulator, make_robot: MakeRobot, manual_clock: ManualClock
) -> None:
    """The 21st message throttles the robot: valid requests are refused for 10 min."""
    make_robot()
    assert _burst(emulator, 20) == [0] * 20
    result = send(emulator, TEST_TOKEN)
    assert result.response == RATE
    assert not result.record.delivered
    start = manual_clock.now()
    assert emulator.throttled_until(TEST_TOKEN) == start + 600
    manual_clock.advance(60)  # the minute is over, the throttle is not
    assert send(emulator, TEST_TOKEN).response == RATE
    manual_clock.advance(539.999)
    assert send(emulator, TEST_TOKEN).response == RATE
    assert emulator.throttled_until(TEST_TOKEN) == start + 600  # not extended
    manual_clock.advance(0.001)
    assert emulator.throttled_until(TEST_TOKEN) is None
    assert _burst(emulator, 20) == [0] * 20
    assert send(emulator, TEST_TOKEN).response == RATE
    assert len(emulator.delivered(TEST_TOKEN)) == 40


def test_window_is_rolling(
    emulator: Emulator, make_robot: MakeRobot, manual_clock: ManualClock
) -> None:
    """A delivery counts for 60 s after it happened."""
    make_robot()
    assert _burst(emulator, 10) == [0] * 10
    manual_clock.advance(30)
    assert _burst(emulator, 10) == [0] * 10
    manual_clock.advance(30)  # the first 10 leave the window
    assert _burst(emulator, 10) == [0] * 10
    assert send(emulator, TEST_TOKEN).response == RATE


def test_just_under_a_minute_is_still_the_window(
    emulator: Emulator, make_robot: MakeRobot, manual_clock: ManualClock
) -> None:
    """59.999 s after 20 deliveries, the next one is refused."""
    make_robot()
    _burst(emulator, 20)
    manual_clock.advance(59.999)
    assert send(emulator, TEST_TOKEN).response == RATE


def test_rejected_requests_do_not_count(
    emulator: Emulator, make_robot: MakeRobot
) -> None:
    """Only deliveries count towards the rate: 50 rejects, then 20 deliveries."""
    make_robot()
    for _ in range(50):
        assert send(emulator, TEST_TOKEN, secret="SECwrong").record.errcode == 310000
    assert _burst(emulator, 20) == [0] * 20


def test_robots_are_limited_separately(
    emulator: Emulator, make_robot: MakeRobot
) -> None:
    """One robot's burst does not throttle another."""
    make_robot()
    other = make_robot()
    _burst(emulator, 21)
    assert _burst(emulator, 20, other.access_token) == [0] * 20


@pytest.mark.parametrize(
    ("code", "errmsg"),
    [
        (130101, "send too fast, exceed 20 times per minute"),
        (660026, "sending too many messages per minute"),
    ],
)
def test_rate_code_is_configurable(
    manual_clock: ManualClock, code: int, errmsg: str
) -> None:
    """The rate-limit errcode can be 410100, 130101 or 660026."""
    emulator = Emulator(manual_clock, rate_limit_code=code)
    emulator.add_robot(RobotConfig(access_token=TEST_TOKEN))
    codes = [send(emulator, TEST_TOKEN, secret=None).record.errcode for _ in range(21)]
    assert codes[-1] == code
    assert emulator.requests[-1].errmsg == errmsg


def test_custom_limits(manual_clock: ManualClock) -> None:
    """Limit, window and throttle are parameters (for demos)."""
    emulator = Emulator(manual_clock, rate_limit=2, rate_window=10, throttle_seconds=5)
    emulator.add_robot(RobotConfig(access_token=TEST_TOKEN))
    codes = [send(emulator, TEST_TOKEN, secret=None).record.errcode for _ in range(3)]
    assert codes == [0, 0, 410100]
    manual_clock.advance(5)  # throttle over, but both deliveries are in the window
    assert send(emulator, TEST_TOKEN, secret=None).record.errcode == 410100
    manual_clock.advance(10)
    assert send(emulator, TEST_TOKEN, secret=None).record.ok


# -- msgUuid ------------------------------------------------------------------------


def test_repeated_msg_uuid_is_acknowledged_not_delivered(
    emulator: Emulator, make_robot: MakeRobot
) -> None:
    """The same msgUuid twice: errcode 0 both times, one delivery."""
    make_robot()
    first = send(emulator, TEST_TOKEN, text("a", msgUuid="u-1"))
    again = send(emulator, TEST_TOKEN, text("a", msgUuid="u-1"))
    assert first.response == again.response == {"errcode": 0, "errmsg": "ok"}
    assert first.record.delivered
    assert not first.record.duplicate
    assert again.record.duplicate
    assert not again.record.delivered
    assert again.message is None
    assert again.record.msg_uuid == "u-1"
    assert [m.msg_uuid for m in emulator.delivered()] == ["u-1"]


def test_duplicates_do_not_count_towards_the_rate(
    emulator: Emulator, make_robot: MakeRobot
) -> None:
    """Twenty deliveries and then duplicates: still errcode 0, no throttle."""
    make_robot()
    for index in range(20):
        assert send(emulator, TEST_TOKEN, text(msgUuid=f"u-{index}")).record.ok
    for index in range(20):
        assert send(emulator, TEST_TOKEN, text(msgUuid=f"u-{index}")).record.duplicate
    assert emulator.throttled_until(TEST_TOKEN) is None
    assert send(emulator, TEST_TOKEN, text(msgUuid="new")).response == RATE


def test_duplicate_while_throttled_is_refused(
    emulator: Emulator, make_robot: MakeRobot
) -> None:
    """A throttled robot refuses everything, duplicates included."""
    make_robot()
    send(emulator, TEST_TOKEN, text(msgUuid="u"))
    _burst(emulator, 20)
    assert send(emulator, TEST_TOKEN, text(msgUuid="u")).response == RATE


def test_rejected_message_does_not_reserve_its_uuid(
    emulator: Emulator, make_robot: MakeRobot
) -> None:
    """A refused message can be fixed and resent with the same msgUuid."""
    make_robot(keywords=("alarm",))
    assert send(emulator, TEST_TOKEN, text("x", msgUuid="u")).record.errcode == 310000
    fixed = send(emulator, TEST_TOKEN, text("alarm", msgUuid="u"))
    assert fixed.record.delivered


def test_uuid_retention(
    emulator: Emulator, make_robot: MakeRobot, manual_clock: ManualClock
) -> None:
    """A msgUuid is remembered for 24 h (modelled), then delivered again."""
    make_robot()
    send(emulator, TEST_TOKEN, text(msgUuid="u"))
    manual_clock.advance(86_399)
    assert send(emulator, TEST_TOKEN, text(msgUuid="u")).record.duplicate
    manual_clock.advance(1)
    assert send(emulator, TEST_TOKEN, text(msgUuid="u")).record.delivered
    assert len(emulator.delivered()) == 2


def test_uuids_are_per_robot(emulator: Emulator, make_robot: MakeRobot) -> None:
    """The same msgUuid on two robots is two messages."""
    make_robot()
    make_robot()
    assert send(emulator, TEST_TOKENS[0], text(msgUuid="u")).record.delivered
    assert send(emulator, TEST_TOKENS[1], text(msgUuid="u")).record.delivered


@pytest.mark.parametrize(
    ("uuid", "key"), [(42, "42"), ("", None), (True, None), ([1], None), (None, None)]
)
def test_uuid_values(
    emulator: Emulator, make_robot: MakeRobot, uuid: object, key: str | None
) -> None:
    """Numbers count as msgUuids; empty strings, booleans and lists do not."""
    make_robot()
    send(emulator, TEST_TOKEN, text(msgUuid=uuid))
    second = send(emulator, TEST_TOKEN, text(msgUuid=uuid))
    assert second.record.duplicate is (key is not None)
    assert emulator.delivered()[0].msg_uuid == key


def test_reset_forgets_rate_throttle_and_uuids(
    emulator: Emulator, make_robot: MakeRobot
) -> None:
    """reset() clears history and runtime state; robots and states stay."""
    make_robot()
    send(emulator, TEST_TOKEN, text(msgUuid="u"))
    _burst(emulator, 20)
    emulator.reset()
    assert emulator.requests == []
    assert emulator.delivered() == []
    assert emulator.delivered(TEST_TOKEN) == []
    assert emulator.throttled_until(TEST_TOKEN) is None
    assert send(emulator, TEST_TOKEN, text(msgUuid="u")).record.delivered
    assert emulator.robots[0].access_token == TEST_TOKEN


def test_history_is_capped(manual_clock: ManualClock) -> None:
    """Only the last history_limit requests and messages are kept."""
    emulator = Emulator(manual_clock, history_limit=5, rate_limit=100)
    emulator.add_robot(RobotConfig(access_token=TEST_TOKEN))
    for index in range(8):
        send(emulator, TEST_TOKEN, text(str(index)), secret=None)
    assert [r.seq for r in emulator.requests] == [4, 5, 6, 7, 8]
    assert [m.seq for m in emulator.delivered()] == [4, 5, 6, 7, 8]
    assert len(emulator.delivered(TEST_TOKEN)) == 5
