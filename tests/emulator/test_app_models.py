"""Value types of the app side: validation, JSON forms, repr, test helpers."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import pytest

from dingtalk_emulator import (
    AppConfig,
    AppFault,
    AppFaultKind,
    AppRequest,
    AppSettings,
    Emulator,
    Group,
    Person,
    StreamFault,
    StreamFaultKind,
)
from dingtalk_emulator.app_checks import extension, mask_body, sniff
from dingtalk_emulator.testing import (
    TEST_APP_KEYS,
    TEST_APP_SECRET,
    TEST_GROUP_ID,
    make_test_app,
)


def test_app_config() -> None:
    """robot_code defaults to client_id; the repr never shows the secret."""
    app = AppConfig(client_id="dingA", client_secret=TEST_APP_SECRET)
    assert app.robot_code == "dingA"
    assert TEST_APP_SECRET not in repr(app)
    assert "permissions=['qyapi_base'" in repr(app)
    for client_id, robot_code in (("", ""), (" a", ""), ("a", " r")):
        with pytest.raises(ValueError, match="without spaces"):
            AppConfig(client_id=client_id, client_secret="s", robot_code=robot_code)
    with pytest.raises(TypeError, match="client_id must be str"):
        AppConfig.from_dict({"client_id": 1, "client_secret": "s"})


def test_person_and_group() -> None:
    """People and groups validate their ids and lists."""
    assert Person(user_id="u").nick == "u"
    assert Person(user_id="u", name="U").nick == "U"
    with pytest.raises(ValueError, match="user_id"):
        Person(user_id="")
    with pytest.raises(TypeError, match="members must be a sequence"):
        Group(open_conversation_id="cid", members=cast("Any", "alice"))
    with pytest.raises(TypeError, match="robots must be a sequence"):
        Group(open_conversation_id="cid", robots=cast("Any", [1]))
    with pytest.raises(ValueError, match="unknown group fields: x"):
        Group.from_dict({"open_conversation_id": "cid", "x": 1})


def test_faults() -> None:
    """Impossible faults are refused."""
    with pytest.raises(ValueError, match="5xx"):
        AppFault(AppFaultKind.BUSY, status=404)
    with pytest.raises(ValueError, match="only applies to DELAY and DROP"):
        AppFault(AppFaultKind.QPS, after_delivery=True)
    assert AppFault.from_dict({"kind": "drop", "after_delivery": True}).after_delivery
    with pytest.raises(ValueError, match="HTTP error status"):
        StreamFault(StreamFaultKind.REFUSE_OPEN, status=302)
    with pytest.raises(ValueError, match="count must be at least 1"):
        StreamFault(StreamFaultKind.IGNORE_ACKS, count=0)
    fault = StreamFault.from_dict({"kind": "close", "connection": "conn-1", "delay": 2})
    assert (fault.connection, fault.delay) == ("conn-1", 2.0)
    with pytest.raises(TypeError, match="delay must be a number"):
        StreamFault.from_dict({"kind": "delay_push", "delay": True})


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"token_ttl": 0}, "token_ttl must be > 0"),
        ({"ack_timeout": -1}, "ack_timeout must be a finite"),
        ({"ping_interval": 0}, "ping_interval must be > 0 or None"),
        ({"qps_limit": 0}, "qps_limit must be at least 1 or None"),
        ({"max_redeliveries": -1}, "max_redeliveries must be >= 0"),
    ],
)
def test_settings(changes: dict[str, Any], error: str) -> None:
    """Settings that cannot work are refused."""
    with pytest.raises(ValueError, match=error):
        dataclasses.replace(AppSettings(), **changes)


def test_app_request_ok() -> None:
    """A call is ok with HTTP 200, no error code and no failing fault."""
    base = AppRequest(
        seq=1,
        at=0.0,
        api="token",
        client_id=None,
        path="/",
        query={},
        headers={},
        body="",
        remote=None,
        http_status=200,
        code=None,
        message="ok",
    )
    assert base.ok
    assert dataclasses.replace(base, fault=AppFaultKind.DELAY).ok
    assert not dataclasses.replace(base, fault=AppFaultKind.BUSY).ok
    assert not dataclasses.replace(base, code="40014").ok


def test_checks() -> None:
    """Signatures, extensions and masking."""
    assert sniff(b"") is None
    assert extension("A.JPG") == "jpg"
    assert extension("archive") == ""
    assert mask_body(b"\xff not json") == "\ufffd not json"
    assert (
        mask_body(b'{"clientSecret": "s", "a": 1}') == '{"clientSecret": "***", "a": 1}'
    )


def test_make_test_app() -> None:
    """Apps get the next key; people are added once; the robots join the group."""
    emulator = Emulator()
    first = make_test_app(emulator)
    second = make_test_app(emulator, name="Second")
    alone = make_test_app(emulator, group=False)
    assert [first.client_id, second.client_id, alone.client_id] == list(
        TEST_APP_KEYS[:3]
    )
    assert [p.user_id for p in emulator.apps.people] == ["alice", "bob", "carol"]
    assert emulator.apps.group(TEST_GROUP_ID).robots == TEST_APP_KEYS[:2]
    assert (first.name, second.name) == ("Test app 1", "Second")
    with pytest.raises(ValueError, match="already exists"):
        make_test_app(emulator, client_id=first.client_id)
    with pytest.raises(KeyError, match="no group cidX"):
        emulator.apps.group("cidX")
    with pytest.raises(KeyError, match="no user zed"):
        emulator.apps.person("zed")
    with pytest.raises(ValueError, match="already exists"):
        emulator.apps.add_group(emulator.apps.group(TEST_GROUP_ID))
