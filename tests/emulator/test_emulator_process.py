"""devtools.emulator_process against a real emulator process: the app-side methods."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
import urllib.request

import pytest

from devtools.emulator_process import App, EmulatorProcess, Group, User
from devtools.process_util import HTTPStatusError

from .app_helpers import PNG

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from devtools.process_util import Response


def _post(url: str, body: object, headers: dict[str, str] | None = None) -> object:
    """POST JSON to 127.0.0.1 without a proxy; return the JSON answer."""
    from devtools.process_util import http_request  # noqa: PLC0415

    response: Response = http_request(
        "POST", url, json_body=body, headers=headers, check=False
    )
    return json.loads(response.body)


APP = App.generate(name="Butler")


@pytest.fixture
def emulator(
    tmp_path: Path,
    socket_enabled: None,  # noqa: ARG001 - the harness talks to 127.0.0.1
) -> Iterator[EmulatorProcess]:
    """Start an emulator process with an app, two people and a group."""
    users = [User("alice", "Alice", "13800000001"), User("bob", "Bob")]
    group = Group("cidP+/==", "Ops", ("alice", "bob"))
    with EmulatorProcess(
        apps=[APP],
        users=users,
        groups=[group],
        extra_args=["--ack-timeout", "30", "--ping-interval", "0"],
        log_path=tmp_path / "emulator.log",
    ) as process:
        yield process


def test_arguments() -> None:
    """Apps, users and groups become command-line arguments; secrets stay hidden."""
    assert APP.client_secret not in repr(APP)
    assert App("dingA", "s", "robotA").cli_argument() == "dingA:s:robotA"
    assert User("bob", "Bob").cli_argument() == "bob:Bob"
    assert Group("c", "T", ("a",), ("dingA",)).cli_argument() == "c:T:a:dingA"


def test_chat_messages_and_media(emulator: EmulatorProcess) -> None:
    """Chat, sessionWebhook answers, conversations, app messages, uploads, the log."""
    app = APP
    [info] = emulator.app_info()
    assert (info["client_id"], info["name"]) == (app.client_id, "")
    other = App.generate(name="Other")
    assert emulator.add_app(other)["name"] == "Other"
    emulator.add_user(User("carol", "Carol", "13800000003"), admin=True)
    emulator.add_group(Group("cidQ", "Q", ("carol",), (other.client_id,)))
    chat = emulator.chat(app.client_id, "alice", "hello")
    webhook = chat["callback"]["sessionWebhook"]
    assert _post(webhook, {"msgtype": "text", "text": {"content": "hi"}}) == {
        "errcode": 0,
        "errmsg": "ok",
    }
    emulator.chat(app.client_id, "bob", "quiet", group="cidP+/==")
    assert len(emulator.chats(app.client_id, conversation="cidP+/==")) == 1
    conversations = emulator.conversations(app.client_id)
    assert [c["conversation_type"] for c in conversations] == ["1", "1", "1", "2"]
    [reply] = emulator.wait_for_app_messages(app.client_id, 1)
    assert reply["via"] == "sendBySession"
    one_to_one = conversations[0]["conversation_id"]
    assert len(emulator.app_messages(app.client_id, one_to_one)) == 1
    with pytest.raises(Exception, match="0 app message"):
        emulator.wait_for_app_messages(other.client_id, 1, timeout=0.2)
    token = _post(
        f"{emulator.base_url}/v1.0/oauth2/accessToken",
        {"appKey": app.client_id, "appSecret": app.client_secret},
    )
    assert isinstance(token, dict)
    access_token = str(token["accessToken"])
    request = urllib.request.Request(  # noqa: S310 - 127.0.0.1
        f"{emulator.base_url}/media/upload?access_token={access_token}&type=image",
        data=b'--b\r\nContent-Disposition: form-data; name="media"; '
        b'filename="a.png"\r\n\r\n' + PNG + b"\r\n--b--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as answer:
        media_id = json.loads(answer.read())["media_id"]
    assert emulator.media(media_id) == PNG
    apis = [r["api"] for r in emulator.app_requests(app.client_id)]
    assert apis == ["sendBySession", "token", "media"]
    assert emulator.app_requests(api="media", since=0)[0]["api"] == "media"


def test_settings_faults_and_stream(emulator: EmulatorProcess) -> None:
    """Publication, permissions, tokens, faults, Stream state."""
    app = APP
    emulator.chat(app.client_id, "alice", "hello")
    emulator.set_published(app.client_id, published=False)
    emulator.set_permissions(app.client_id, ["qyapi_base"])
    emulator.expire_tokens(app.client_id)
    emulator.inject_app_fault(app.client_id, "busy", count=2)
    emulator.clear_app_faults(app.client_id)
    emulator.inject_stream_fault(app.client_id, "refuse_open", count=1)
    assert emulator.app_info()[0]["stream_faults"][0]["kind"] == "refuse_open"
    emulator.clear_stream_faults(app.client_id)
    stats = emulator.stream_stats(app.client_id)
    assert stats["stats"]["frames_pushed"] == 0
    assert stats["connections"] == []
    assert [p["state"] for p in emulator.stream_pushes(app.client_id)] == ["pending"]
    [info] = emulator.app_info()
    assert (info["published"], info["permissions"]) == (False, ["qyapi_base"])
    with pytest.raises(HTTPStatusError):
        emulator.chat("dingnobody", "alice", "x")
