"""Receiving messages and Assist: a real Home Assistant against the emulator process.

The app is added and switched to receiving through the config and options flows'
REST API, as the UI does. People write through the endpoint of the emulator's chat
page composer (POST /api/apps/<client id>/chat, the browser's fetch); Stream mode
brings their messages to Home Assistant, whose dingtalk_message_received events are
watched on its WebSocket API. Home Assistant's built-in agent switches the `demo`
integration's kitchen light, and its answers are read from the emulator's record.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import TYPE_CHECKING, Any, Final, Self

import aiohttp
import pytest
import pytest_socket

from devtools.emulator_process import App, EmulatorProcess, Group, User
from devtools.hass_process import CONFIGURATION_YAML, HassProcess
from devtools.process_util import HarnessError, ensure_loopback, tail, wait_for

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

pytestmark = pytest.mark.e2e

APP: Final = App.generate(name="Home")
ALICE: Final = User("alice01", "Alice", "13800000001")
BOB: Final = User("bob02", "Bob", "13800000002")
FAMILY: Final = Group(
    "cidE2EFamily0001==", "Family", (ALICE.user_id, BOB.user_id), (APP.client_id,)
)
EVENT: Final = "dingtalk_message_received"
AGENT: Final = "conversation.home_assistant"
LIGHT: Final = "light.kitchen_lights"
"""The `demo` integration's "Kitchen Lights" (on when it starts), put in the Kitchen."""
KITCHEN: Final = "kitchen"
"""An area onboarding creates: "the kitchen light" is the light of this area."""
STREAM_SENSOR: Final = "Home Stream connection"
MESSAGE_EVENT: Final = "Home Message"
TIMEOUT: Final = 15.0
QUIET: Final = 1.0
"""Seconds in which no answer may arrive to a message Assist must not answer."""


class EventWatch:
    """The dingtalk_message_received events a WebSocket client subscribed to sees."""

    def __init__(self, hass: HassProcess) -> None:
        """Prepare the subscription; entering the context subscribes."""
        ensure_loopback(hass.base_url)
        self._url = hass.websocket_url
        self._token = hass.access_token
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="e2e-events")

    def __enter__(self) -> Self:
        """Subscribe; return once Home Assistant confirmed the subscription."""
        self._thread.start()
        if not self._subscribed.wait(TIMEOUT):
            self._stop.set()
            raise HarnessError("the WebSocket subscription was not confirmed")
        if self._error is not None:
            raise HarnessError(f"cannot subscribe: {self._error!r}")
        return self

    def __exit__(self, *_exc: object) -> None:
        """Close the WebSocket and wait for its thread."""
        self._stop.set()
        self._thread.join(TIMEOUT)

    def _run(self) -> None:
        """Run the WebSocket client (the thread's body)."""
        try:
            asyncio.run(self._watch())
        except Exception as err:  # noqa: BLE001 - reported to the test's thread
            self._error = err
            self._subscribed.set()

    async def _watch(self) -> None:
        """Log in, subscribe, and keep every event until told to stop."""
        async with (
            aiohttp.ClientSession(trust_env=False) as session,
            session.ws_connect(self._url) as socket,
        ):
            await socket.receive_json()  # auth_required
            await socket.send_json({"type": "auth", "access_token": self._token})
            if (await socket.receive_json()).get("type") != "auth_ok":
                raise HarnessError("Home Assistant refused the token")
            await socket.send_json(
                {"id": 1, "type": "subscribe_events", "event_type": EVENT}
            )
            if not (await socket.receive_json()).get("success"):
                raise HarnessError(f"subscribe_events {EVENT} failed")
            self._subscribed.set()
            while not self._stop.is_set():
                try:
                    message = await socket.receive(timeout=0.1)
                except TimeoutError:
                    continue
                if message.type is not aiohttp.WSMsgType.TEXT:
                    raise HarnessError(f"the WebSocket closed ({message.type.name})")
                answer = json.loads(message.data)
                if answer.get("type") == "event":
                    with self._lock:
                        self._events.append(answer["event"]["data"])

    @property
    def events(self) -> list[dict[str, Any]]:
        """Return the events seen so far, oldest first."""
        with self._lock:
            return list(self._events)

    def wait(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Wait for an event ``predicate`` accepts; return its data."""

        def probe() -> dict[str, Any] | None:
            if self._error is not None:
                raise HarnessError(f"the WebSocket failed: {self._error!r}")
            return next((e for e in self.events if predicate(e)), None)

        found = wait_for(probe, timeout=TIMEOUT, interval=0.05)
        assert found is not None, f"no such {EVENT} event; seen: {self.events}"
        return found

    def of(self, chat: dict[str, Any]) -> dict[str, Any]:
        """Wait for the event of a message written on the emulator."""
        return self.wait(lambda event: event.get("message_id") == chat["msg_id"])


class ReceiveStack:
    """The two processes, and the app added to Home Assistant."""

    def __init__(self, hass: HassProcess, emulator: EmulatorProcess) -> None:
        """Remember the processes."""
        self.hass = hass
        self.emulator = emulator
        self.entry_id = ""

    def write(
        self,
        user: User,
        text: str,
        *,
        group: Group | None = None,
        at_robot: bool = False,
    ) -> dict[str, Any]:
        """Write as ``user`` with the chat page's composer; return the message."""
        # The composer's fetch: POST /api/apps/<client id>/chat with this JSON body.
        return self.emulator.chat(
            APP.client_id,
            user.user_id,
            text,
            group=None if group is None else group.open_conversation_id,
            at_robot=at_robot,
        )

    def answers(self, chat: dict[str, Any]) -> list[dict[str, Any]]:
        """Return what the robot posted in a message's conversation after it."""
        return [
            message
            for message in self.emulator.app_messages(
                APP.client_id, str(chat["conversation_id"])
            )
            if int(message["seq"]) > int(chat["seq"])
        ]

    def answer_to(self, chat: dict[str, Any]) -> dict[str, Any]:
        """Wait for the robot's first message in the conversation after ``chat``."""

        def probe() -> dict[str, Any] | None:
            found = self.answers(chat)
            return found[0] if found else None

        answer = wait_for(probe, timeout=TIMEOUT, interval=0.05)
        assert answer is not None, f"no answer to {chat['text']!r}"
        return answer

    def app_state(self, name: str) -> str | None:
        """Return the state of the app's entity ``name`` (its friendly name)."""
        for state in self.hass.states():
            if state["attributes"].get("friendly_name") == name:
                return str(state["state"])
        return None

    def light(self) -> str:
        """Return the kitchen light's state."""
        state = self.hass.state(LIGHT)
        assert state is not None, f"{LIGHT} does not exist"
        return str(state["state"])

    def wait_light(self, expected: str) -> None:
        """Wait until the kitchen light's state is ``expected``."""
        found = wait_for(
            lambda: True if self.light() == expected else None,
            timeout=TIMEOUT,
            interval=0.1,
        )
        assert found, f"{LIGHT} is {self.light()}, not {expected}"


def markdown_of(answer: dict[str, Any]) -> str:
    """Return the text of a markdown answer through a sessionWebhook."""
    assert answer["via"] == "sendBySession", answer
    payload = answer["payload"]
    assert payload["msgtype"] == "markdown", payload
    return str(payload["markdown"]["text"])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReceiveStack]:
    """Start the emulator (the app, Alice, Bob, their group) and Home Assistant."""
    pytest_socket.enable_socket()
    work_dir = tmp_path_factory.mktemp("e2e-receive")
    emulator = EmulatorProcess(
        apps=[APP],
        users=[ALICE, BOB],
        groups=[FAMILY],
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
        yield ReceiveStack(hass, emulator)
    finally:
        try:
            hass.stop()
        finally:
            emulator.stop()


@pytest.fixture(scope="module")
def receiving(stack: ReceiveStack) -> ReceiveStack:
    """Add the app, switch receiving and Assist (Alice only) on; the light off."""
    pytest_socket.enable_socket()
    base = stack.emulator.base_url
    entry = stack.hass.add_entry(
        {
            "name": "Home",
            "client_id": APP.client_id,
            "client_secret": APP.client_secret,
            "advanced": {"api_base": base, "oapi_base": base},
        },
        menu="app",
    )
    stack.entry_id = str(entry["entry_id"])
    # Receiving is off by default: no event entity, no connectivity sensor.
    assert stack.app_state(STREAM_SENSOR) is None
    assert stack.app_state(MESSAGE_EVENT) is None
    form = stack.hass.start_options_flow(stack.entry_id)
    assert form["step_id"] == "app"
    fields = {str(field["name"]) for field in form["data_schema"]}
    assert {"receive_messages", "conversation_agent", "allowed_users"} <= fields
    answer = stack.hass.submit_options_flow(
        str(form["flow_id"]),
        {
            "default_format": "auto",
            "combine": True,
            "unsure_delivery": "resend",
            "receive_messages": True,
            "conversation_agent": AGENT,
            "assist_language": "en",
            "allowed_users": [ALICE.user_id],
        },
    )
    assert answer["type"] == "create_entry", answer
    # The options flow reloads the app; the Stream connection comes up.
    connected = wait_for(
        lambda: True if stack.app_state(STREAM_SENSOR) == "on" else None,
        timeout=TIMEOUT,
    )
    assert connected, "the app did not connect to the Stream gateway"
    stack.hass.set_device_area(LIGHT, KITCHEN)
    stack.hass.call_service("light", "turn_off", {"entity_id": LIGHT})
    stack.wait_light("off")
    return stack


def test_a_message_fires_the_event(receiving: ReceiveStack) -> None:
    """Alice writes 1:1: the event carries her, the text and the message id."""
    with EventWatch(receiving.hass) as events:
        chat = receiving.write(ALICE, "Hello from Alice")
        event = events.of(chat)
    assert chat["pushed"] is True
    assert event == {
        "config_entry_id": receiving.entry_id,
        "message_id": chat["msg_id"],
        "msgtype": "text",
        "text": "Hello from Alice",
        "sender": {"name": "Alice", "user_id": ALICE.user_id},
        "conversation": {
            "id": chat["conversation_id"],
            "type": "single",
            "title": None,
        },
        "mentioned": True,
        "allowed": True,
    }
    [state] = [
        state
        for state in receiving.hass.states()
        if state["attributes"].get("friendly_name") == MESSAGE_EVENT
    ]
    attributes = state["attributes"]
    assert attributes["event_type"] == "text"
    assert attributes["message_id"] == chat["msg_id"]
    assert attributes["sender"] == {"name": "Alice", "user_id": ALICE.user_id}
    # Alice is allowed: Assist answers even what it does not understand.
    assert markdown_of(receiving.answer_to(chat))


def test_alice_turns_on_the_kitchen_light(receiving: ReceiveStack) -> None:
    """Alice asks Assist: the light goes on, and the answer is in her chat."""
    assert receiving.light() == "off"
    chat = receiving.write(ALICE, "turn on the kitchen light")
    receiving.wait_light("on")
    answer = receiving.answer_to(chat)
    text = markdown_of(answer)
    assert answer["user_id"] == ALICE.user_id
    assert answer["at_user_ids"] == []
    assert text.startswith("Turned on"), text


def test_bob_is_not_allowed(receiving: ReceiveStack) -> None:
    """Bob is not allowlisted: the event fires (not allowed); Assist stays silent."""
    assert receiving.light() == "on"
    with EventWatch(receiving.hass) as events:
        chat = receiving.write(BOB, "turn off the kitchen light")
        event = events.of(chat)
    assert event["sender"] == {"name": "Bob", "user_id": BOB.user_id}
    assert event["allowed"] is False
    assert event["text"] == "turn off the kitchen light"
    # Alice's next answer comes after anything Assist might have said to Bob.
    after = receiving.write(ALICE, "turn on the kitchen light")
    receiving.answer_to(after)
    time.sleep(QUIET)
    assert receiving.answers(chat) == []
    assert receiving.light() == "on"


def test_group_needs_an_at_mention(receiving: ReceiveStack) -> None:
    """In a group only @robot reaches Assist; the answer @-mentions Alice."""
    assert receiving.light() == "on"
    with EventWatch(receiving.hass) as events:
        unaddressed = receiving.write(ALICE, "turn off the kitchen light", group=FAMILY)
        addressed = receiving.write(
            ALICE, "turn off the kitchen light", group=FAMILY, at_robot=True
        )
        event = events.of(addressed)
        receiving.wait_light("off")
        answer = receiving.answer_to(addressed)
        seen = events.events
    # DingTalk does not deliver a group message without @robot at all.
    assert unaddressed["pushed"] is False
    assert [e["message_id"] for e in seen] == [addressed["msg_id"]]
    assert event["conversation"] == {
        "id": FAMILY.open_conversation_id,
        "type": "group",
        "title": "Family",
    }
    assert event["mentioned"] is True
    assert event["allowed"] is True
    text = markdown_of(answer)
    assert text.startswith("Turned off"), text
    # Mentioned in DingTalk's at object and in the text, as DingTalk requires.
    assert answer["payload"]["at"]["atUserIds"] == [ALICE.user_id]
    assert answer["at_user_ids"] == [ALICE.user_id]
    assert text.endswith(f"@{ALICE.user_id}"), text
    assert receiving.answers(unaddressed) == [answer]
