"""The app side and the Stream gateway through their Python API, without HTTP."""

from __future__ import annotations

from typing import Any, cast

import pytest

from dingtalk_emulator import (
    AppConfig,
    AppFault,
    AppFaultKind,
    AppRobots,
    AppSettings,
    Emulator,
    Group,
    ManualClock,
    Person,
    StreamFault,
    StreamFaultKind,
    app_render,
    rules,
)
from dingtalk_emulator.apps import Media
from dingtalk_emulator.stream_models import Ticket
from dingtalk_emulator.testing import TEST_APP_KEY, make_test_app


def test_wrong_types_are_refused() -> None:
    """Values of the wrong type are refused even without from_dict."""
    with pytest.raises(TypeError, match="client_id must be a string"):
        AppConfig(client_id=cast("Any", 1), client_secret="s")
    not_an_int: Any = True
    with pytest.raises(TypeError, match="count must be an int"):
        AppFault(AppFaultKind.BUSY, count=not_an_int)


def test_chat_without_a_stream_gateway() -> None:
    """An AppRobots on its own records the chat; nothing is pushed."""
    apps = AppRobots(ManualClock(), AppSettings(), lambda _event: None, 10)
    apps.add_app(AppConfig(client_id="dingA", client_secret="s"))
    apps.add_person(Person(user_id="u1", name="U"))
    chat = apps.chat("dingA", "u1", "hello")
    assert chat.callback is not None
    assert chat.message_id is None
    assert chat.callback["sessionWebhook"].startswith(
        "http://127.0.0.1/robot/sendBySession"
    )


def test_person_leaving_leaves_only_their_groups() -> None:
    """Someone leaving the organisation leaves their groups; other groups are kept."""
    apps = AppRobots(ManualClock(), AppSettings(), lambda _event: None, 10)
    for user_id in ("u1", "u2"):
        apps.add_person(Person(user_id=user_id, name=user_id.upper()))
    apps.add_group(
        Group(open_conversation_id="cidBoth", title="B", members=("u1", "u2"))
    )
    apps.add_group(Group(open_conversation_id="cidOther", title="O", members=("u2",)))
    assert apps.remove_person("u1").name == "U1"
    assert [group.members for group in apps.groups] == [("u2",), ("u2",)]
    with pytest.raises(KeyError):
        apps.person("u1")


def test_media_store_drops_the_oldest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MEDIA_STORE_BYTES the oldest uploads are forgotten (never the newest)."""
    monkeypatch.setattr(rules, "MEDIA_STORE_BYTES", 10)
    emulator = Emulator()
    apps = emulator.apps
    for index in range(3):
        apps.store_media(
            Media(
                media_id=f"@lA{index}",
                client_id="dingA",
                media_type="file",
                file_format=None,
                filename="f",
                content_type="application/octet-stream",
                created_at=0.0,
                data=b"123456",
            )
        )
    assert [apps.has_media(f"@lA{i}") for i in range(3)] == [False, False, True]


def test_sessions_and_pushes_are_bounded() -> None:
    """Sessions and callbacks keep the last history_limit entries."""
    emulator = Emulator(ManualClock(), history_limit=1)
    make_test_app(emulator)
    first = emulator.apps.chat(TEST_APP_KEY, "alice", "one")
    emulator.apps.chat(TEST_APP_KEY, "alice", "two")
    session = str((first.callback or {})["sessionWebhook"]).rpartition("=")[2]
    assert emulator.apps.session(session) is None
    assert [p.data["text"]["content"] for p in emulator.stream.pushes()] == ["two"]


def test_disconnect_without_a_server() -> None:
    """Without a server (no event loop) a disconnect closes the connection at once."""
    emulator = Emulator(ManualClock())
    make_test_app(emulator)
    hub = emulator.stream
    sent: list[str] = []
    closed: list[str] = []
    ticket = Ticket("t", TEST_APP_KEY, (("CALLBACK", rules.ROBOT_TOPIC),), "", "", 0.0)
    connection = hub.connect(
        ticket, sent.append, lambda: closed.append("close"), lambda: None
    )
    hub.inject_fault(TEST_APP_KEY, StreamFault(StreamFaultKind.DISCONNECT))
    assert closed == ["close"]
    assert '"topic":"disconnect"' in sent[0]
    hub.ping(connection)  # no timer without a loop: one ping only
    assert hub.stats(TEST_APP_KEY).pings_sent == 1
    hub.closed(connection)
    hub.ping(connection)  # closed: nothing sent
    assert len(sent) == 2
    hub.detach()


def test_render_rows_and_sections() -> None:
    """A dropped call renders as "dropped"; an app without groups has no group box."""
    emulator = Emulator(ManualClock())
    make_test_app(emulator, group=False)
    record = emulator.apps.record_request(
        api="batchSend",
        client_id=TEST_APP_KEY,
        path="/v1.0/robot/oToMessages/batchSend",
        query={},
        headers={},
        body="{}",
        remote=None,
        http_status=None,
        code=None,
        message="fault: connection dropped",
        fault=AppFaultKind.DROP,
        delivered=1,
    )
    row = app_render.render_app_request_row(record)
    assert row.startswith('<tr class="err"')
    assert "<td>dropped</td>" in row
    assert "delivered:1 fault:drop" in row
    sections = app_render.render_app_sections(emulator)
    assert "<h2>Groups</h2>" not in sections
