"""The demo's journey against a real Home Assistant: add robots, send every kind."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest

from devtools.emulator_process import Robot
from devtools.hass_process import HttpBinding
from devtools.process_util import LOOPBACK

from . import releases

if TYPE_CHECKING:
    from pathlib import Path

    from .conftest import E2E, RobotHandle
    from .releases import HaRelease

pytestmark = pytest.mark.e2e

MOBILE = "13800000000"
# A log record starts with its time and level; tracebacks continue it.
RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\S* (?P<level>[A-Z]+) ")
# Logged for every custom integration, on every start.
UNTESTED_CUSTOM = "We found a custom integration dingtalk which has not been tested"


# The whole module runs once per release in releases.ALL (2026.10.4 from .venv,
# 2026.11.0 from .cache/venv-ha-2026.11), each in a Home Assistant process of its own.
@pytest.fixture(
    scope="module",
    params=releases.ALL,
    ids=[release.test_id for release in releases.ALL],
)
def ha_release(request: pytest.FixtureRequest) -> HaRelease:
    """Run this module against every release (overrides conftest's fixture)."""
    release: HaRelease = request.param
    return release


def reports_about_dingtalk(log_path: Path) -> list[str]:
    """Return the warnings and errors (tracebacks included) that mention dingtalk."""
    records: list[tuple[str, list[str]]] = []
    for line in log_path.read_text("utf-8", "replace").splitlines():
        if start := RECORD_START.match(line):
            records.append((start["level"], [line]))
        elif records:
            records[-1][1].append(line)
    found = []
    for level, lines in records:
        text = "\n".join(lines)
        if (
            level in {"WARNING", "ERROR", "CRITICAL"}
            and "dingtalk" in text.lower()
            and UNTESTED_CUSTOM not in text
        ):
            found.append(text)
    return found


def payload_text(message: dict[str, Any]) -> str:
    """Return the delivered payload as one string, for substring checks."""
    return json.dumps(message["payload"], ensure_ascii=False)


@pytest.fixture
def office(e2e: E2E) -> RobotHandle:
    """Return the signed robot "Office", added through the config flow once."""
    return e2e.shared_robot("Office")


def test_runs_on_the_release(e2e: E2E, ha_release: HaRelease) -> None:
    """The process is the release under test, and it offers the integration."""
    assert e2e.hass.get("/api/config")["version"] == ha_release.version
    assert "dingtalk" in e2e.hass.flow_handlers()
    # 2026.11's Marketplace would fetch from GitHub: the harness keeps it disabled.
    marketplace = [
        (entry["disabled_by"], entry["state"])
        for entry in e2e.hass.config_entries("marketplace")
    ]
    expected = [("user", "not_loaded")] if e2e.hass.install.has_marketplace else []
    assert marketplace == expected


def test_http_config_confirmed_no_revert_scheduled(e2e: E2E) -> None:
    """The harness confirmed its http: block: no revert to every interface pending."""
    state = e2e.hass.http_config()
    assert state is not None, "2026.10 and later have http/config"
    assert state["revert_at"] is None
    assert state["pending"] is None
    assert state["active_config_type"] == "stable"
    assert HttpBinding.of(state["stable"]) == HttpBinding((LOOPBACK,), e2e.hass.port)


def test_wrong_secret_shows_error_then_corrected_secret_adds_robot(e2e: E2E) -> None:
    """A wrong secret keeps the form open with the secret error; the right one saves."""
    robot = e2e.new_robot("Lobby")
    wrong = Robot.generate(signed=True).secret
    menu = e2e.hass.start_flow()
    assert menu["type"] == "menu"
    assert menu["menu_options"] == ["robot", "app"]
    step = e2e.hass.submit_flow(menu["flow_id"], {"next_step_id": "robot"})
    assert step["type"] == "form"
    assert step["step_id"] == "robot"
    assert [field["name"] for field in step["data_schema"]] == [
        "name",
        "webhook",
        "secret",
        "keywords",
        "send_test_message",
    ]
    flow_id = step["flow_id"]

    answer = e2e.hass.submit_flow(
        flow_id, e2e.flow_data("Lobby", robot, secret=wrong, send_test_message=True)
    )

    assert answer["type"] == "form"
    assert answer["errors"] == {"secret": "invalid_signature"}
    assert not [e for e in e2e.hass.config_entries() if e["title"] == "Lobby"]
    rejected = e2e.emulator.requests(robot.token)
    assert len(rejected) == 1
    assert rejected[0]["signature_verified"] is False
    assert rejected[0]["delivered"] is False
    assert e2e.emulator.messages(robot.token) == []

    before = e2e.notify_entities()
    answer = e2e.hass.submit_flow(
        flow_id, e2e.flow_data("Lobby", robot, send_test_message=True)
    )

    assert answer["type"] == "create_entry"
    assert answer["title"] == "Lobby"
    assert answer["result"]["state"] == "loaded"
    assert [e["title"] for e in e2e.hass.config_entries()].count("Lobby") == 1
    e2e.wait_new_entity(before)
    (test_message,) = e2e.emulator.messages(robot.token)
    assert "Home Assistant is now connected" in payload_text(test_message)
    assert e2e.emulator.requests(robot.token)[-1]["signature_verified"] is True


def test_legacy_notify_with_title_and_mention(e2e: E2E, office: RobotHandle) -> None:
    """notify.dingtalk with a title and at_mobiles delivers a ringing markdown."""
    before = len(e2e.emulator.messages(office.token))
    seen = {r["seq"] for r in e2e.emulator.requests(office.token)}

    e2e.hass.call_service(
        "notify",
        "dingtalk",
        {
            "title": "Front door",
            "message": "The front door was opened.",
            "data": {"at_mobiles": [MOBILE]},
        },
    )

    message = e2e.emulator.wait_for_messages(office.token, before + 1)[-1]
    assert message["msgtype"] == "markdown"
    markdown = message["payload"]["markdown"]
    assert markdown["title"] == "Front door"
    assert "The front door was opened." in markdown["text"]
    assert f"@{MOBILE}" in markdown["text"]
    assert message["payload"]["at"]["atMobiles"] == [MOBILE]
    assert message["rang"] == [MOBILE]
    (request,) = [
        r for r in e2e.emulator.requests(office.token) if r["seq"] not in seen
    ]
    assert request["signature_verified"] is True
    assert request["errcode"] == 0


def test_notify_entity_send_message(e2e: E2E, office: RobotHandle) -> None:
    """notify.send_message on the robot's entity delivers a markdown with the title."""
    before = len(e2e.emulator.messages(office.token))

    e2e.hass.call_service(
        "notify",
        "send_message",
        {"entity_id": office.entity_id, "title": "Washer", "message": "**Done**"},
    )

    message = e2e.emulator.wait_for_messages(office.token, before + 1)[-1]
    assert message["msgtype"] == "markdown"
    assert message["payload"]["markdown"]["title"] == "Washer"
    assert "**Done**" in message["payload"]["markdown"]["text"]
    state = e2e.hass.state(office.entity_id)
    assert state is not None
    assert state["state"] not in {"unknown", "unavailable"}


def test_action_card_with_response(e2e: E2E, office: RobotHandle) -> None:
    """dingtalk.send_message sends an action card and reports the delivery."""
    before = len(e2e.emulator.messages(office.token))

    result = e2e.hass.call_service(
        "dingtalk",
        "send_message",
        {
            "entity_id": office.entity_id,
            "msgtype": "action_card",
            "title": "Garage",
            "message": "The garage door is open.",
            "buttons": [
                {"title": "Close", "url": "http://127.0.0.1/close"},
                {"title": "Ignore", "url": "http://127.0.0.1/ignore"},
            ],
            "orientation": "horizontal",
        },
        return_response=True,
    )

    assert result.response == {office.entity_id: {"status": "sent", "parts": 1}}
    message = e2e.emulator.wait_for_messages(office.token, before + 1)[-1]
    assert message["msgtype"] == "actionCard"
    card = message["payload"]["actionCard"]
    assert card["title"] == "Garage"
    assert [button["title"] for button in card["btns"]] == ["Close", "Ignore"]
    assert card["btnOrientation"] == "1"
    assert all(r["signature_verified"] for r in e2e.emulator.requests(office.token))


def test_keyword_robot(e2e: E2E) -> None:
    """A keyword robot needs its keyword in the flow; messages get it added."""
    robot = e2e.new_robot("Alarm", keywords=["告警"])
    menu = e2e.hass.start_flow()
    step = e2e.hass.submit_flow(menu["flow_id"], {"next_step_id": "robot"})
    answer = e2e.hass.submit_flow(
        step["flow_id"],
        e2e.flow_data("Alarm", robot, keywords=[], send_test_message=True),
    )
    assert answer["type"] == "form"
    assert answer["errors"] == {"keywords": "keyword_required"}
    before = e2e.notify_entities()
    answer = e2e.hass.submit_flow(step["flow_id"], e2e.flow_data("Alarm", robot))
    assert answer["type"] == "create_entry"
    entity_id = e2e.wait_new_entity(before)

    e2e.hass.call_service(
        "notify",
        "send_message",
        {"entity_id": entity_id, "message": "Smoke detected in the kitchen"},
    )

    (message,) = e2e.emulator.wait_for_messages(robot.token, 1)
    assert message["msgtype"] == "text"
    content = message["payload"]["text"]["content"]
    assert content.startswith("Smoke detected in the kitchen")
    assert content.rstrip().endswith("告警")
    last = e2e.emulator.requests(robot.token)[-1]
    assert last["errcode"] == 0
    assert last["delivered"] is True


def test_no_warning_about_the_integration(e2e: E2E) -> None:
    """Home Assistant logged no warning, deprecation or error about dingtalk."""
    assert reports_about_dingtalk(e2e.hass.log_path) == []
