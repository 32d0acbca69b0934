"""Assist: only allowed people control the home; answers go back to their chat."""

from __future__ import annotations

import asyncio
from dataclasses import replace
import logging
from typing import TYPE_CHECKING, Literal, override
from unittest.mock import patch

from homeassistant.components import conversation
from homeassistant.components.conversation.models import AbstractConversationAgent
from homeassistant.components.homeassistant.exposed_entities import (
    async_expose_entity,
)
from homeassistant.const import MATCH_ALL
from homeassistant.helpers import intent
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.dingtalk import assist
from custom_components.dingtalk.assist import conversation_id
from custom_components.dingtalk.const import EVENT_MESSAGE_RECEIVED
from dingtalk_emulator import Via

from .conftest import ALICE, APP_CLIENT_ID, APP_ENTRY_ID, BOB, GARDEN_CID
from .stream_helpers import (
    FAST_GATEWAY,
    fast_stream,  # noqa: F401 - an autouse fixture
    receiver_of,
    setup_receiving,
    state_of,
    until,
    write,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from homeassistant.core import HomeAssistant

    from dingtalk_emulator import AppMessage, Emulator

LIGHT = "input_boolean.kitchen_light"
DEFAULT_AGENT = "conversation.home_assistant"
AGENT_ID = "01RECORDINGAGENT000000000"
"""The recording agent's id: its config entry's id."""


class RecordingAgent(AbstractConversationAgent):
    """A conversation agent that records what it is asked and answers ``answer``."""

    def __init__(self, answer: str = "Done.") -> None:
        """Answer at once unless ``gate`` is set."""
        self.answer = answer
        self.inputs: list[conversation.ConversationInput] = []
        self.gate: asyncio.Event | None = None

    @property
    @override
    def supported_languages(self) -> list[str] | Literal["*"]:
        """Understand every language."""
        return MATCH_ALL

    @override
    async def async_process(
        self, user_input: conversation.ConversationInput
    ) -> conversation.ConversationResult:
        """Record the input; answer (after the gate opens)."""
        self.inputs.append(user_input)
        if self.gate is not None:
            await self.gate.wait()
        response = intent.IntentResponse(language=user_input.language)
        response.async_set_speech(self.answer)
        return conversation.ConversationResult(
            response=response, conversation_id=user_input.conversation_id
        )


@pytest.fixture
async def home(hass: HomeAssistant) -> None:
    """Set up Assist and an exposed kitchen light (an input_boolean), off."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    assert await async_setup_component(
        hass,
        "input_boolean",
        {"input_boolean": {"kitchen_light": {"name": "Kitchen light"}}},
    )
    async_expose_entity(hass, conversation.DOMAIN, LIGHT, should_expose=True)
    await hass.async_block_till_done()
    assert state_of(hass, LIGHT).state == "off"


@pytest.fixture
async def agent(hass: HomeAssistant, home: None) -> AsyncIterator[RecordingAgent]:
    """Register a recording agent (its id is its config entry's id)."""
    del home
    entry = MockConfigEntry(domain="test", entry_id=AGENT_ID)
    entry.add_to_hass(hass)
    recording = RecordingAgent()
    conversation.async_set_agent(hass, entry, recording)
    yield recording
    conversation.async_unset_agent(hass, entry)


def answers(emulator: Emulator) -> list[AppMessage]:
    """Return what the robot sent."""
    return emulator.apps.messages(APP_CLIENT_ID)


def answer_text(message: AppMessage) -> str:
    """Return the markdown text of an answer through the sessionWebhook."""
    assert message.payload is not None
    assert message.payload["msgtype"] == "markdown"
    return str(message.payload["markdown"]["text"])


@pytest.mark.usefixtures("home")
async def test_allowed_person_turns_on_the_light(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """Alice is allowed: Assist turns the light on and answers in her chat."""
    events = async_capture_events(hass, EVENT_MESSAGE_RECEIVED)
    await setup_receiving(hass, app_entry, conversation_agent=DEFAULT_AGENT)
    chat = write(app_emulator, ALICE.user_id, "turn on the kitchen light")
    await until(lambda: answers(app_emulator), within=15)
    assert state_of(hass, LIGHT).state == "on"
    assert events[0].data["allowed"] is True
    [answer] = answers(app_emulator)
    assert (answer.via, answer.conversation_id) == (Via.SESSION, chat.conversation_id)
    assert answer.at_user_ids == ()  # a 1:1 chat: nobody to mention
    assert answer_text(answer)


@pytest.mark.usefixtures("home")
async def test_not_allowed_person_changes_nothing(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """Bob is not allowed: his messages fire the event, and nothing else happens."""
    events = async_capture_events(hass, EVENT_MESSAGE_RECEIVED)
    await setup_receiving(hass, app_entry, conversation_agent=DEFAULT_AGENT)
    write(app_emulator, BOB.user_id, "turn on the kitchen light")
    write(
        app_emulator,
        BOB.user_id,
        "turn on the kitchen light",
        group=GARDEN_CID,
        at_robot=True,
    )
    await until(lambda: len(events) == 2)
    await hass.async_block_till_done()
    await asyncio.sleep(0.2)
    assert [event.data["allowed"] for event in events] == [False, False]
    assert state_of(hass, LIGHT).state == "off"
    assert answers(app_emulator) == []
    bridge = receiver_of(app_entry).assist
    assert bridge is not None
    assert bridge.pending == 0


@pytest.mark.usefixtures("home")
async def test_nobody_is_allowed_by_default(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """With an empty allowlist even Alice changes nothing."""
    events = async_capture_events(hass, EVENT_MESSAGE_RECEIVED)
    await setup_receiving(
        hass, app_entry, conversation_agent=DEFAULT_AGENT, allowed_users=[]
    )
    write(app_emulator, ALICE.user_id, "turn on the kitchen light")
    await until(lambda: events)
    await hass.async_block_till_done()
    await asyncio.sleep(0.2)
    assert events[0].data["allowed"] is False
    assert state_of(hass, LIGHT).state == "off"
    assert answers(app_emulator) == []


@pytest.mark.usefixtures("home")
async def test_allowed_person_in_a_group(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """In a group Alice @-mentions the robot; the answer @-mentions her."""
    await setup_receiving(hass, app_entry, conversation_agent=DEFAULT_AGENT)
    write(
        app_emulator,
        ALICE.user_id,
        "turn on the kitchen light",
        group=GARDEN_CID,
        at_robot=True,
    )
    await until(lambda: answers(app_emulator), within=15)
    assert state_of(hass, LIGHT).state == "on"
    [answer] = answers(app_emulator)
    assert (answer.via, answer.conversation_id) == (Via.SESSION, GARDEN_CID)
    assert answer.at_user_ids == (ALICE.user_id,)
    assert f"@{ALICE.user_id}" in answer_text(answer)


async def test_only_addressed_text_goes_to_assist(
    hass: HomeAssistant,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    agent: RecordingAgent,
) -> None:
    """A group message not @-mentioning the robot, or one without text, is not asked."""
    events = async_capture_events(hass, EVENT_MESSAGE_RECEIVED)
    await setup_receiving(hass, app_entry, conversation_agent=AGENT_ID)
    base = {"senderStaffId": ALICE.user_id, "senderNick": ALICE.name}
    app_emulator.stream.push(
        APP_CLIENT_ID,
        base
        | {
            "conversationId": GARDEN_CID,
            "conversationType": "2",
            "msgtype": "text",
            "text": {"content": "not to the robot"},
            "isInAtList": False,
        },
    )
    app_emulator.stream.push(
        APP_CLIENT_ID,
        base
        | {
            "conversationId": "cidAlice",
            "msgtype": "picture",
            "content": {"downloadCode": "x"},
        },
    )
    app_emulator.stream.push(
        APP_CLIENT_ID, base | {"msgtype": "text", "text": {"content": "no chat"}}
    )
    await until(lambda: len(events) == 3)
    await hass.async_block_till_done()
    assert [event.data["allowed"] for event in events] == [True, True, True]
    assert agent.inputs == []


async def test_file_names_are_not_asked_voice_is(
    hass: HomeAssistant,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    agent: RecordingAgent,
) -> None:
    """A file's name is no question; DingTalk's recognition of a voice message is."""
    events = async_capture_events(hass, EVENT_MESSAGE_RECEIVED)
    await setup_receiving(hass, app_entry, conversation_agent=AGENT_ID)
    base = {
        "senderStaffId": ALICE.user_id,
        "senderNick": ALICE.name,
        "conversationId": "cidAlice",
    }
    app_emulator.stream.push(
        APP_CLIENT_ID,
        base
        | {
            "msgtype": "file",
            "content": {"fileName": "turn off the kitchen light.pdf"},
        },
    )
    app_emulator.stream.push(
        APP_CLIENT_ID,
        base
        | {
            "msgtype": "audio",
            "content": {"recognition": "turn on the kitchen light"},
        },
    )
    await until(lambda: len(events) == 2)
    await until(lambda: answers(app_emulator))
    await hass.async_block_till_done()
    assert [event.data["text"] for event in events] == [
        "turn off the kitchen light.pdf",
        "turn on the kitchen light",
    ]
    assert [user_input.text for user_input in agent.inputs] == [
        "turn on the kitchen light"
    ]


async def test_follow_ups_keep_their_conversation(
    hass: HomeAssistant,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    agent: RecordingAgent,
) -> None:
    """Each DingTalk conversation is one Assist conversation, in the chosen language."""
    await setup_receiving(
        hass,
        app_entry,
        conversation_agent=AGENT_ID,
        assist_language="zh-Hans",
    )
    first = write(app_emulator, ALICE.user_id, "打开厨房的灯")
    write(app_emulator, ALICE.user_id, "再关掉")
    write(app_emulator, ALICE.user_id, "状态?", group=GARDEN_CID, at_robot=True)
    await until(lambda: len(answers(app_emulator)) == 3)
    ids = {user_input.text: user_input.conversation_id for user_input in agent.inputs}
    single = conversation_id(APP_ENTRY_ID, first.conversation_id)
    assert ids == {
        "打开厨房的灯": single,
        "再关掉": single,
        "状态?": conversation_id(APP_ENTRY_ID, GARDEN_CID),
    }
    texts = [user_input.text for user_input in agent.inputs]
    assert texts.index("打开厨房的灯") < texts.index("再关掉")
    assert {user_input.language for user_input in agent.inputs} == {"zh-Hans"}
    assert {user_input.agent_id for user_input in agent.inputs} == {AGENT_ID}
    assert [answer_text(a).split("\n")[0] for a in answers(app_emulator)] == [
        "Done."
    ] * 3


async def test_answers_in_order_and_bounded(
    hass: HomeAssistant,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    agent: RecordingAgent,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One conversation is answered in order; beyond MAX_PENDING nothing is asked."""
    await setup_receiving(hass, app_entry, conversation_agent=AGENT_ID)
    agent.gate = asyncio.Event()
    bridge = receiver_of(app_entry).assist
    assert bridge is not None
    with patch.object(assist, "MAX_PENDING", 2):
        for text in ("one", "two", "three"):
            write(app_emulator, ALICE.user_id, text)
        await until(lambda: "Assist is busy" in caplog.text)
    await until(lambda: len(agent.inputs) == 1)
    assert bridge.pending == 2
    agent.gate.set()
    await until(lambda: len(answers(app_emulator)) == 2 and bridge.pending == 0)
    assert [user_input.text for user_input in agent.inputs] == ["one", "two"]
    assert bridge._locks == {}


async def test_empty_answer_sends_nothing(
    hass: HomeAssistant,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    agent: RecordingAgent,
) -> None:
    """An agent with nothing to say sends nothing."""
    agent.answer = ""
    await setup_receiving(hass, app_entry, conversation_agent=AGENT_ID)
    write(app_emulator, ALICE.user_id, "hmm")
    await until(lambda: agent.inputs)
    await hass.async_block_till_done()
    assert answers(app_emulator) == []


@pytest.mark.usefixtures("home")
async def test_missing_agent_is_logged(
    hass: HomeAssistant,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An agent that no longer exists is logged; nothing is sent."""
    await setup_receiving(hass, app_entry, conversation_agent="conversation.gone")
    write(app_emulator, ALICE.user_id, "turn on the kitchen light")
    await until(lambda: "conversation.gone" in caplog.text)
    assert "is not available" in caplog.text
    assert answers(app_emulator) == []


async def test_assist_not_loaded_is_logged(
    hass: HomeAssistant,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without the conversation integration nothing is asked or sent."""
    await setup_receiving(hass, app_entry, conversation_agent=DEFAULT_AGENT)
    write(app_emulator, ALICE.user_id, "turn on the kitchen light")
    await until(lambda: "Assist is not loaded" in caplog.text)
    assert answers(app_emulator) == []


@pytest.mark.usefixtures("agent")
async def test_answer_not_delivered_is_logged(
    hass: HomeAssistant,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An answer DingTalk refuses is logged (there is nobody to raise it to)."""
    caplog.set_level(logging.WARNING)
    app_emulator.apps.settings = replace(FAST_GATEWAY, session_ttl=30.0)
    await setup_receiving(hass, app_entry, conversation_agent=AGENT_ID)
    app_emulator.apps.set_permissions(APP_CLIENT_ID, frozenset({"qyapi_base"}))
    write(app_emulator, ALICE.user_id, "hello")
    await until(lambda: "was not sent" in caplog.text)
    assert answers(app_emulator) == []
