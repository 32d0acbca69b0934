"""The people and groups of an app: its subentry flows, with the emulator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_NAME
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest

from custom_components.dingtalk.const import (
    CONF_API_BASE,
    CONF_CLIENT_SECRET,
    CONF_CONVERSATION_ID,
    CONF_DEFAULT_TARGET,
    CONF_MOBILE,
    CONF_SEND_TEST_MESSAGE,
    CONF_USER_ID,
    DOMAIN,
    SUBENTRY_GROUP,
    SUBENTRY_PERSON,
)
from custom_components.dingtalk.flow_recipients import masked_mobile
from custom_components.dingtalk.seen_groups import storage_key
from dingtalk_emulator import AppFault, AppFaultKind, Group, Person

from .app_helpers import bare_app_entry, chat_of, placeholders, suggested, texts
from .conftest import (
    ALICE,
    APP_CLIENT_ID,
    BOB,
    GARDEN_CID,
    GROUP_SUBENTRY_ID,
    PERSON_SUBENTRY_ID,
    setup_entry,
)

if TYPE_CHECKING:
    from homeassistant.config_entries import SubentryFlowResult
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from dingtalk_emulator import Emulator, EmulatorServer

CAROL = Person(user_id="carol03", name="Carol", mobile="13800000003")
KITCHEN_CID = "cidKitchenGroup0002"
LONELY_CID = "cidLonelyGroup0003"


@pytest.fixture
def town(app_emulator: Emulator) -> Emulator:
    """Add Carol, the Kitchen group (with the robot) and one without the robot."""
    apps = app_emulator.apps
    apps.add_person(CAROL)
    apps.add_group(
        Group(
            open_conversation_id=KITCHEN_CID,
            title="Kitchen",
            members=(CAROL.user_id,),
            robots=(APP_CLIENT_ID,),
        )
    )
    apps.add_group(Group(open_conversation_id=LONELY_CID, title="Lonely"))
    return app_emulator


@dataclass(frozen=True, slots=True)
class Home:
    """The emulated DingTalk with Carol and the groups, and the loaded Home app."""

    emulator: Emulator
    app: MockConfigEntry


@pytest.fixture
def home(town: Emulator, loaded_app: MockConfigEntry) -> Home:
    """Return the emulator and the loaded Home app (Alice and Garden) as one."""
    return Home(town, loaded_app)


@pytest.fixture
def robot_added(hass: HomeAssistant, config_entry: MockConfigEntry) -> None:
    """Add the Ops robot (not set up): its name is taken."""
    config_entry.add_to_hass(hass)


@pytest.fixture
async def bare_app(
    hass: HomeAssistant, town: Emulator, robot_server: EmulatorServer
) -> MockConfigEntry:
    """Return the Home app without people or groups, set up."""
    del town
    return await setup_entry(hass, bare_app_entry(robot_server))


async def start(
    hass: HomeAssistant, entry: MockConfigEntry, kind: str
) -> SubentryFlowResult:
    """Open the Add person or Add group form of an app."""
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, kind), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    return result


async def configure(
    hass: HomeAssistant, result: SubentryFlowResult, user_input: dict[str, Any]
) -> SubentryFlowResult:
    """Submit a subentry form and let what it started finish."""
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], user_input
    )
    await hass.async_block_till_done()
    return result


def person(**fields: object) -> dict[str, Any]:
    """Return a person form: name, test message on, not a default target."""
    return {
        CONF_NAME: "Carol",
        CONF_DEFAULT_TARGET: False,
        CONF_SEND_TEST_MESSAGE: True,
    } | fields


def group(**fields: object) -> dict[str, Any]:
    """Return a group form for the Kitchen group."""
    return {
        CONF_NAME: "Kitchen",
        CONF_CONVERSATION_ID: KITCHEN_CID,
        CONF_DEFAULT_TARGET: True,
        CONF_SEND_TEST_MESSAGE: True,
    } | fields


def entity_of(hass: HomeAssistant, entry: MockConfigEntry, subentry_id: str) -> str:
    """Return the entity id of a recipient's notify entity."""
    entity_id = er.async_get(hass).async_get_entity_id(
        "notify", DOMAIN, f"{entry.entry_id}_{subentry_id}"
    )
    assert entity_id is not None
    return entity_id


# -- people ----------------------------------------------------------------------------


def test_masked_mobile() -> None:
    """A mobile's middle is hidden; a short one is shown as it is."""
    assert masked_mobile(ALICE.mobile) == "138****0001"
    assert masked_mobile("+86-13800000001") == "+86****0001"
    assert masked_mobile("1234567") == "1234567"


async def test_person_by_mobile(
    hass: HomeAssistant, town: Emulator, bare_app: MockConfigEntry
) -> None:
    """A mobile is resolved and confirmed; the test message reaches the person."""
    result = await start(hass, bare_app, SUBENTRY_PERSON)
    result = await configure(
        hass,
        result,
        person(**{CONF_NAME: " Alice ", CONF_MOBILE: "138 0000 0001"}),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"] == {
        "name": "Alice",
        "mobile": "138****0001",
        "user_id": ALICE.user_id,
    }
    assert chat_of(town, ALICE.user_id) == []

    result = await configure(hass, result, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Alice"
    assert result["data"] == {
        CONF_USER_ID: ALICE.user_id,
        CONF_DEFAULT_TARGET: False,
        CONF_MOBILE: ALICE.mobile,
    }
    [subentry] = bare_app.subentries.values()
    assert subentry.unique_id == f"person_{ALICE.user_id}"
    assert subentry.subentry_type == SUBENTRY_PERSON
    [message] = chat_of(town, ALICE.user_id)
    assert message.msg_key == "sampleText"
    assert message.msg_param == {
        "content": "Home Assistant will send messages for Alice to this chat."
    }
    assert chat_of(town, BOB.user_id) == []

    # The app reloaded with Alice's entity.
    assert bare_app.state is ConfigEntryState.LOADED
    entity_id = entity_of(hass, bare_app, subentry.subentry_id)
    assert hass.states.get(entity_id) is not None


async def test_person_test_message_in_chinese(
    hass: HomeAssistant, town: Emulator, bare_app: MockConfigEntry
) -> None:
    """The test message speaks the language of the person adding the recipient."""
    hass.config.language = "zh-Hans"
    result = await start(hass, bare_app, SUBENTRY_PERSON)
    result = await configure(
        hass, result, person(**{CONF_NAME: "爱丽丝", CONF_USER_ID: ALICE.user_id})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert texts(chat_of(town, ALICE.user_id)) == [
        "Home Assistant 会把发给 爱丽丝 的消息发到这个聊天。"
    ]


async def test_person_by_user_id_without_test_message(
    hass: HomeAssistant, town: Emulator, bare_app: MockConfigEntry
) -> None:
    """A user id is saved at once; without a test message nothing is sent."""
    result = await start(hass, bare_app, SUBENTRY_PERSON)
    result = await configure(
        hass,
        result,
        person(
            **{
                CONF_NAME: "Bob",
                CONF_USER_ID: f" {BOB.user_id} ",
                CONF_DEFAULT_TARGET: True,
                CONF_SEND_TEST_MESSAGE: False,
            }
        ),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_USER_ID: BOB.user_id, CONF_DEFAULT_TARGET: True}
    [subentry] = bare_app.subentries.values()
    assert subentry.unique_id == f"person_{BOB.user_id}"
    assert town.apps.messages() == []
    assert [r.api for r in town.apps.requests if r.api != "token"] == []


@pytest.mark.usefixtures("robot_added")
@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({}, {"base": "mobile_or_user_id"}),
        ({CONF_MOBILE: " ", CONF_USER_ID: " "}, {"base": "mobile_or_user_id"}),
        (
            {CONF_MOBILE: ALICE.mobile, CONF_USER_ID: ALICE.user_id},
            {"base": "mobile_or_user_id"},
        ),
        ({CONF_MOBILE: "call me"}, {CONF_MOBILE: "invalid_mobile"}),
        ({CONF_MOBILE: "1380"}, {CONF_MOBILE: "invalid_mobile"}),
        ({CONF_NAME: " ", CONF_USER_ID: "x"}, {CONF_NAME: "name_required"}),
        ({CONF_NAME: "alice", CONF_USER_ID: "x"}, {CONF_NAME: "name_in_use"}),
        ({CONF_NAME: "Ops!", CONF_USER_ID: "x"}, {CONF_NAME: "name_in_use"}),
        ({CONF_NAME: "GARDEN", CONF_USER_ID: "x"}, {CONF_NAME: "name_in_use"}),
    ],
)
async def test_person_form_errors(
    hass: HomeAssistant,
    town: Emulator,
    loaded_app: MockConfigEntry,
    fields: dict[str, str],
    errors: dict[str, str],
) -> None:
    """What the form says is checked before DingTalk is asked."""
    requests = len(town.apps.requests)
    result = await start(hass, loaded_app, SUBENTRY_PERSON)
    result = await configure(hass, result, person(**fields))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == errors
    assert len(town.apps.requests) == requests
    assert set(loaded_app.subentries) == {PERSON_SUBENTRY_ID, GROUP_SUBENTRY_ID}


@pytest.mark.parametrize(
    ("fields", "errors", "details"),
    [
        ({CONF_MOBILE: "13900000000"}, {CONF_MOBILE: "mobile_not_found"}, {}),
        # The client's form passes, DingTalk's does not.
        ({CONF_MOBILE: "1380-0000-001"}, {CONF_MOBILE: "invalid_mobile"}, {}),
        (
            {CONF_USER_ID: "nobody99"},
            {CONF_USER_ID: "user_id_not_found"},
            {
                "errcode": "invalidStaffIdList",
                "errmsg": "1 of 1 user ids unknown; 0 delivered",
            },
        ),
        (
            {CONF_MOBILE: ALICE.mobile},
            {CONF_MOBILE: "recipient_exists"},
            {"other": ALICE.name},
        ),
        (
            {CONF_USER_ID: ALICE.user_id},
            {CONF_USER_ID: "recipient_exists"},
            {"other": ALICE.name},
        ),
    ],
)
async def test_person_refused_by_dingtalk(
    hass: HomeAssistant,
    home: Home,
    fields: dict[str, str],
    errors: dict[str, str],
    details: dict[str, str],
) -> None:
    """Unknown people and people already added are refused on their field."""
    town, loaded_app = home.emulator, home.app
    result = await start(hass, loaded_app, SUBENTRY_PERSON)
    result = await configure(hass, result, person(**fields))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == errors
    assert placeholders(result) == details
    assert town.apps.messages() == []
    assert suggested(result)[CONF_NAME] == "Carol"

    # The same form with Carol's number adds her.
    result = await configure(
        hass,
        result,
        person(**{CONF_MOBILE: CAROL.mobile, CONF_SEND_TEST_MESSAGE: False}),
    )
    assert result["step_id"] == "confirm"
    result = await configure(hass, result, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_USER_ID] == CAROL.user_id


async def test_person_lookup_without_permission(
    hass: HomeAssistant, town: Emulator, loaded_app: MockConfigEntry
) -> None:
    """A lookup the app may not make says which permission is missing."""
    town.apps.set_permissions(
        APP_CLIENT_ID, frozenset({"qyapi_base", "qyapi_robot_sendmsg"})
    )
    result = await start(hass, loaded_app, SUBENTRY_PERSON)
    result = await configure(hass, result, person(**{CONF_MOBILE: CAROL.mobile}))
    assert result["errors"] == {"base": "permission_denied"}
    assert placeholders(result) == {
        "errcode": "60011",
        "errmsg": "没有调用该接口的权限",
    }


async def test_person_test_message_fails_on_the_user_step(
    hass: HomeAssistant, town: Emulator, loaded_app: MockConfigEntry
) -> None:
    """A refused test message to a user id shows the form again, as entered."""
    town.apps.inject_fault(APP_CLIENT_ID, AppFault(AppFaultKind.QPS, count=2))
    result = await start(hass, loaded_app, SUBENTRY_PERSON)
    result = await configure(
        hass, result, person(**{CONF_USER_ID: CAROL.user_id, CONF_DEFAULT_TARGET: True})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": "rate_limited"}
    assert set(placeholders(result)) == {"errcode", "errmsg"}
    assert suggested(result)[CONF_USER_ID] == CAROL.user_id
    assert suggested(result)[CONF_DEFAULT_TARGET] is True
    assert town.apps.messages() == []


@pytest.mark.parametrize(
    "breaker",
    ["unpublished", "no_permission"],
)
async def test_person_unreachable_from_confirm(
    hass: HomeAssistant, town: Emulator, loaded_app: MockConfigEntry, breaker: str
) -> None:
    """A refused test message after the confirmation aborts and names the person."""
    result = await start(hass, loaded_app, SUBENTRY_PERSON)
    result = await configure(hass, result, person(**{CONF_MOBILE: CAROL.mobile}))
    assert result["step_id"] == "confirm"
    if breaker == "unpublished":
        town.apps.set_published(APP_CLIENT_ID, published=False)
        errcode = "invalidParameter.robotCode.notExsit"
    else:
        town.apps.set_permissions(APP_CLIENT_ID, frozenset({"qyapi_base"}))
        errcode = "Forbidden.AccessDenied.AccessTokenPermissionDenied"

    result = await configure(hass, result, {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "person_unreachable"
    details = placeholders(result)
    assert details["name"] == "Carol"
    assert details["errcode"] == errcode
    assert details["errmsg"]
    assert set(loaded_app.subentries) == {PERSON_SUBENTRY_ID, GROUP_SUBENTRY_ID}
    assert town.apps.messages() == []


async def test_person_unknown_after_lookup(
    hass: HomeAssistant, town: Emulator, loaded_app: MockConfigEntry
) -> None:
    """A person DingTalk found but cannot message: the abort carries DingTalk's text."""
    result = await start(hass, loaded_app, SUBENTRY_PERSON)
    result = await configure(hass, result, person(**{CONF_MOBILE: CAROL.mobile}))
    assert result["step_id"] == "confirm"
    # Carol leaves the organisation between the lookup and the confirmation.
    del town.apps._people[CAROL.user_id]
    result = await configure(hass, result, {})
    assert result["reason"] == "person_unreachable"
    assert placeholders(result) == {
        "name": "Carol",
        "errcode": "invalidStaffIdList",
        "errmsg": "1 of 1 user ids unknown; 0 delivered",
    }


# -- groups ----------------------------------------------------------------------------


async def test_group_added_with_test_message(
    hass: HomeAssistant, town: Emulator, loaded_app: MockConfigEntry
) -> None:
    """A group the robot is in gets the test message and is saved."""
    result = await start(hass, loaded_app, SUBENTRY_GROUP)
    result = await configure(
        hass, result, group(**{CONF_CONVERSATION_ID: f" {KITCHEN_CID} "})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Kitchen"
    assert result["data"] == {
        CONF_CONVERSATION_ID: KITCHEN_CID,
        CONF_DEFAULT_TARGET: True,
    }
    assert texts(town.apps.messages(APP_CLIENT_ID, KITCHEN_CID)) == [
        "Home Assistant will send messages for Kitchen to this group."
    ]
    [subentry] = [
        sub for sub in loaded_app.subentries.values() if sub.title == "Kitchen"
    ]
    assert subentry.unique_id == f"group_{KITCHEN_CID}"
    assert subentry.subentry_type == SUBENTRY_GROUP
    assert loaded_app.state is ConfigEntryState.LOADED
    assert hass.states.get(entity_of(hass, loaded_app, subentry.subentry_id))


async def test_group_without_test_message(
    hass: HomeAssistant, town: Emulator, loaded_app: MockConfigEntry
) -> None:
    """Without a test message the group is saved unchecked, and nothing is posted."""
    result = await start(hass, loaded_app, SUBENTRY_GROUP)
    result = await configure(
        hass,
        result,
        group(**{CONF_SEND_TEST_MESSAGE: False, CONF_DEFAULT_TARGET: False}),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        CONF_CONVERSATION_ID: KITCHEN_CID,
        CONF_DEFAULT_TARGET: False,
    }
    assert town.apps.messages() == []


@pytest.mark.parametrize(
    ("fields", "errors", "details"),
    [
        (
            {CONF_CONVERSATION_ID: "cidNoSuchGroup"},
            {CONF_CONVERSATION_ID: "open_conversation_id_not_found"},
            {
                "errcode": "invalid.openConversationId",
                "errmsg": "openConversationId 不合法",
            },
        ),
        (
            {CONF_CONVERSATION_ID: LONELY_CID},
            {"base": "robot_unavailable"},
            {
                "errcode": "invalidParameter.robotCode.notInGroup",
                "errmsg": "机器人不在该群中",
            },
        ),
        (
            {CONF_CONVERSATION_ID: "cid Kitchen"},
            {CONF_CONVERSATION_ID: "invalid_conversation_id"},
            {},
        ),
        (
            {CONF_CONVERSATION_ID: "  "},
            {CONF_CONVERSATION_ID: "invalid_conversation_id"},
            {},
        ),
        (
            {CONF_CONVERSATION_ID: GARDEN_CID},
            {CONF_CONVERSATION_ID: "recipient_exists"},
            {"other": "Garden"},
        ),
        ({CONF_NAME: "  "}, {CONF_NAME: "name_required"}, {}),
        ({CONF_NAME: "ALICE"}, {CONF_NAME: "name_in_use"}, {}),
    ],
)
async def test_group_errors(
    hass: HomeAssistant,
    home: Home,
    fields: dict[str, str],
    errors: dict[str, str],
    details: dict[str, str],
) -> None:
    """Unknown, malformed and already added groups are refused on their field."""
    town, loaded_app = home.emulator, home.app
    result = await start(hass, loaded_app, SUBENTRY_GROUP)
    result = await configure(hass, result, group(**fields))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == errors
    assert placeholders(result) == details
    assert town.apps.messages() == []

    result = await configure(hass, result, group())
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(town.apps.messages(APP_CLIENT_ID, KITCHEN_CID)) == 1


async def test_group_heard_from_is_offered(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    town: Emulator,
    loaded_app: MockConfigEntry,
) -> None:
    """Groups the robot heard from are offered, unless added; blank names are theirs."""
    hass_storage[storage_key(loaded_app.entry_id)] = {
        "version": 1,
        "minor_version": 1,
        "key": storage_key(loaded_app.entry_id),
        "data": {
            "groups": [
                {"id": GARDEN_CID, "title": "Garden"},
                {"id": KITCHEN_CID, "title": "Kitchen"},
                {"id": LONELY_CID, "title": ""},
            ]
        },
    }
    result = await start(hass, loaded_app, SUBENTRY_GROUP)
    schema = result["data_schema"]
    assert schema is not None
    [selector] = [
        value for key, value in schema.schema.items() if key == CONF_CONVERSATION_ID
    ]
    assert [option["value"] for option in selector.config["options"]] == [
        LONELY_CID,
        KITCHEN_CID,
    ]
    assert [option["label"] for option in selector.config["options"]] == [
        f"{LONELY_CID} ({LONELY_CID})",
        f"Kitchen ({KITCHEN_CID})",
    ]
    assert selector.config["custom_value"] is True

    result = await configure(
        hass,
        result,
        {
            CONF_CONVERSATION_ID: LONELY_CID,
            CONF_DEFAULT_TARGET: True,
            CONF_SEND_TEST_MESSAGE: False,
        },
    )
    assert result["errors"] == {CONF_NAME: "name_required"}

    result = await configure(
        hass,
        result,
        {
            CONF_CONVERSATION_ID: KITCHEN_CID,
            CONF_DEFAULT_TARGET: True,
            CONF_SEND_TEST_MESSAGE: True,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Kitchen"
    assert texts(town.apps.messages(APP_CLIENT_ID, KITCHEN_CID)) == [
        "Home Assistant will send messages for Kitchen to this group."
    ]


# -- reconfigure -----------------------------------------------------------------------


async def test_reconfigure_recipient(
    hass: HomeAssistant, town: Emulator, loaded_app: MockConfigEntry
) -> None:
    """A recipient can be renamed and made a default target; the app reloads."""
    del town
    devices = dr.async_get(hass)
    result = await loaded_app.start_subentry_reconfigure_flow(hass, PERSON_SUBENTRY_ID)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert result["description_placeholders"] == {"name": ALICE.name}
    assert suggested(result) == {CONF_NAME: ALICE.name, CONF_DEFAULT_TARGET: False}

    result = await configure(
        hass, result, {CONF_NAME: "garden!", CONF_DEFAULT_TARGET: True}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_NAME: "name_in_use"}
    assert suggested(result) == {CONF_NAME: "garden!", CONF_DEFAULT_TARGET: True}

    runtime = loaded_app.runtime_data
    result = await configure(
        hass, result, {CONF_NAME: " Alice Smith ", CONF_DEFAULT_TARGET: True}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    subentry = loaded_app.subentries[PERSON_SUBENTRY_ID]
    assert subentry.title == "Alice Smith"
    assert subentry.data == {CONF_USER_ID: ALICE.user_id, CONF_DEFAULT_TARGET: True}
    assert loaded_app.runtime_data is not runtime
    target = loaded_app.runtime_data.targets[PERSON_SUBENTRY_ID]
    assert target.name == "Alice Smith"
    assert target.default_target is True
    device = devices.async_get_device_by_identifier(
        (DOMAIN, PERSON_SUBENTRY_ID), loaded_app.entry_id
    )
    assert device is not None
    assert device.name == "Alice Smith"


@pytest.mark.parametrize(("name", "title"), [("  ", "Garden"), ("GARDEN", "GARDEN")])
async def test_reconfigure_keeps_or_recases_the_name(
    hass: HomeAssistant,
    town: Emulator,
    loaded_app: MockConfigEntry,
    name: str,
    title: str,
) -> None:
    """A blank name keeps the title; the same name in other case is not a clash."""
    del town
    result = await loaded_app.start_subentry_reconfigure_flow(hass, GROUP_SUBENTRY_ID)
    assert suggested(result) == {CONF_NAME: "Garden", CONF_DEFAULT_TARGET: True}
    result = await configure(
        hass, result, {CONF_NAME: name, CONF_DEFAULT_TARGET: False}
    )
    assert result["reason"] == "reconfigure_successful"
    subentry = loaded_app.subentries[GROUP_SUBENTRY_ID]
    assert subentry.title == title
    assert subentry.data == {
        CONF_CONVERSATION_ID: GARDEN_CID,
        CONF_DEFAULT_TARGET: False,
    }


# -- the app's state -------------------------------------------------------------------


@pytest.mark.parametrize("kind", [SUBENTRY_PERSON, SUBENTRY_GROUP])
async def test_recipients_of_an_app_not_loaded(
    hass: HomeAssistant,
    town: Emulator,
    robot_server: EmulatorServer,
    kind: str,
) -> None:
    """An app that is not loaded still checks recipients, with a client of its own."""
    entry = bare_app_entry(robot_server)
    entry.add_to_hass(hass)
    assert entry.state is ConfigEntryState.NOT_LOADED
    result = await start(hass, entry, kind)
    form = (
        person(**{CONF_USER_ID: CAROL.user_id}) if kind == SUBENTRY_PERSON else group()
    )
    result = await configure(hass, result, form)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(town.apps.messages()) == 1
    assert len(entry.subentries) == 1


@pytest.mark.parametrize("kind", [SUBENTRY_PERSON, SUBENTRY_GROUP])
@pytest.mark.parametrize(
    "broken", [{CONF_CLIENT_SECRET: ""}, {CONF_API_BASE: "ftp://127.0.0.1"}]
)
async def test_recipients_of_a_broken_app(
    hass: HomeAssistant,
    town: Emulator,
    robot_server: EmulatorServer,
    kind: str,
    broken: dict[str, str],
) -> None:
    """Stored settings no client can use: the flow says to fix the app first."""
    entry = bare_app_entry(robot_server, **broken)
    entry.add_to_hass(hass)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, kind), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "app_not_loaded"
    assert town.apps.requests == []


async def test_app_broken_before_the_confirmation(
    hass: HomeAssistant, town: Emulator, robot_server: EmulatorServer
) -> None:
    """Settings broken while the confirmation is shown abort instead of sending."""
    entry = bare_app_entry(robot_server)
    entry.add_to_hass(hass)
    result = await start(hass, entry, SUBENTRY_PERSON)
    result = await configure(hass, result, person(**{CONF_MOBILE: CAROL.mobile}))
    assert result["step_id"] == "confirm"
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_CLIENT_SECRET: " "}
    )
    result = await configure(hass, result, {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "app_not_loaded"
    assert entry.subentries == {}
    assert town.apps.messages() == []


async def test_removed_recipient_loses_its_entity(
    hass: HomeAssistant, town: Emulator, loaded_app: MockConfigEntry
) -> None:
    """Removing a person reloads the app without their entity."""
    del town
    entity_id = entity_of(hass, loaded_app, PERSON_SUBENTRY_ID)
    assert hass.states.get(entity_id) is not None
    assert hass.config_entries.async_remove_subentry(loaded_app, PERSON_SUBENTRY_ID)
    await hass.async_block_till_done()
    assert loaded_app.state is ConfigEntryState.LOADED
    assert set(loaded_app.runtime_data.targets) == {GROUP_SUBENTRY_ID}
    assert er.async_get(hass).async_get(entity_id) is None
    assert hass.states.get(entity_id) is None
    devices = dr.async_get(hass)
    device = devices.async_get_device_by_identifier(
        (DOMAIN, PERSON_SUBENTRY_ID), loaded_app.entry_id
    )
    assert device is None
