"""The command line's app options: --app, --user, --group, --apps-file, knobs."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING

import pytest

from dingtalk_emulator import Emulator, EmulatorServer, RobotConfig, cli
from dingtalk_emulator.testing import TEST_APP_KEY, TEST_APP_SECRET, TEST_TOKEN

if TYPE_CHECKING:
    from pathlib import Path


def test_parse_app_user_group() -> None:
    """CLIENT_ID:SECRET[:ROBOT_CODE], USER_ID:NAME[:MOBILE], CID:TITLE:users[:apps]."""
    app = cli.parse_app(f"{TEST_APP_KEY}:{TEST_APP_SECRET}")
    assert (app.client_id, app.client_secret, app.robot_code) == (
        TEST_APP_KEY,
        TEST_APP_SECRET,
        TEST_APP_KEY,
    )
    assert cli.parse_app("dingA:s:robotA").robot_code == "robotA"
    user = cli.parse_user("alice:Alice:13800000001")
    assert (user.user_id, user.name, user.mobile) == ("alice", "Alice", "13800000001")
    assert cli.parse_user("bob:Bob").mobile == ""
    group = cli.parse_group("cid1==:Ops:alice,bob", ["dingA", "dingB"])
    assert (group.title, group.members, group.robots) == (
        "Ops",
        ("alice", "bob"),
        ("dingA", "dingB"),
    )
    assert cli.parse_group("cid2:T:alice:dingB,", ["dingA"]).robots == ("dingB",)
    with pytest.raises(ValueError, match="expected CID:TITLE:user1,user2"):
        cli.parse_group("cid3:T", [])


def test_apps_file(tmp_path: Path) -> None:
    """An apps file has apps, users and groups (each optional)."""
    path = tmp_path / "apps.json"
    path.write_text(
        json.dumps(
            {
                "apps": [
                    {"client_id": "dingF", "client_secret": "s", "published": False}
                ],
                "users": [{"user_id": "zoe", "name": "Zoe"}],
                "groups": [
                    {
                        "open_conversation_id": "cidF",
                        "title": "F",
                        "members": ["zoe"],
                        "robots": ["dingF"],
                    }
                ],
            }
        )
    )
    apps, users, groups = cli.load_apps_file(path)
    assert (apps[0].published, users[0].name, groups[0].robots) == (
        False,
        "Zoe",
        ("dingF",),
    )
    path.write_text("[]")
    with pytest.raises(TypeError, match="expected"):
        cli.load_apps_file(path)
    path.write_text('{"apps": {}}')
    with pytest.raises(TypeError, match="lists of objects"):
        cli.load_apps_file(path)


def test_build_emulator_with_apps(tmp_path: Path) -> None:
    """Apps, people and groups from options and a file; the knobs reach the settings."""
    path = tmp_path / "apps.json"
    path.write_text(json.dumps({"users": [{"user_id": "zoe"}]}))
    args = cli.build_parser().parse_args(
        [
            "--app",
            f"{TEST_APP_KEY}:{TEST_APP_SECRET}",
            "--user",
            "alice:Alice:13800000001",
            "--apps-file",
            str(path),
            "--group",
            "cidG:Ops:alice,zoe",
            "--app-qps",
            "0",
            "--ack-timeout",
            "5",
            "--ping-interval",
            "0",
            "--seed",
            "3",
            "--person-flow-limit",
            "2",
            "--person-flow-window",
            "5",
        ]
    )
    emulator = cli.build_emulator(args)
    apps = emulator.apps
    assert [a.client_id for a in apps.apps] == [TEST_APP_KEY]
    assert [p.user_id for p in apps.people] == ["alice", "zoe"]
    assert apps.group("cidG").robots == (TEST_APP_KEY,)
    settings = apps.settings
    assert (settings.qps_limit, settings.ack_timeout, settings.ping_interval) == (
        None,
        5.0,
        None,
    )
    assert settings.seed == 3
    assert (settings.flow_limit, settings.flow_window) == (2, 5.0)
    defaults = cli.build_emulator(cli.build_parser().parse_args([])).apps.settings
    assert (defaults.qps_limit, defaults.ping_interval) == (20, 60.0)
    assert (defaults.flow_limit, defaults.flow_window) == (20, 60.0)


@pytest.mark.parametrize(
    "argv",
    [
        ["--app", "dingA"],  # no secret
        ["--user", ":Nobody"],
        ["--group", "cid:T:ghost"],
        ["--app", "a:s", "--app", "a:s"],
        ["--apps-file", "/nonexistent/apps.json"],
    ],
)
def test_bad_app_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Bad app arguments exit with status 2 and a message."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_banner_lists_apps_without_secrets() -> None:
    """The banner names each app, the API base and the Stream endpoint."""
    args = cli.build_parser().parse_args(
        [
            "--app",
            f"{TEST_APP_KEY}:{TEST_APP_SECRET}:robotX",
            "--user",
            "alice:Alice",
            "--group",
            "cidG:Ops:alice",
        ]
    )
    emulator = cli.build_emulator(args)
    emulator.apps.set_published(TEST_APP_KEY, published=False)
    out = io.StringIO()
    server = EmulatorServer(emulator, "127.0.0.1", 8765)
    cli.print_banner(server, emulator, urls_only=False, out=out)
    text = out.getvalue()
    assert TEST_APP_SECRET not in text
    assert (
        f"app {TEST_APP_KEY} (client id {TEST_APP_KEY}, robotCode robotX, unpublished)"
        in text
    )
    assert "Stream: http://127.0.0.1:8765/v1.0/gateway/connections/open" in text
    assert "1 user(s), 1 group(s)" in text


def test_print_url_is_unchanged_with_apps() -> None:
    """--print-url prints the base URL and webhook URLs only, apps or not."""
    emulator = Emulator()
    emulator.add_robot(RobotConfig(access_token=TEST_TOKEN))
    args = cli.build_parser().parse_args(["--app", f"{TEST_APP_KEY}:{TEST_APP_SECRET}"])
    for app in cli.build_emulator(args).apps.apps:
        emulator.apps.add_app(app)
    out = io.StringIO()
    server = EmulatorServer(emulator, "127.0.0.1", 8765)
    cli.print_banner(server, emulator, urls_only=True, out=out)
    assert out.getvalue() == (
        "http://127.0.0.1:8765\n"
        f"http://127.0.0.1:8765/robot/send?access_token={TEST_TOKEN}\n"
    )
