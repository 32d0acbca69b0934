"""The notify surfaces: legacy notify.dingtalk(_robot) actions and the notify entity."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from homeassistant.components.notify.const import (
    ATTR_DATA,
    ATTR_MESSAGE,
    ATTR_TARGET,
    ATTR_TITLE,
    DOMAIN as NOTIFY_DOMAIN,
    SERVICE_SEND_MESSAGE,
)
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import ATTR_ENTITY_ID, CONF_NAME, STATE_UNKNOWN
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.service import async_get_all_descriptions
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.dingtalk.const import (
    CONF_DEFAULT_FORMAT,
    CONF_DEFAULT_TARGET,
    CONF_KEYWORDS,
    CONF_SECRET,
    CONF_SEND_TEST_MESSAGE,
    CONF_WEBHOOK,
    DOMAIN,
)
from dingtalk_emulator import RobotConfig, RobotState

from .conftest import (
    ENTRY_ID,
    KEYWORD,
    OTHER_ENTRY_ID,
    OTHER_NAME,
    OTHER_TOKEN,
    ROBOT_NAME,
    SECRET,
    TOKEN,
    entry_data,
    setup_entry,
    stable,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from syrupy.assertion import SnapshotAssertion

    from dingtalk_emulator import Emulator, EmulatorServer

ENTITY_ID = "notify.ops"
MOBILE = "13800000000"


async def notify(hass: HomeAssistant, service: str, **data: object) -> None:
    """Call a legacy notify action and wait for it."""
    await hass.services.async_call(NOTIFY_DOMAIN, service, data, blocking=True)


@pytest.mark.usefixtures("loaded_entry")
async def test_title_and_mention_send_signed_markdown(
    hass: HomeAssistant, robot_emulator: Emulator, snapshot: SnapshotAssertion
) -> None:
    """The done criterion: title + at_mobiles is a signed markdown with the mention."""
    await notify(
        hass,
        DOMAIN,
        **{
            ATTR_TITLE: "Door",
            ATTR_MESSAGE: "Front door opened",
            ATTR_DATA: {"at_mobiles": [MOBILE]},
        },
    )
    [request] = robot_emulator.requests
    assert request.signature_verified is True
    assert {"timestamp", "sign"} <= set(request.query)
    [message] = robot_emulator.delivered(TOKEN)
    payload = message.payload
    assert payload["msgtype"] == "markdown"
    assert f"@{MOBILE}" in payload["markdown"]["text"]
    assert payload["at"]["atMobiles"] == [MOBILE]
    assert message.rang == (MOBILE,)
    assert stable(message) == snapshot


async def test_done_criterion_through_the_flow(
    hass: HomeAssistant, robot_server: EmulatorServer, robot_emulator: Emulator
) -> None:
    """A robot added through the flow gets signed markdown, then plain text."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "robot"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_NAME: ROBOT_NAME,
            CONF_WEBHOOK: robot_server.webhook_url(TOKEN),
            CONF_SECRET: SECRET,
            CONF_KEYWORDS: [KEYWORD],
            CONF_SEND_TEST_MESSAGE: False,
        },
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY

    await notify(
        hass,
        DOMAIN,
        **{
            ATTR_TITLE: "Door",
            ATTR_MESSAGE: "Front door opened",
            ATTR_DATA: {"at_mobiles": [MOBILE]},
        },
    )
    await notify(hass, DOMAIN, **{ATTR_MESSAGE: "Washer done"})
    markdown, text = robot_emulator.delivered(TOKEN)
    signed = [request.signature_verified for request in robot_emulator.requests]
    assert signed == [True, True, True]
    assert markdown.payload["msgtype"] == "markdown"
    assert f"@{MOBILE}" in markdown.payload["markdown"]["text"]
    assert markdown.payload["at"]["atMobiles"] == [MOBILE]
    assert text.payload["msgtype"] == "text"


@pytest.mark.usefixtures("loaded_entry")
async def test_no_title_sends_text(
    hass: HomeAssistant, robot_emulator: Emulator, snapshot: SnapshotAssertion
) -> None:
    """Without a title the robot sends text; mentions go into the body too."""
    await notify(
        hass,
        f"{DOMAIN}_ops",
        **{
            ATTR_MESSAGE: "Washer done",
            ATTR_DATA: {"at_mobiles": f"{MOBILE}, 13900000000"},
        },
    )
    [message] = robot_emulator.delivered(TOKEN)
    assert message.payload["msgtype"] == "text"
    assert message.payload["text"]["content"].count(f"@{MOBILE}") == 1
    assert stable(message) == snapshot


@pytest.mark.usefixtures("loaded_entry")
@pytest.mark.parametrize(
    "data",
    [
        {"msgtype": "link", "url": "https://example.org/door"},
        {
            "msgtype": "actionCard",
            "button_title": "Open",
            "button_url": "https://example.org",
        },
        {
            "buttons": [
                {"title": "Yes", "url": "https://example.org/yes"},
                {"title": "No", "url": "https://example.org/no"},
            ],
            "orientation": "horizontal",
        },
        {
            "links": [
                {
                    "title": "Camera",
                    "url": "https://example.org/cam",
                    "picture": "https://example.org/cam.jpg",
                }
            ]
        },
        {"msgtype": "markdown", "at_user_ids": ["manager1"], "at_all": True},
    ],
    ids=["link", "action_card_single", "action_card_buttons", "feed_card", "at"],
)
async def test_legacy_rich_data(
    hass: HomeAssistant,
    robot_emulator: Emulator,
    snapshot: SnapshotAssertion,
    data: dict[str, Any],
) -> None:
    """The legacy actions accept the rich fields of dingtalk.send_message in data."""
    await notify(
        hass,
        f"{DOMAIN}_ops",
        **{ATTR_TITLE: "Door", ATTR_MESSAGE: "Front door", ATTR_DATA: data},
    )
    [message] = robot_emulator.delivered(TOKEN)
    assert stable(message) == snapshot


async def test_targets(
    hass: HomeAssistant,
    robot_emulator: Emulator,
    config_entry: MockConfigEntry,
    other_entry: MockConfigEntry,
) -> None:
    """notify.dingtalk sends to named robots, or to the default ones."""
    await setup_entry(hass, config_entry)
    await setup_entry(hass, other_entry)
    assert hass.services.has_service(NOTIFY_DOMAIN, "dingtalk_family")

    await notify(hass, DOMAIN, **{ATTR_MESSAGE: "all", ATTR_TARGET: []})
    assert len(robot_emulator.delivered(TOKEN)) == 1
    assert len(robot_emulator.delivered(OTHER_TOKEN)) == 1

    for target in (OTHER_NAME, OTHER_ENTRY_ID, "family", ["Family", "family"]):
        await notify(hass, DOMAIN, **{ATTR_MESSAGE: "one", ATTR_TARGET: target})
    assert len(robot_emulator.delivered(TOKEN)) == 1
    assert len(robot_emulator.delivered(OTHER_TOKEN)) == 5

    await notify(hass, DOMAIN, **{ATTR_MESSAGE: "ops", ATTR_TARGET: ENTRY_ID})
    assert len(robot_emulator.delivered(TOKEN)) == 2


@pytest.mark.usefixtures("loaded_entry")
async def test_unknown_target(hass: HomeAssistant) -> None:
    """An unknown target is a validation error that lists the robots."""
    with pytest.raises(
        ServiceValidationError,
        match=re.escape("Unknown DingTalk robot Kitchen. Configured robots: Ops"),
    ):
        await notify(hass, DOMAIN, **{ATTR_MESSAGE: "x", ATTR_TARGET: "Kitchen"})


async def test_default_target_option(
    hass: HomeAssistant, robot_emulator: Emulator, robot_server: EmulatorServer
) -> None:
    """A robot that opted out only receives calls that name it."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=ROBOT_NAME,
        data=entry_data(robot_server),
        options={CONF_DEFAULT_TARGET: False},
    )
    await setup_entry(hass, entry)
    with pytest.raises(ServiceValidationError, match="No robot receives"):
        await notify(hass, DOMAIN, **{ATTR_MESSAGE: "x"})
    await notify(hass, f"{DOMAIN}_ops", **{ATTR_MESSAGE: "x"})
    assert len(robot_emulator.delivered(TOKEN)) == 1


@pytest.mark.usefixtures("loaded_entry")
@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"color": "red"}, "Unknown key color in data"),
        ({"at_mobiles": ["12345", "call me"]}, "call me is not a valid mobile"),
        ({"at_all": "perhaps"}, "The value of at_all in data is not valid"),
        ({"msgtype": "image"}, "Unknown message type image"),
        ({"orientation": "diagonal"}, "Unknown button orientation diagonal"),
        ({"msgtype": "link"}, "A link message needs a Link URL"),
        ({"url": "https://example.org", "at_all": True}, "A link message cannot"),
        ({"msgtype": "text", "url": "https://x.org"}, "Link URL belongs to a link"),
        ({"msgtype": "feed_card"}, "A feed card needs at least one entry in Feed"),
        ({"at_user_ids": ["ok", "a b"]}, "a b is not a valid DingTalk user ID"),
        (
            {"button_title": "x", "button_url": "https://x.org", "buttons": [{}]},
            "The value of buttons in data is not valid",
        ),
        (
            {
                "button_title": "x",
                "button_url": "https://x.org",
                "buttons": [{"title": "y", "url": "https://y.org"}],
            },
            "either one button",
        ),
        ({"button_title": "x"}, "An action card with a Button text also needs a"),
        ({"msgtype": "action_card"}, "An action card needs a button: fill in Button"),
        ({"url": "ftp://example.org"}, "^Link URL must be an http://, https:// or"),
    ],
)
async def test_invalid_data(
    hass: HomeAssistant,
    robot_emulator: Emulator,
    data: dict[str, Any],
    error: str,
) -> None:
    """Bad data is refused before anything is sent, naming what is wrong."""
    with pytest.raises(ServiceValidationError, match=error):
        await notify(
            hass, DOMAIN, **{ATTR_TITLE: "T", ATTR_MESSAGE: "M", ATTR_DATA: data}
        )
    assert robot_emulator.requests == []


@pytest.mark.usefixtures("loaded_entry")
async def test_missing_message_parts(hass: HomeAssistant) -> None:
    """Empty messages and link cards without a title are refused."""
    with pytest.raises(ServiceValidationError, match="needs a Message or a Title"):
        await notify(hass, DOMAIN, **{ATTR_MESSAGE: " "})
    with pytest.raises(ServiceValidationError, match="A link message needs a Title"):
        await notify(
            hass,
            DOMAIN,
            **{ATTR_MESSAGE: "x", ATTR_DATA: {"url": "https://example.org"}},
        )


async def test_one_robot_failing_fails_the_call(
    hass: HomeAssistant,
    robot_emulator: Emulator,
    config_entry: MockConfigEntry,
    other_entry: MockConfigEntry,
) -> None:
    """A robot that fails makes the call fail; the others still get the message."""
    await setup_entry(hass, config_entry)
    await setup_entry(hass, other_entry)
    robot_emulator.set_robot_state(TOKEN, RobotState.DISABLED)
    with pytest.raises(HomeAssistantError, match="robot Ops is disabled"):
        await notify(hass, DOMAIN, **{ATTR_MESSAGE: "hello"})
    assert len(robot_emulator.delivered(OTHER_TOKEN)) == 1


async def test_legacy_actions_follow_robots(
    hass: HomeAssistant, config_entry: MockConfigEntry, other_entry: MockConfigEntry
) -> None:
    """Per-robot actions come and go with their robot; notify.dingtalk with the last."""
    await setup_entry(hass, config_entry)
    assert hass.services.has_service(NOTIFY_DOMAIN, DOMAIN)
    assert hass.services.has_service(NOTIFY_DOMAIN, "dingtalk_ops")
    await setup_entry(hass, other_entry)
    assert hass.services.has_service(NOTIFY_DOMAIN, "dingtalk_family")

    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert not hass.services.has_service(NOTIFY_DOMAIN, "dingtalk_ops")
    assert hass.services.has_service(NOTIFY_DOMAIN, DOMAIN)

    assert await hass.config_entries.async_unload(other_entry.entry_id)
    await hass.async_block_till_done()
    assert not hass.services.has_service(NOTIFY_DOMAIN, "dingtalk_family")
    assert not hass.services.has_service(NOTIFY_DOMAIN, DOMAIN)

    await setup_entry(hass, config_entry)
    assert hass.services.has_service(NOTIFY_DOMAIN, DOMAIN)
    assert hass.services.has_service(NOTIFY_DOMAIN, "dingtalk_ops")


TWIN_ENTRY_ID = "01DINGTALKTWIN00000000ABCD"
TWIN_SERVICE = "dingtalk_ops_00abcd"


@pytest.fixture
def twin_entry(
    robot_server: EmulatorServer, robot_emulator: Emulator
) -> MockConfigEntry:
    """Return a second robot also titled Ops, on the unsigned Family token."""
    # An unsigned twin on a signing robot fails: a signature-free robot proves routing.
    robot_emulator.remove_robot(OTHER_TOKEN)
    robot_emulator.add_robot(RobotConfig(access_token=OTHER_TOKEN))
    return MockConfigEntry(
        domain=DOMAIN,
        title=ROBOT_NAME,
        entry_id=TWIN_ENTRY_ID,
        data=entry_data(robot_server, OTHER_TOKEN, None, ()),
    )


def delivered_counts(emulator: Emulator) -> tuple[int, int]:
    """Return how many messages Ops and its twin received."""
    return len(emulator.delivered(TOKEN)), len(emulator.delivered(OTHER_TOKEN))


async def test_robots_with_the_same_name(
    hass: HomeAssistant,
    robot_emulator: Emulator,
    config_entry: MockConfigEntry,
    twin_entry: MockConfigEntry,
) -> None:
    """A twin's action has a suffix from its entry id; unloading Ops moves nothing."""
    await setup_entry(hass, config_entry)
    await setup_entry(hass, twin_entry)
    assert hass.services.has_service(NOTIFY_DOMAIN, "dingtalk_ops")
    assert hass.services.has_service(NOTIFY_DOMAIN, TWIN_SERVICE)
    assert not hass.services.has_service(NOTIFY_DOMAIN, "dingtalk_ops_2")
    await notify(hass, TWIN_SERVICE, **{ATTR_MESSAGE: "twin"})
    await notify(hass, "dingtalk_ops", **{ATTR_MESSAGE: "ops"})
    assert delivered_counts(robot_emulator) == (1, 1)

    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    # notify.dingtalk_ops does not move to the twin: it is gone with its robot.
    assert not hass.services.has_service(NOTIFY_DOMAIN, "dingtalk_ops")
    await notify(hass, TWIN_SERVICE, **{ATTR_MESSAGE: "twin"})
    for target in (TWIN_SERVICE, "ops_00abcd", TWIN_ENTRY_ID):
        await notify(hass, DOMAIN, **{ATTR_MESSAGE: "twin", ATTR_TARGET: target})
    assert delivered_counts(robot_emulator) == (1, 5)
    with pytest.raises(ServiceValidationError, match="Robot Ops is not loaded"):
        await notify(hass, DOMAIN, **{ATTR_MESSAGE: "x", ATTR_TARGET: "Ops"})
    assert delivered_counts(robot_emulator) == (1, 5)

    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    await notify(hass, "dingtalk_ops", **{ATTR_MESSAGE: "ops"})
    await notify(hass, DOMAIN, **{ATTR_MESSAGE: "ops", ATTR_TARGET: "ops"})
    assert delivered_counts(robot_emulator) == (3, 5)


async def test_same_name_robots_in_any_load_order(
    hass: HomeAssistant,
    robot_emulator: Emulator,
    config_entry: MockConfigEntry,
    twin_entry: MockConfigEntry,
) -> None:
    """The first robot added keeps the plain name, whichever loads first."""
    await setup_entry(hass, config_entry)
    await setup_entry(hass, twin_entry)
    for entry in (config_entry, twin_entry):
        assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    assert await hass.config_entries.async_setup(twin_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.services.has_service(NOTIFY_DOMAIN, TWIN_SERVICE)
    assert not hass.services.has_service(NOTIFY_DOMAIN, "dingtalk_ops")
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.services.has_service(NOTIFY_DOMAIN, TWIN_SERVICE)

    assert await hass.config_entries.async_unload(twin_entry.entry_id)
    await hass.async_block_till_done()
    assert not hass.services.has_service(NOTIFY_DOMAIN, TWIN_SERVICE)
    await notify(hass, "dingtalk_ops", **{ATTR_MESSAGE: "ops"})
    with pytest.raises(ServiceValidationError, match="Unknown DingTalk robot Ops 2"):
        await notify(hass, DOMAIN, **{ATTR_MESSAGE: "x", ATTR_TARGET: "Ops 2"})
    assert delivered_counts(robot_emulator) == (1, 0)


async def test_renamed_robot_renames_its_action(
    hass: HomeAssistant, config_entry: MockConfigEntry, twin_entry: MockConfigEntry
) -> None:
    """Renaming a robot's entry in the UI renames its action at once."""
    await setup_entry(hass, config_entry)
    await setup_entry(hass, twin_entry)
    hass.config_entries.async_update_entry(twin_entry, title="Kitchen")
    await hass.async_block_till_done()
    assert hass.services.has_service(NOTIFY_DOMAIN, "dingtalk_kitchen")
    assert not hass.services.has_service(NOTIFY_DOMAIN, TWIN_SERVICE)
    assert hass.services.has_service(NOTIFY_DOMAIN, "dingtalk_ops")

    # Another integration's entries and a removed robot refresh nothing else.
    MockConfigEntry(domain="other").add_to_hass(hass)
    await hass.config_entries.async_remove(config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.services.has_service(NOTIFY_DOMAIN, "dingtalk_kitchen")
    assert not hass.services.has_service(NOTIFY_DOMAIN, "dingtalk_ops")


async def test_target_not_loaded(
    hass: HomeAssistant,
    robot_emulator: Emulator,
    loaded_entry: MockConfigEntry,
    other_entry: MockConfigEntry,
) -> None:
    """A configured robot that is not loaded is named as such, not as unknown."""
    other_entry.add_to_hass(hass)
    with pytest.raises(ServiceValidationError, match="Robot Family is not loaded"):
        await notify(hass, DOMAIN, **{ATTR_MESSAGE: "x", ATTR_TARGET: OTHER_NAME})
    with pytest.raises(
        ServiceValidationError,
        match=re.escape(
            "Unknown DingTalk robot Kitchen. Configured robots: Ops, Family"
        ),
    ):
        await notify(hass, DOMAIN, **{ATTR_MESSAGE: "x", ATTR_TARGET: "Kitchen"})
    assert robot_emulator.requests == []
    assert loaded_entry.entry_id in [
        entry.entry_id for entry in hass.config_entries.async_loaded_entries(DOMAIN)
    ]


async def test_robot_unloading_while_legacy_loads(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """A robot that unloads before the legacy platform is ready leaves no action."""
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert not hass.services.has_service(NOTIFY_DOMAIN, DOMAIN)
    assert not hass.services.has_service(NOTIFY_DOMAIN, "dingtalk_ops")


@pytest.mark.usefixtures("loaded_entry")
async def test_entity(
    hass: HomeAssistant,
    robot_emulator: Emulator,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """notify.send_message reaches the robot; the entity records the time."""
    entity = entity_registry.async_get(ENTITY_ID)
    assert entity is not None
    assert entity.unique_id == ENTRY_ID
    assert entity.translation_key == "robot"
    device = device_registry.async_get(entity.device_id or "")
    assert isinstance(device, dr.DeviceEntry)
    assert device.entry_type is dr.DeviceEntryType.SERVICE
    assert device.name == ROBOT_NAME
    state = hass.states.get(ENTITY_ID)
    assert state is not None
    assert state.attributes["friendly_name"] == ROBOT_NAME  # the device's name

    for data in ({ATTR_TITLE: "Door", ATTR_MESSAGE: "Opened"}, {ATTR_MESSAGE: "Hi"}):
        await hass.services.async_call(
            NOTIFY_DOMAIN,
            SERVICE_SEND_MESSAGE,
            {ATTR_ENTITY_ID: ENTITY_ID, **data},
            blocking=True,
        )
    assert [stable(message) for message in robot_emulator.delivered(TOKEN)] == snapshot
    state = hass.states.get(ENTITY_ID)
    assert state is not None
    assert dt_util.parse_datetime(state.state) is not None


async def test_entity_markdown_option(
    hass: HomeAssistant,
    robot_server: EmulatorServer,
    robot_emulator: Emulator,
    snapshot: SnapshotAssertion,
) -> None:
    """With the markdown default, an untitled message is markdown titled by its line."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=ROBOT_NAME,
        data=entry_data(robot_server),
        options={CONF_DEFAULT_FORMAT: "markdown"},
    )
    await setup_entry(hass, entry)
    await hass.services.async_call(
        NOTIFY_DOMAIN,
        SERVICE_SEND_MESSAGE,
        {ATTR_ENTITY_ID: ENTITY_ID, ATTR_MESSAGE: "## **Laundry**\n\nWasher done"},
        blocking=True,
    )
    [message] = robot_emulator.delivered(TOKEN)
    assert message.payload["markdown"]["title"] == "Laundry"
    assert KEYWORD in message.payload["markdown"]["text"]
    assert stable(message) == snapshot


# -- issue 13, item 10: the legacy actions in the action UI ----------------------------


async def legacy_description(hass: HomeAssistant, service: str) -> dict[str, Any]:
    """Return a legacy action's description, as the action UI reads it."""
    descriptions = await async_get_all_descriptions(hass)
    description: dict[str, Any] = descriptions[NOTIFY_DOMAIN][service]
    return description


@pytest.mark.usefixtures("loaded_entry")
async def test_legacy_actions_are_described(hass: HomeAssistant) -> None:
    """Each field has a name and a help text; the robot's action names the robot."""
    robot = await legacy_description(hass, "dingtalk_ops")
    assert robot["name"] == "Send a message with DingTalk robot Ops"
    assert "group of DingTalk robot Ops" in robot["description"]
    assert list(robot["fields"]) == [ATTR_MESSAGE, ATTR_TITLE, ATTR_DATA]  # no target
    assert robot["fields"][ATTR_MESSAGE]["required"] is True
    assert [field["name"] for field in robot["fields"].values()] == [
        "Message",
        "Title",
        "DingTalk fields",
    ]
    for field in robot["fields"].values():
        assert field["description"]
        assert field["selector"]
    every = await legacy_description(hass, DOMAIN)
    assert every["name"] == "Send a message with DingTalk"
    assert list(every["fields"]) == [ATTR_MESSAGE, ATTR_TITLE, ATTR_TARGET, ATTR_DATA]
    assert every["fields"][ATTR_TARGET]["name"] == "Targets"


async def test_legacy_actions_are_described_in_the_system_language(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """Home Assistant cannot translate them per user: the system language is used."""
    await hass.config.async_update(language="zh-Hans")
    await setup_entry(hass, config_entry)
    robot = await legacy_description(hass, "dingtalk_ops")
    assert robot["name"] == "通过钉钉机器人“Ops”发送消息"
    assert robot["fields"][ATTR_MESSAGE]["name"] == "消息"
    assert robot["fields"][ATTR_DATA]["name"] == "钉钉字段"

    await hass.config.async_update(location_name="Home")  # not the language
    await hass.async_block_till_done()
    robot = await legacy_description(hass, "dingtalk_ops")
    assert robot["name"] == "通过钉钉机器人“Ops”发送消息"

    await hass.config.async_update(language="en")  # described again
    await hass.async_block_till_done()
    robot = await legacy_description(hass, "dingtalk_ops")
    assert robot["name"] == "Send a message with DingTalk robot Ops"


@pytest.mark.usefixtures("loaded_entry")
async def test_robot_action_refuses_a_target(
    hass: HomeAssistant, robot_emulator: Emulator
) -> None:
    """A target given to notify.dingtalk_<robot> is refused, not silently ignored."""
    with pytest.raises(ServiceValidationError) as caught:
        await notify(
            hass, "dingtalk_ops", **{ATTR_MESSAGE: "x", ATTR_TARGET: [OTHER_NAME]}
        )
    assert caught.value.translation_key == "legacy_target_not_allowed"
    assert str(caught.value) == (
        "notify.dingtalk_ops always sends to its own robot and takes no target. "
        "Remove target, or use notify.dingtalk with target to choose the robots"
    )
    assert robot_emulator.requests == []


@pytest.mark.usefixtures("loaded_entry")
async def test_legacy_sends_record_the_entity_state(
    hass: HomeAssistant, robot_emulator: Emulator
) -> None:
    """The robot's notify entity shows when a legacy action last sent to it."""
    state = hass.states.get(ENTITY_ID)
    assert state is not None
    assert state.state == STATE_UNKNOWN
    times = []
    for service in ("dingtalk_ops", DOMAIN):
        before = dt_util.utcnow()
        await notify(hass, service, **{ATTR_MESSAGE: service})
        state = hass.states.get(ENTITY_ID)
        assert state is not None
        sent = dt_util.parse_datetime(state.state)
        assert sent is not None
        assert before <= sent <= dt_util.utcnow()
        times.append(sent)
    assert times[0] < times[1]
    assert len(robot_emulator.delivered(TOKEN)) == 2


async def test_failed_legacy_send_records_nothing(
    hass: HomeAssistant,
    robot_emulator: Emulator,
    config_entry: MockConfigEntry,
    other_entry: MockConfigEntry,
) -> None:
    """Only the robots that took the message record it."""
    await setup_entry(hass, config_entry)
    await setup_entry(hass, other_entry)
    robot_emulator.set_robot_state(TOKEN, RobotState.DISABLED)
    with pytest.raises(HomeAssistantError):
        await notify(hass, DOMAIN, **{ATTR_MESSAGE: "hello"})
    failed = hass.states.get(ENTITY_ID)
    assert failed is not None
    assert failed.state == STATE_UNKNOWN
    sent = hass.states.get("notify.family")
    assert sent is not None
    assert dt_util.parse_datetime(sent.state) is not None
