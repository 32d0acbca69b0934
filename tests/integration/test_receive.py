"""Receiving messages over Stream mode: events, entities, connection, groups heard."""

from __future__ import annotations

from dataclasses import replace
import json
import logging
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.dingtalk import receive
from custom_components.dingtalk.api import ConversationType, RobotMessage
from custom_components.dingtalk.const import (
    CONF_CONVERSATION_ID,
    CONF_DEFAULT_TARGET,
    CONF_SEND_TEST_MESSAGE,
    DOMAIN,
    EVENT_MESSAGE_RECEIVED,
)
from custom_components.dingtalk.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.dingtalk.receive_models import (
    SESSION_FALLBACK_TTL,
    SESSION_MARGIN,
    ConversationBook,
    Received,
)
from custom_components.dingtalk.seen_groups import (
    MAX_SEEN_GROUPS,
    SeenGroups,
    storage_key,
)
from dingtalk_emulator import Group, StreamFault, StreamFaultKind

from .conftest import (
    ALICE,
    APP_CLIENT_ID,
    APP_CLIENT_SECRET,
    APP_ENTRY_ID,
    APP_NAME,
    BOB,
    GARDEN_CID,
)
from .stream_helpers import (
    ENTITY_MESSAGE,
    ENTITY_STREAM,
    fast_stream,  # noqa: F401 - an autouse fixture
    receiver_of,
    setup_app,
    setup_receiving,
    state_of,
    until,
    write,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from dingtalk_emulator import Emulator

KITCHEN_CID = "cidKitchenGroup0002"


@pytest.fixture
def kitchen(app_emulator: Emulator) -> str:
    """Add the Kitchen group (Alice, Bob and the Home app's robot)."""
    app_emulator.apps.add_group(
        Group(
            open_conversation_id=KITCHEN_CID,
            title="Kitchen",
            members=(ALICE.user_id, BOB.user_id),
            robots=(APP_CLIENT_ID,),
        )
    )
    return KITCHEN_CID


def push(emulator: Emulator, **payload: Any) -> str:  # noqa: ANN401 - JSON values
    """Push a robot message of any shape to the Home app's connections."""
    message_id = emulator.stream.push(APP_CLIENT_ID, payload)
    assert message_id is not None
    return message_id


# -- events and entities ---------------------------------------------------------------


async def test_message_fires_event_and_entity(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """A 1:1 message fires the bus event and the event entity, without its webhook."""
    events = async_capture_events(hass, EVENT_MESSAGE_RECEIVED)
    await setup_receiving(hass, app_entry)
    assert state_of(hass, ENTITY_STREAM).state == "on"
    chat = write(app_emulator, ALICE.user_id, "is the garage closed?")
    await until(lambda: events)
    [event] = events
    assert event.data == {
        "config_entry_id": APP_ENTRY_ID,
        "message_id": chat.msg_id,
        "msgtype": "text",
        "text": "is the garage closed?",
        "sender": {"name": ALICE.name, "user_id": ALICE.user_id},
        "conversation": {"id": chat.conversation_id, "type": "single", "title": None},
        "mentioned": True,
        "allowed": True,
    }
    state = hass.states.get(ENTITY_MESSAGE)
    assert state is not None
    assert state.attributes["event_type"] == "text"
    assert state.attributes["text"] == "is the garage closed?"
    assert "config_entry_id" not in state.attributes
    assert state.attributes["event_types"] == [
        "text",
        "rich_text",
        "picture",
        "audio",
        "video",
        "file",
        "other",
    ]
    assert chat.callback is not None
    session = chat.callback["sessionWebhook"]
    assert session not in json.dumps(event.data)
    assert session not in json.dumps(dict(state.attributes))


async def test_group_messages(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """In a group only @-mentions arrive; Bob is not on the allowlist."""
    events = async_capture_events(hass, EVENT_MESSAGE_RECEIVED)
    await setup_receiving(hass, app_entry)
    write(app_emulator, BOB.user_id, "not for the robot", group=GARDEN_CID)
    chat = write(app_emulator, BOB.user_id, "lights?", group=GARDEN_CID, at_robot=True)
    await until(lambda: events)
    [event] = events
    assert event.data["message_id"] == chat.msg_id
    assert event.data["text"] == "lights?"
    assert event.data["conversation"] == {
        "id": GARDEN_CID,
        "type": "group",
        "title": "Garden",
    }
    assert event.data["mentioned"] is True
    assert event.data["allowed"] is False


@pytest.mark.parametrize(
    ("payload", "kind", "text"),
    [
        (
            {"msgtype": "picture", "content": {"downloadCode": "dc1"}},
            "picture",
            "",
        ),
        (
            {
                "msgtype": "richText",
                "content": {"richText": [{"text": "see "}, {"downloadCode": "d"}]},
            },
            "rich_text",
            "see",
        ),
        (
            {"msgtype": "audio", "content": {"recognition": "open the door"}},
            "audio",
            "open the door",
        ),
        ({"msgtype": "video", "content": {"downloadCode": "v"}}, "video", ""),
        ({"msgtype": "file", "content": {"fileName": "a.pdf"}}, "file", "a.pdf"),
        ({"msgtype": "unknownMsgType"}, "other", ""),
    ],
)
async def test_message_kinds(  # noqa: PLR0913, PLR0917 - fixtures and parameters
    hass: HomeAssistant,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    payload: dict[str, Any],
    kind: str,
    text: str,
) -> None:
    """Each kind of message is an event type; an external sender has no user id."""
    events = async_capture_events(hass, EVENT_MESSAGE_RECEIVED)
    await setup_receiving(hass, app_entry)
    message_id = push(
        app_emulator,
        conversationId="cidExternal",
        senderNick="Eve",
        **payload,
    )
    await until(lambda: events)
    data = events[0].data
    assert data["message_id"] == message_id  # no msgId: the frame's messageId
    assert data["msgtype"] == kind
    assert data["text"] == text
    assert data["sender"] == {"name": "Eve", "user_id": None}
    assert data["conversation"]["type"] == "single"
    assert data["allowed"] is False
    assert state_of(hass, ENTITY_MESSAGE).attributes["event_type"] == kind


async def test_not_receiving_creates_nothing(
    hass: HomeAssistant,
    loaded_app: MockConfigEntry,
    loaded_entry: MockConfigEntry,
    app_emulator: Emulator,
) -> None:
    """Without the option an app has no receiver and no Stream entities; robots none."""
    runtime = loaded_app.runtime_data
    assert getattr(runtime, "receiver", "missing") is None
    assert hass.states.get(ENTITY_MESSAGE) is None
    assert hass.states.get(ENTITY_STREAM) is None
    assert hass.states.async_entity_ids(["event", "binary_sensor"]) == []
    assert app_emulator.stream.stats(APP_CLIENT_ID).tickets_issued == 0
    assert loaded_entry.state is ConfigEntryState.LOADED


async def test_switching_receiving_off_removes_entities(
    hass: HomeAssistant,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Turning receiving off removes the app's event, sensor and device."""
    await setup_receiving(hass, app_entry)
    assert entity_registry.async_get(ENTITY_MESSAGE) is not None
    assert entity_registry.async_get(ENTITY_STREAM) is not None
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, APP_ENTRY_ID), APP_ENTRY_ID
    )
    assert device is not None
    assert device.name == APP_NAME
    assert device.entry_type is dr.DeviceEntryType.SERVICE
    hass.config_entries.async_update_entry(app_entry, options={})
    await hass.config_entries.async_reload(app_entry.entry_id)
    await hass.async_block_till_done()
    assert entity_registry.async_get(ENTITY_MESSAGE) is None
    assert entity_registry.async_get(ENTITY_STREAM) is None
    assert (
        device_registry.async_get_device_by_identifier(
            (DOMAIN, APP_ENTRY_ID), APP_ENTRY_ID
        )
        is None
    )
    await until(lambda: not app_emulator.stream.connections(APP_CLIENT_ID))
    # Nothing to remove the next time.
    await hass.config_entries.async_reload(app_entry.entry_id)
    await hass.async_block_till_done()
    assert app_entry.state is ConfigEntryState.LOADED


async def test_unload_closes_the_connection(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """Unloading the app cancels the Stream client and closes its socket."""
    await setup_receiving(hass, app_entry)
    assert len(app_emulator.stream.connections(APP_CLIENT_ID)) == 1
    assert await hass.config_entries.async_unload(app_entry.entry_id)
    await hass.async_block_till_done()
    await until(lambda: not app_emulator.stream.connections(APP_CLIENT_ID))
    assert state_of(hass, ENTITY_STREAM).state == STATE_UNAVAILABLE


async def test_unload_is_not_a_lost_connection(
    hass: HomeAssistant,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Reloading (an options change, a restart) logs no lost-connection warning."""
    caplog.set_level(logging.INFO, logger="custom_components.dingtalk")
    await setup_receiving(hass, app_entry)
    await hass.config_entries.async_reload(app_entry.entry_id)
    await hass.async_block_till_done()
    await until(lambda: receiver_of(app_entry).connected)
    assert await hass.config_entries.async_unload(app_entry.entry_id)
    await hass.async_block_till_done()
    await until(lambda: not app_emulator.stream.connections(APP_CLIENT_ID))
    assert "lost its Stream connection" not in caplog.text
    assert caplog.text.count("is receiving messages") == 2


# -- the connection --------------------------------------------------------------------


async def test_lost_connection_logged_once_each_way(
    hass: HomeAssistant,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A lost socket turns the sensor off and back on; each change is logged once."""
    caplog.set_level(logging.INFO, logger="custom_components.dingtalk")
    await setup_receiving(hass, app_entry)
    receiver = receiver_of(app_entry)
    states: list[str] = []
    hass.bus.async_listen(
        "state_changed",
        lambda event: (
            states.append(event.data["new_state"].state)
            if event.data["entity_id"] == ENTITY_STREAM
            else None
        ),
    )
    app_emulator.stream.inject_fault(
        APP_CLIENT_ID, StreamFault(StreamFaultKind.REFUSE_OPEN, count=3)
    )
    app_emulator.stream.inject_fault(APP_CLIENT_ID, StreamFault(StreamFaultKind.CLOSE))
    await until(lambda: "off" in states and receiver.connected)
    await hass.async_block_till_done()
    assert states == ["off", "on"]
    assert caplog.text.count("lost its Stream connection") == 1
    assert caplog.text.count("is receiving messages") == 2
    assert app_emulator.stream.stats(APP_CLIENT_ID).opens_refused == 3


async def test_repair_issue_while_not_connected(
    hass: HomeAssistant,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """No connection for ISSUE_AFTER raises a repair issue; connecting clears it."""
    issue_id = f"stream_unavailable_{APP_ENTRY_ID}"
    app_emulator.stream.inject_fault(
        APP_CLIENT_ID, StreamFault(StreamFaultKind.REFUSE_OPEN, count=10_000)
    )
    with patch.object(receive, "ISSUE_AFTER", 0.2):
        await setup_app(hass, app_entry, receive_messages=True)
        await until(lambda: issue_registry.async_get_issue(DOMAIN, issue_id))
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "stream_unavailable"
    assert issue.translation_placeholders == {"robot": APP_NAME, "reason": "BusyError"}
    assert issue.severity is ir.IssueSeverity.ERROR
    assert state_of(hass, ENTITY_STREAM).state == "off"
    app_emulator.stream.clear_faults(APP_CLIENT_ID)
    await until(lambda: receiver_of(app_entry).connected)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert state_of(hass, ENTITY_STREAM).state == "on"


async def test_unload_stops_waiting_for_the_issue(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """An app unloaded while connecting leaves no timer behind."""
    app_emulator.stream.inject_fault(
        APP_CLIENT_ID, StreamFault(StreamFaultKind.REFUSE_OPEN, count=10_000)
    )
    await setup_app(hass, app_entry, receive_messages=True)
    receiver = receiver_of(app_entry)
    assert not receiver.connected
    armed = receiver._issue_timer  # a name of its own: mypy narrows it, not the field
    assert armed is not None
    assert await hass.config_entries.async_unload(app_entry.entry_id)
    await hass.async_block_till_done()
    assert receiver._issue_timer is None
    assert app_entry.state is ConfigEntryState.NOT_LOADED


async def test_rejected_credentials_start_reauth(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """Stream mode refusing the Client Secret starts reauthentication."""
    await setup_receiving(hass, app_entry)
    apps = app_emulator.apps
    app = apps._apps[APP_CLIENT_ID]
    app.config = replace(app.config, client_secret="changed-in-the-console")
    app_emulator.stream.inject_fault(APP_CLIENT_ID, StreamFault(StreamFaultKind.CLOSE))
    await until(lambda: hass.config_entries.flow.async_progress_by_handler(DOMAIN))
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["source"] == SOURCE_REAUTH
    assert receiver_of(app_entry).state == "auth_failed"
    assert state_of(hass, ENTITY_STREAM).state == "off"
    assert app_emulator.stream.stats(APP_CLIENT_ID).auth_failures == 1
    assert app.config.client_secret != APP_CLIENT_SECRET


# -- diagnostics -----------------------------------------------------------------------


async def test_diagnostics_stream_statistics(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """Diagnostics show the connection counters, never ids or the sessionWebhook."""
    events = async_capture_events(hass, EVENT_MESSAGE_RECEIVED)
    await setup_receiving(hass, app_entry, conversation_agent="conversation.x")
    chat = write(app_emulator, BOB.user_id, "hello", group=GARDEN_CID, at_robot=True)
    await until(lambda: events)
    diagnostics = await async_get_config_entry_diagnostics(hass, app_entry)
    stream = diagnostics["stream"]
    assert stream["stats"]["state"] == "connected"
    assert stream["stats"]["delivered"] == 1
    assert stream["stats"]["connected_for"] >= 0
    assert "connected_since" not in stream["stats"]
    assert stream["assist"] is True
    assert stream["allowed_users"] == 1
    assert stream["remembered_messages"] == 1
    assert stream["remembered_conversations"] == 1
    assert stream["seen_groups"] == 1
    assert "random" in stream["note"]
    text = json.dumps(diagnostics)
    assert chat.callback is not None
    assert chat.callback["sessionWebhook"] not in text
    assert ALICE.user_id not in text
    assert APP_CLIENT_SECRET not in text
    assert diagnostics["entry"]["options"]["allowed_users"] == "**REDACTED**"


async def test_diagnostics_while_not_connected(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """Not connected: no connection time."""
    app_emulator.stream.inject_fault(
        APP_CLIENT_ID, StreamFault(StreamFaultKind.REFUSE_OPEN, count=10_000)
    )
    await setup_app(hass, app_entry, receive_messages=True)
    diagnostics = await async_get_config_entry_diagnostics(hass, app_entry)
    assert diagnostics["stream"]["stats"]["connected_for"] is None
    assert diagnostics["stream"]["assist"] is False


async def test_diagnostics_without_receiving(
    hass: HomeAssistant, loaded_app: MockConfigEntry
) -> None:
    """An app that does not receive has no Stream part."""
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded_app)
    assert "stream" not in diagnostics
    assert "recipients" in diagnostics


# -- groups heard from -----------------------------------------------------------------


async def test_groups_heard_from_are_offered(
    hass: HomeAssistant,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    kitchen: str,
) -> None:
    """A group that @-mentioned the robot is offered; its title names it."""
    events = async_capture_events(hass, EVENT_MESSAGE_RECEIVED)
    await setup_receiving(hass, app_entry)
    write(app_emulator, ALICE.user_id, "hi", group=kitchen, at_robot=True)
    write(app_emulator, ALICE.user_id, "hi", group=GARDEN_CID, at_robot=True)
    write(app_emulator, ALICE.user_id, "hi", group=kitchen, at_robot=True)
    await until(lambda: len(events) == 3)
    assert receiver_of(app_entry).seen_groups.groups() == [
        (kitchen, "Kitchen"),
        (GARDEN_CID, "Garden"),
    ]
    result = await hass.config_entries.subentries.async_init(
        (app_entry.entry_id, "group"), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    schema = result["data_schema"]
    assert schema is not None
    selector = schema.schema[CONF_CONVERSATION_ID]
    config = selector.config
    # Garden is a recipient already: only the Kitchen is offered.
    assert config["options"] == [{"value": kitchen, "label": f"Kitchen ({kitchen})"}]
    assert config["custom_value"] is True
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            CONF_CONVERSATION_ID: kitchen,
            CONF_DEFAULT_TARGET: True,
            CONF_SEND_TEST_MESSAGE: False,
        },
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Kitchen"
    assert result["data"] == {CONF_CONVERSATION_ID: kitchen, CONF_DEFAULT_TARGET: True}
    assert await hass.config_entries.async_unload(app_entry.entry_id)
    stored = hass_storage[storage_key(APP_ENTRY_ID)]["data"]
    assert stored == {
        "groups": [
            {"id": GARDEN_CID, "title": "Garden"},
            {"id": kitchen, "title": "Kitchen"},
        ]
    }


async def test_group_entered_by_hand_among_heard_ones(
    hass: HomeAssistant,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """A group can still be entered by id; without a name one is required."""
    hass_storage[storage_key(APP_ENTRY_ID)] = {
        "version": 1,
        "key": storage_key(APP_ENTRY_ID),
        "data": {"groups": [{"id": "cidHeard", "title": "Heard"}]},
    }
    await setup_app(hass, app_entry)  # not receiving: read from the store
    result = await hass.config_entries.subentries.async_init(
        (app_entry.entry_id, "group"), context={"source": SOURCE_USER}
    )
    flow_id = result["flow_id"]
    form = {CONF_DEFAULT_TARGET: False, CONF_SEND_TEST_MESSAGE: False}
    result = await hass.config_entries.subentries.async_configure(
        flow_id, form | {CONF_CONVERSATION_ID: "cidTypedByHand"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"name": "name_required"}
    result = await hass.config_entries.subentries.async_configure(
        flow_id, form | {CONF_CONVERSATION_ID: "cidTypedByHand", "name": "Typed"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_CONVERSATION_ID] == "cidTypedByHand"
    assert app_emulator.apps.messages() == []


async def test_stored_groups_read_defensively(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Damaged entries of the store are left out; at most MAX_SEEN_GROUPS are kept."""
    groups: list[object] = [
        "not a group",
        {"id": 5},
        {"id": "cidNoTitle", "title": None},
        *({"id": f"cid{n}", "title": f"G{n}"} for n in range(MAX_SEEN_GROUPS + 1)),
    ]
    hass_storage[storage_key("x")] = {
        "version": 1,
        "key": storage_key("x"),
        "data": {"groups": groups},
    }
    seen = SeenGroups(hass, "x")
    await seen.async_load()
    assert len(seen) == MAX_SEEN_GROUPS
    assert seen.groups()[0] == (f"cid{MAX_SEEN_GROUPS}", f"G{MAX_SEEN_GROUPS}")
    assert ("cidNoTitle", "") not in seen.groups()  # the oldest went first
    hass_storage[storage_key("y")] = {
        "version": 1,
        "key": storage_key("y"),
        "data": {"groups": "no list"},
    }
    other = SeenGroups(hass, "y")
    await other.async_load()
    assert other.groups() == []
    await other.async_flush()  # nothing changed: nothing written
    assert hass_storage[storage_key("y")]["data"] == {"groups": "no list"}


async def test_seen_groups_bounded(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Hearing from a new group beyond the bound forgets the oldest."""
    seen = SeenGroups(hass, "z")
    for number in range(MAX_SEEN_GROUPS + 2):
        seen.note(f"cid{number}", f"G{number}")
    seen.note(f"cid{MAX_SEEN_GROUPS + 1}", f"G{MAX_SEEN_GROUPS + 1}")  # no change
    assert len(seen) == MAX_SEEN_GROUPS
    assert ("cid0", "G0") not in seen.groups()
    await seen.async_flush()
    assert len(hass_storage[storage_key("z")]["data"]["groups"]) == MAX_SEEN_GROUPS


async def test_removed_app_forgets_its_groups(
    hass: HomeAssistant,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Deleting the app deletes the groups it heard from."""
    events = async_capture_events(hass, EVENT_MESSAGE_RECEIVED)
    await setup_receiving(hass, app_entry)
    write(app_emulator, ALICE.user_id, "hi", group=GARDEN_CID, at_robot=True)
    await until(lambda: events)
    assert await hass.config_entries.async_unload(app_entry.entry_id)
    assert storage_key(APP_ENTRY_ID) in hass_storage
    await hass.config_entries.async_remove(app_entry.entry_id)
    await hass.async_block_till_done()
    assert storage_key(APP_ENTRY_ID) not in hass_storage


# -- what is kept of a message ---------------------------------------------------------


def robot_message(**payload: Any) -> RobotMessage:  # noqa: ANN401 - JSON values
    """Return a parsed robot message."""
    return RobotMessage.from_payload("frame-id", payload)


def test_received_without_expiry_or_ids() -> None:
    """No expiry: the webhook is trusted a while; no staffId: not allowed."""
    message = robot_message(
        conversationId="cid1",
        conversationType=ConversationType.GROUP.value,
        sessionWebhook="https://oapi.dingtalk.com/robot/sendBySession?session=s",
        senderStaffId="",
    )
    received = Received.from_message(message, allowed=frozenset({""}), now=1000.0)
    assert received.message_id == "frame-id"
    assert received.allowed is False
    assert received.in_group
    assert received.session_expires_at == 1000.0 + SESSION_FALLBACK_TTL
    assert received.session_valid(1000.0)
    assert not received.session_valid(1000.0 + SESSION_FALLBACK_TTL - SESSION_MARGIN)
    assert "sendBySession" not in repr(received)


def test_conversation_book_bounds_and_sessions() -> None:
    """The book keeps the newest messages and conversations; sessions can be dropped."""
    book = ConversationBook(max_messages=2, max_conversations=2)

    def received(msg_id: str, cid: str, *, expires: int) -> Received:
        """Return a message of conversation ``cid`` valid until ``expires`` (s)."""
        message = robot_message(
            msgId=msg_id,
            conversationId=cid,
            sessionWebhook=f"https://oapi.dingtalk.com/s?session={msg_id}",
            sessionWebhookExpiredTime=expires * 1000,
        )
        return Received.from_message(message, allowed=frozenset(), now=0.0)

    old = received("m1", "a", expires=100)
    new = received("m2", "a", expires=1000)
    book.remember(old)
    book.remember(new)
    assert book.session_for(old, 10.0) is old
    assert book.session_for(old, 500.0) is new  # the newer message's webhook
    assert book.session_for(new, 2000.0) is None
    book.remember(received("m3", "b", expires=1000))
    book.remember(received("m4", "c", expires=1000))
    book.remember(Received.from_message(robot_message(), allowed=frozenset(), now=0))
    assert len(book) == 2
    assert book.message("m1") is None
    assert book.conversations == 2
    assert book.latest("a") is None
    assert book.latest("c") is not None
    book.forget_session("https://oapi.dingtalk.com/s?session=m4")
    latest = book.latest("c")
    assert latest is not None
    assert latest.session_webhook == ""
    message = book.message("m4")
    assert message is not None
    assert not message.session_valid(0.0)
