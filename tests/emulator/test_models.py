"""Value types and small pieces of the emulator's Python API."""

from __future__ import annotations

import math
import time

import pytest

from dingtalk_emulator import (
    Emulator,
    Event,
    EventKind,
    Fault,
    FaultKind,
    ManualClock,
    RobotConfig,
    RobotState,
    SystemClock,
    checks,
)
from dingtalk_emulator.serialize import request_json
from dingtalk_emulator.testing import (
    TEST_SECRET,
    TEST_TOKEN,
    TEST_TOKENS,
    make_test_robot,
)

from .helpers import send


def test_manual_clock() -> None:
    """A manual clock stands still and only moves forward by finite amounts."""
    clock = ManualClock(100.0)
    assert clock.now() == 100.0
    assert clock.advance(0.5) == 100.5
    assert clock.now() == 100.5
    assert repr(clock) == "ManualClock(start=100.5)"
    for bad in (-1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="only moves forward"):
            clock.advance(bad)
    with pytest.raises(ValueError, match="finite"):
        ManualClock(math.nan)
    assert ManualClock().now() == 1_700_000_000.0


def test_system_clock() -> None:
    """The system clock is the wall clock."""
    before = time.time()
    assert before <= SystemClock().now() <= time.time()
    assert repr(SystemClock()) == "SystemClock()"
    assert isinstance(Emulator().clock, SystemClock)


def test_robot_config_repr_hides_secrets() -> None:
    """The repr shows a fingerprint, never the token or the secret."""
    robot = RobotConfig(access_token=TEST_TOKEN, secret=TEST_SECRET, name="Ops")
    text = repr(robot)
    assert TEST_TOKEN not in text
    assert TEST_SECRET not in text
    assert robot.fingerprint in text
    assert "signed=True" in text


@pytest.mark.parametrize(
    ("settings", "error", "match"),
    [
        ({"access_token": ""}, ValueError, "non-empty"),
        ({"access_token": "a b "}, ValueError, "without spaces"),
        ({"secret": ""}, ValueError, "secret must be None"),
        ({"keywords": tuple("abcdefghijk")}, ValueError, "at most 10"),
        ({"keywords": ("",)}, ValueError, "non-empty"),
        ({"keywords": "alarm"}, TypeError, "keywords must be"),
        ({"keywords": (1,)}, TypeError, "keywords must be"),
        ({"keywords": 5}, TypeError, "keywords must be"),
        ({"ip_allowlist": ("10.0.0.0/33",)}, ValueError, "10.0.0.0/33"),
        ({"state": "sleeping"}, ValueError, "sleeping"),
    ],
)
def test_robot_config_validation(
    settings: dict[str, object], error: type[Exception], match: str
) -> None:
    """Invalid robot settings are refused."""
    values: dict[str, object] = {"access_token": TEST_TOKEN, **settings}
    with pytest.raises(error, match=match):
        RobotConfig(**values)  # type: ignore[arg-type]


def test_robot_config_normalises() -> None:
    """Lists become tuples; a state string becomes a RobotState."""
    robot = RobotConfig(
        access_token=TEST_TOKEN,
        keywords=["a"],  # type: ignore[arg-type]
        ip_allowlist=["10.0.0.1"],  # type: ignore[arg-type]
        state="removed",  # type: ignore[arg-type]
    )
    assert robot.keywords == ("a",)
    assert robot.ip_allowlist == ("10.0.0.1",)
    assert robot.state is RobotState.REMOVED


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"access_token": "t", "secret": 1}, "secret must be a string"),
        ({"access_token": "t", "name": 1}, "name and state must be strings"),
        ({"access_token": "t", "state": None}, "name and state must be strings"),
    ],
)
def test_robot_config_from_dict_types(data: dict[str, object], match: str) -> None:
    """from_dict checks JSON types."""
    with pytest.raises(TypeError, match=match):
        RobotConfig.from_dict(data)


def test_fault_validation() -> None:
    """Faults that cannot happen are refused; JSON builds the same fault."""
    with pytest.raises(ValueError, match="5xx"):
        Fault(FaultKind.HTTP_5XX, status=499)
    with pytest.raises(ValueError, match="delay"):
        Fault(FaultKind.DELAY, delay=math.nan)
    with pytest.raises(TypeError, match="count must be an int"):
        Fault(FaultKind.BUSY, count=1.5)  # type: ignore[arg-type]
    fault = Fault.from_dict(
        {"kind": "delay", "count": 3, "delay": 2, "after_delivery": True}
    )
    assert fault == Fault(FaultKind.DELAY, count=3, delay=2.0, after_delivery=True)
    assert Fault("rate", errcode=130101).kind is FaultKind.RATE  # type: ignore[arg-type]


def test_add_robot_twice(emulator: Emulator) -> None:
    """A token can be added only once."""
    make_test_robot(emulator)
    with pytest.raises(ValueError, match="already exists"):
        make_test_robot(emulator, token=TEST_TOKEN)


def test_make_test_robot_hands_out_fixed_tokens(emulator: Emulator) -> None:
    """Test robots get TEST_TOKENS in order, the test secret and a name."""
    first = make_test_robot(emulator)
    second = make_test_robot(emulator, secret=None, name="Plain")
    assert (first.access_token, first.secret) == (TEST_TOKEN, TEST_SECRET)
    assert first.name == "Test robot 1"
    assert (second.access_token, second.secret, second.name) == (
        TEST_TOKENS[1],
        None,
        "Plain",
    )


def test_subscribe(emulator: Emulator) -> None:
    """Listeners hear about changes until they unsubscribe."""
    events: list[Event] = []
    unsubscribe = emulator.subscribe(events.append)
    robot = make_test_robot(emulator)
    result = send(emulator, robot.access_token)
    unsubscribe()
    emulator.reset()
    assert [event.kind for event in events] == [
        EventKind.ROBOTS,
        EventKind.DELIVERED,
        EventKind.REQUEST,
    ]
    assert events[1].message is result.message
    assert events[2].request is result.record


def test_recorded_request_helpers(emulator: Emulator) -> None:
    """A request without a token has no fingerprint and is not ok."""
    record = emulator.handle_send("", body=b"{}").record
    assert record.fingerprint is None
    assert not record.ok
    assert record.token is None
    assert emulator.handle_send("access_token=", body=b"{}").record.token is None


def test_delivered_message_helpers(emulator: Emulator) -> None:
    """A delivered message knows its robot's fingerprint."""
    robot = make_test_robot(emulator)
    message = send(emulator, robot.access_token).message
    assert message is not None
    assert message.fingerprint == robot.fingerprint
    assert message.token == TEST_TOKEN


def test_keyword_scan_skips_odd_shapes() -> None:
    """Bodies that are not objects and fields that are not strings are skipped."""
    assert list(checks.keyword_texts({"msgtype": "text", "text": "alarm"})) == []
    assert list(checks.keyword_texts({"msgtype": "text", "text": {"content": 5}})) == []
    assert list(checks.keyword_texts({"msgtype": "feedCard", "feedCard": {}})) == []
    nested = {"a": {"b": "deep"}, "c": [{"d": "x"}, "y"]}
    assert list(checks._field_values(nested, "a.b")) == ["deep"]
    assert list(checks._field_values(nested, "c[].d")) == ["x"]


def test_request_json_without_token(emulator: Emulator) -> None:
    """A request without access_token serialises without a robot."""
    answer = request_json(emulator.handle_send("x=1", body=b"{}").record)
    assert answer["robot"] is None
    assert answer["query"] == {"x": "1"}
