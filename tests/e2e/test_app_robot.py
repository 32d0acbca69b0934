"""A DingTalk app against a real Home Assistant: people, groups, cards and snapshots.

The app, a person and a group are added through the config flows' REST API, as the
UI does; messages go through notify.send_message and dingtalk.send_message to the
emulator's app APIs; the camera is the `demo` integration's, whose snapshots are
files shipped with Home Assistant, so the uploaded bytes can be compared with them.
"""

from __future__ import annotations

from pathlib import Path
import time
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components import demo as demo_component
import pytest
import pytest_socket

from devtools.emulator_process import App, EmulatorProcess, Group, User
from devtools.hass_process import (
    CONFIGURATION_YAML,
    HassProcess,
    ServiceCallError,
)
from devtools.process_util import HarnessError, tail, wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e

APP: Final = App.generate(name="Home")
ALICE: Final = User("alice01", "Alice", "13800000001")
BOB: Final = User("bob02", "Bob", "13800000002")
CAROL: Final = User("carol03", "Carol", "13800000003")
GARDEN: Final = Group(
    "cidE2EGarden0001==", "Garden", (ALICE.user_id, BOB.user_id), (APP.client_id,)
)
PERSON_FLOW_LIMIT: Final = 5
PERSON_FLOW_WINDOW: Final = 4.0
CAMERA: Final = "camera.demo_camera"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppStack]:
    """Start the emulator (one app, three people, a group) and Home Assistant."""
    pytest_socket.enable_socket()
    work_dir = tmp_path_factory.mktemp("e2e-app")
    emulator = EmulatorProcess(
        apps=[APP],
        users=[ALICE, BOB, CAROL],
        groups=[GARDEN],
        extra_args=[
            "--person-flow-limit",
            str(PERSON_FLOW_LIMIT),
            "--person-flow-window",
            str(PERSON_FLOW_WINDOW),
        ],
        log_path=work_dir / "emulator.log",
    )
    hass = HassProcess(
        work_dir / "config",
        log_path=work_dir / "home-assistant.log",
        configuration_yaml=CONFIGURATION_YAML + "\ndemo:\n",
    )
    try:
        emulator.start()
        try:
            hass.start_and_onboard()
            emulator.wait_until_up()
        except HarnessError as err:
            pytest.fail(
                f"{err}\n{tail(hass.log_path, 80)}\n"
                f"{tail(work_dir / 'emulator.log', 20)}",
                pytrace=False,
            )
        yield AppStack(hass, emulator)
    finally:
        try:
            hass.stop()
        finally:
            emulator.stop()


class AppStack:
    """The two processes and what the tests added."""

    def __init__(self, hass: HassProcess, emulator: EmulatorProcess) -> None:
        """Remember the processes."""
        self.hass = hass
        self.emulator = emulator
        self.entry_id = ""

    def app_form(self, **changes: object) -> dict[str, object]:
        """Return the app form as a user fills it in (hosts: the emulator)."""
        base = self.emulator.base_url
        return {
            "name": "Home",
            "client_id": APP.client_id,
            "client_secret": APP.client_secret,
            "advanced": {"api_base": base, "oapi_base": base},
        } | changes

    def app_step(self) -> dict[str, Any]:
        """Open Add integration → DingTalk → DingTalk app."""
        menu = self.hass.start_flow()
        assert menu["type"] == "menu"
        assert menu["menu_options"] == ["robot", "app"]
        return self.hass.submit_flow(str(menu["flow_id"]), {"next_step_id": "app"})

    def entity_for(self, name: str) -> str:
        """Wait for the notify entity of recipient ``name``; return its id."""

        def probe() -> str | None:
            for state in self.hass.states():
                if state["entity_id"].startswith("notify.") and (
                    state["attributes"].get("friendly_name") == name
                ):
                    return str(state["entity_id"])
            return None

        entity_id = wait_for(probe, timeout=30.0)
        assert entity_id is not None, f"no notify entity for {name}"
        return entity_id

    def messages(self, conversation: str | None = None) -> list[dict[str, Any]]:
        """Return what the app's robot delivered (to one conversation)."""
        return self.emulator.app_messages(APP.client_id, conversation)

    def chat_of(self, user: User) -> str:
        """Return the conversationId of a person's 1:1 chat with the robot."""
        for conversation in self.emulator.conversations(APP.client_id):
            if conversation.get("user_id") == user.user_id:
                return str(conversation["conversation_id"])
        raise AssertionError(f"no chat with {user.user_id}")

    def wait_messages(self, conversation: str, count: int) -> list[dict[str, Any]]:
        """Wait until ``conversation`` has ``count`` messages; return them."""
        return self.emulator.wait_for_app_messages(
            APP.client_id, count, conversation=conversation, timeout=20.0
        )

    def send(self, entity_id: str, **data: object) -> dict[str, Any]:
        """Call dingtalk.send_message and return its response for the entity."""
        result = self.hass.call_service(
            "dingtalk",
            "send_message",
            {"entity_id": entity_id, **data},
            return_response=True,
        )
        assert isinstance(result.response, dict)
        return dict(result.response[entity_id])


def test_wrong_credentials_are_refused(stack: AppStack) -> None:
    """A wrong Client Secret is a form error; nothing is created."""
    step = stack.app_step()
    answer = stack.hass.submit_flow(
        str(step["flow_id"]), stack.app_form(client_secret="not-the-secret")
    )
    assert answer["type"] == "form"
    assert answer["errors"] == {"base": "invalid_app_credentials"}
    stack.hass.abort_flow(str(step["flow_id"]))
    assert stack.hass.config_entries() == []


def test_app_person_and_group_through_the_flows(stack: AppStack) -> None:
    """The app, Alice (by mobile, confirmed) and the Garden group are added."""
    step = stack.app_step()
    answer = stack.hass.submit_flow(str(step["flow_id"]), stack.app_form())
    assert answer["type"] == "create_entry", answer
    stack.entry_id = str(answer["result"]["entry_id"])
    # The check posted nothing to anyone.
    assert stack.messages() == []

    person = stack.hass.start_subentry_flow(stack.entry_id, "person")
    confirm = stack.hass.submit_subentry_flow(
        str(person["flow_id"]),
        {
            "name": "Alice",
            "mobile": ALICE.mobile,
            "default_target": False,
            "send_test_message": True,
        },
    )
    assert confirm["step_id"] == "confirm"
    assert confirm["description_placeholders"]["user_id"] == ALICE.user_id
    assert confirm["description_placeholders"]["mobile"] == "138****0001"
    done = stack.hass.submit_subentry_flow(str(person["flow_id"]), {})
    assert done["type"] == "create_entry", done

    unknown = stack.hass.start_subentry_flow(stack.entry_id, "person")
    refused = stack.hass.submit_subentry_flow(
        str(unknown["flow_id"]),
        {"name": "Nobody", "mobile": "13900000009", "send_test_message": False},
    )
    assert refused["errors"] == {"mobile": "mobile_not_found"}

    stack.hass.add_subentry(
        stack.entry_id,
        "group",
        {
            "name": "Garden",
            "open_conversation_id": GARDEN.open_conversation_id,
            "default_target": True,
            "send_test_message": True,
        },
    )
    [test_message] = stack.wait_messages(stack.chat_of(ALICE), 1)
    assert "Alice" in test_message["msg_param"]["content"]
    [group_test] = stack.wait_messages(GARDEN.open_conversation_id, 1)
    assert "Garden" in group_test["msg_param"]["content"]


def test_messages_reach_the_right_chats(stack: AppStack) -> None:
    """Text, markdown, a 3-button action card and a snapshot, each where it belongs."""
    alice, garden = stack.entity_for("Alice"), stack.entity_for("Garden")
    stack.hass.call_service(
        "notify",
        "send_message",
        {"entity_id": [alice, garden], "title": "Door", "message": "Opened"},
    )
    assert stack.send(alice, message="Parcel at the door")["status"] == "sent"
    card = stack.send(
        garden,
        msgtype="action_card",
        title="Garage",
        message="The garage door is open.",
        buttons=[
            {"title": "Close", "url": "https://example.invalid/close"},
            {"title": "Camera", "url": "https://example.invalid/cam"},
            {"title": "Ignore", "url": "https://example.invalid/ignore"},
        ],
    )
    assert card == {"status": "sent", "parts": 1}
    assert stack.send(alice, image=CAMERA)["status"] == "sent"

    chat = stack.wait_messages(stack.chat_of(ALICE), 4)
    assert [m["msg_key"] for m in chat] == [
        "sampleText",
        "sampleMarkdown",
        "sampleText",
        "sampleImageMsg",
    ]
    assert chat[2]["msg_param"]["content"] == "Parcel at the door"
    group = stack.wait_messages(GARDEN.open_conversation_id, 3)
    assert [m["msg_key"] for m in group] == [
        "sampleText",
        "sampleMarkdown",
        "sampleActionCard3",
    ]
    params = group[2]["msg_param"]
    assert [params[f"actionTitle{n}"] for n in (1, 2, 3)] == [
        "Close",
        "Camera",
        "Ignore",
    ]
    media_id = chat[3]["msg_param"]["photoURL"]
    uploaded = stack.emulator.media(media_id)
    demo = Path(demo_component.__file__).parent
    snapshots = {(demo / f"demo_{n}.jpg").read_bytes() for n in range(4)}
    assert uploaded in snapshots


def test_recipient_removed_from_dingtalk(stack: AppStack) -> None:
    """A person who left the organisation: the call fails with a readable error."""
    entry_id = stack.entry_id
    stack.hass.add_subentry(
        entry_id,
        "person",
        {"name": "Carol", "user_id": CAROL.user_id, "send_test_message": False},
    )
    carol = stack.entity_for("Carol")
    stack.emulator.remove_user(CAROL.user_id)
    with pytest.raises(ServiceCallError) as failure:
        stack.send(carol, message="Are you there?")
    assert failure.value.status in {400, 500}
    assert "Carol" in failure.value.message
    assert "DingTalk" in failure.value.message


def test_per_person_throttling_is_retried(stack: AppStack) -> None:
    """Over DingTalk's per-person limit a message waits and arrives, in order."""
    stack.hass.add_subentry(
        stack.entry_id,
        "person",
        {"name": "Bob", "user_id": BOB.user_id, "send_test_message": False},
    )
    bob = stack.entity_for("Bob")
    since = max(
        (int(r["seq"]) for r in stack.emulator.app_requests(APP.client_id)), default=0
    )
    sent = [f"Bob #{n}" for n in range(PERSON_FLOW_LIMIT + 1)]
    started = time.monotonic()
    statuses = [stack.send(bob, message=text)["status"] for text in sent]
    chat = stack.chat_of(BOB)
    delivered = stack.wait_messages(chat, len(sent))
    assert [m["msg_param"]["content"] for m in delivered] == sent
    assert statuses[:PERSON_FLOW_LIMIT] == ["sent"] * PERSON_FLOW_LIMIT
    requests = stack.emulator.app_requests(APP.client_id, api="batchSend", since=since)
    # One answer put Bob in flowControlledStaffIdList (HTTP 200, nothing delivered).
    throttled = [r for r in requests if r["http_status"] == 200 and not r["delivered"]]
    assert throttled, requests
    assert len(requests) == len(sent) + len(throttled)
    assert time.monotonic() - started < 60
