"""The config flow of a DingTalk app: add, reauthenticate, reconfigure, options."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    ConfigEntryState,
)
from homeassistant.const import CONF_NAME
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.dingtalk.api import DEFAULT_API_BASE, DEFAULT_OAPI_BASE
from custom_components.dingtalk.api.app_client import DingTalkAppClient
from custom_components.dingtalk.config_flow import (
    DingTalkConfigFlow,
    DingTalkOptionsFlow,
)
from custom_components.dingtalk.const import (
    CONF_ADVANCED,
    CONF_ALLOWED_USERS,
    CONF_API_BASE,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_COMBINE,
    CONF_CONVERSATION_AGENT,
    CONF_DEFAULT_FORMAT,
    CONF_DEFAULT_TARGET,
    CONF_KIND,
    CONF_OAPI_BASE,
    CONF_ROBOT_CODE,
    CONF_SEND_TEST_MESSAGE,
    CONF_UNSURE,
    DOMAIN,
    SUBENTRY_GROUP,
    SUBENTRY_PERSON,
    EntryKind,
)
from custom_components.dingtalk.flow_app import PROBE_USER_ID, app_data
from custom_components.dingtalk.outbox import UnsureDelivery
from custom_components.dingtalk.runtime import DingTalkAppRuntime
from dingtalk_emulator import AppConfig, AppFault, AppFaultKind

from .app_helpers import (
    advanced,
    app_input,
    bare_app_entry,
    frontend_json,
    placeholders,
    start_app_flow,
    suggested,
    unused_port,
)
from .conftest import (
    APP_CLIENT_ID,
    APP_CLIENT_SECRET,
    APP_NAME,
    ROBOT_NAME,
    RobotEnv,
    app_data as stored_app_data,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.config_entries import ConfigFlowResult
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from dingtalk_emulator import Emulator, EmulatorServer

OTHER_CLIENT_ID = "dingappother0002"
OTHER_CLIENT_SECRET = "other-secret-" + "9876543210" * 4
NEW_SECRET = "new-secret-" + "5555555555" * 4


def _replace_app(emulator: Emulator, **changes: Any) -> None:  # noqa: ANN401 - AppConfig fields
    """Change the Home app in DingTalk (the console's Reset, a new robot)."""
    app = emulator.apps._app(APP_CLIENT_ID)
    app.config = dataclasses.replace(app.config, **changes)
    emulator.apps.expire_tokens(APP_CLIENT_ID)


# -- adding an app ---------------------------------------------------------------------


async def test_app_added_without_sending(
    hass: HomeAssistant, app_emulator: Emulator, robot_server: EmulatorServer
) -> None:
    """Correct credentials add the app; the probe reaches nobody."""
    flow_id = await start_app_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        app_input(
            robot_server,
            **{CONF_NAME: f" {APP_NAME} ", CONF_CLIENT_ID: f" {APP_CLIENT_ID} "},
        ),
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == APP_NAME
    assert result["description"] == "app_added"
    assert result["description_placeholders"] == {"name": APP_NAME}
    assert result["data"] == {
        CONF_KIND: EntryKind.APP.value,
        CONF_CLIENT_ID: APP_CLIENT_ID,
        CONF_CLIENT_SECRET: APP_CLIENT_SECRET,
        CONF_ROBOT_CODE: APP_CLIENT_ID,
        CONF_API_BASE: robot_server.base_url,
        CONF_OAPI_BASE: robot_server.base_url,
    }
    entry = result["result"]
    assert entry.unique_id == APP_CLIENT_ID
    assert entry.state is ConfigEntryState.LOADED
    assert entry.subentries == {}
    apps = app_emulator.apps
    assert apps.messages() == []
    [probe] = [request for request in apps.requests if request.api == "batchSend"]
    assert probe.http_status == 200
    assert probe.delivered == 0
    assert PROBE_USER_ID in probe.body
    assert robot_server.base_url not in frontend_json(result)


async def test_app_blank_name_and_robot_code(
    hass: HomeAssistant, app_emulator: Emulator, robot_server: EmulatorServer
) -> None:
    """A blank name is DingTalk; a blank robot code is the Client ID."""
    flow_id = await start_app_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, app_input(robot_server, **{CONF_NAME: " ", CONF_ROBOT_CODE: "  "})
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "DingTalk"
    assert result["data"][CONF_ROBOT_CODE] == APP_CLIENT_ID
    assert app_emulator.apps.messages() == []


def test_app_data_defaults() -> None:
    """Empty hosts and robot code mean DingTalk's hosts and the Client ID."""
    form = {
        CONF_NAME: "x",
        CONF_CLIENT_ID: f" {APP_CLIENT_ID} ",
        CONF_CLIENT_SECRET: APP_CLIENT_SECRET,
    }
    assert app_data(form, {}) == {
        CONF_KIND: EntryKind.APP.value,
        CONF_CLIENT_ID: APP_CLIENT_ID,
        CONF_CLIENT_SECRET: APP_CLIENT_SECRET,
        CONF_ROBOT_CODE: APP_CLIENT_ID,
        CONF_API_BASE: DEFAULT_API_BASE,
        CONF_OAPI_BASE: DEFAULT_OAPI_BASE,
    }


type Breaker = Callable[
    [Emulator, "EmulatorServer"], tuple[dict[str, Any], Callable[[], None]]
]


def _nothing() -> None:
    """Repair nothing: the form change alone caused the error."""


def _change(**changes: object) -> Breaker:
    """Change the form only."""
    return lambda _emulator, _server: (dict(changes), _nothing)


def _hosts(**hosts: str) -> Breaker:
    """Change the Advanced hosts only."""
    return lambda _emulator, server: (
        {CONF_ADVANCED: advanced(server, **hosts)},
        _nothing,
    )


def _unpublished(
    emulator: Emulator, _server: EmulatorServer
) -> tuple[dict[str, Any], Callable[[], None]]:
    """Unpublish the app's robot."""
    emulator.apps.set_published(APP_CLIENT_ID, published=False)
    return {}, lambda: emulator.apps.set_published(APP_CLIENT_ID, published=True)


def _no_permission(
    emulator: Emulator, _server: EmulatorServer
) -> tuple[dict[str, Any], Callable[[], None]]:
    """Take the send permission away from the app."""
    before = emulator.apps.app(APP_CLIENT_ID).permissions
    emulator.apps.set_permissions(APP_CLIENT_ID, frozenset({"qyapi_base"}))
    return {}, lambda: emulator.apps.set_permissions(APP_CLIENT_ID, before)


def _fault(kind: AppFaultKind, count: int = 1) -> Breaker:
    """Make the app's next calls fail."""

    def make(
        emulator: Emulator, _server: EmulatorServer
    ) -> tuple[dict[str, Any], Callable[[], None]]:
        emulator.apps.inject_fault(APP_CLIENT_ID, AppFault(kind, count=count))
        return {}, lambda: emulator.apps.clear_faults(APP_CLIENT_ID)

    return make


def _refused(
    _emulator: Emulator, server: EmulatorServer
) -> tuple[dict[str, Any], Callable[[], None]]:
    """Point both hosts at a local port nothing listens on."""
    dead = f"http://127.0.0.1:{unused_port()}"
    del server
    return {CONF_ADVANCED: {CONF_API_BASE: dead, CONF_OAPI_BASE: dead}}, _nothing


BREAKERS: dict[str, Breaker] = {
    "wrong_secret": _change(**{CONF_CLIENT_SECRET: "wrong-secret"}),
    "unknown_client_id": _change(**{CONF_CLIENT_ID: "dingnobody"}),
    "unpublished": _unpublished,
    "wrong_robot_code": _change(**{CONF_ROBOT_CODE: OTHER_CLIENT_ID}),
    "no_permission": _no_permission,
    "refused": _refused,
    "qps": _fault(AppFaultKind.QPS),
    "busy": _fault(AppFaultKind.BUSY),
    "non_json": _fault(AppFaultKind.NON_JSON),
    "dropped": _fault(AppFaultKind.DROP),
}


@pytest.mark.usefixtures("app_emulator")
@pytest.mark.parametrize(
    ("breaker", "errors", "details"),
    [
        (
            "wrong_secret",
            {"base": "invalid_app_credentials"},
            {
                "errcode": "invalidClientIdOrSecret",
                "errmsg": "无效的clientId或者clientSecret",
            },
        ),
        ("unknown_client_id", {"base": "invalid_app_credentials"}, None),
        (
            "unpublished",
            {"base": "app_robot_unavailable"},
            {
                "errcode": "invalidParameter.robotCode.notExsit",
                "errmsg": "机器人不存在",
            },
        ),
        (
            "wrong_robot_code",
            {CONF_ROBOT_CODE: "invalid_robot_code"},
            {
                "errcode": "invalidParameter.robotCode.auth",
                "errmsg": "robotCode 与 access_token 的应用不匹配",
            },
        ),
        ("no_permission", {"base": "permission_denied"}, None),
        ("refused", {"base": "cannot_connect"}, {}),
        ("qps", {"base": "rate_limited"}, None),
        ("busy", {"base": "api_error"}, None),
        ("non_json", {"base": "cannot_connect"}, {}),
        ("dropped", {"base": "cannot_connect"}, {}),
    ],
)
async def test_app_errors_then_recovery(
    hass: HomeAssistant,
    robot_env: RobotEnv,
    breaker: str,
    errors: dict[str, str],
    details: dict[str, str] | None,
) -> None:
    """Each refusal points at its field; the corrected form adds the app."""
    app_emulator, robot_server = robot_env.emulator, robot_env.server
    flow_id = await start_app_flow(hass)
    changes, fix = BREAKERS[breaker](app_emulator, robot_server)
    result = await hass.config_entries.flow.async_configure(
        flow_id, app_input(robot_server) | changes
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "app"
    assert result["errors"] == errors
    if details is not None:
        assert placeholders(result) == details
    else:
        assert set(placeholders(result)) == {"errcode", "errmsg"}
    assert app_emulator.apps.messages() == []

    fix()
    result = await hass.config_entries.flow.async_configure(
        flow_id, app_input(robot_server)
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == APP_CLIENT_ID
    assert app_emulator.apps.messages() == []


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({CONF_CLIENT_ID: "  "}, {CONF_CLIENT_ID: "identifier_empty"}),
        ({CONF_CLIENT_ID: "ding app"}, {CONF_CLIENT_ID: "identifier_invalid"}),
        ({CONF_CLIENT_SECRET: " "}, {CONF_CLIENT_SECRET: "identifier_empty"}),
        ({CONF_CLIENT_SECRET: "a\tb"}, {CONF_CLIENT_SECRET: "identifier_invalid"}),
        ({CONF_ROBOT_CODE: "robot code"}, {CONF_ROBOT_CODE: "identifier_invalid"}),
        ({"api": "http://api.example.com"}, {"base": "api_base_insecure"}),
        ({"oapi": "http://oapi.example.com"}, {"base": "oapi_base_insecure"}),
        ({"api": "not a url"}, {"base": "api_base_invalid"}),
        ({"api": "ftp://127.0.0.1"}, {"base": "api_base_invalid"}),
        ({"api": "https://user:pw@api.example.com"}, {"base": "api_base_invalid"}),
        ({"api": "https://api.example.com/?x=1"}, {"base": "api_base_invalid"}),
        ({"api": "https://api.example.com:99999"}, {"base": "api_base_invalid"}),
        ({"oapi": "https://"}, {"base": "oapi_base_invalid"}),
    ],
)
async def test_app_settings_refused_before_any_request(
    hass: HomeAssistant,
    app_emulator: Emulator,
    robot_server: EmulatorServer,
    changes: dict[str, str],
    errors: dict[str, str],
) -> None:
    """Settings no client can use are refused without asking DingTalk."""
    flow_id = await start_app_flow(hass)
    hosts = {
        key: changes.pop(short)
        for short, key in (("api", CONF_API_BASE), ("oapi", CONF_OAPI_BASE))
        if short in changes
    }
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        app_input(
            robot_server, **changes, **{CONF_ADVANCED: advanced(robot_server, **hosts)}
        ),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert placeholders(result) == {}
    assert app_emulator.apps.requests == []


async def test_app_secret_never_shown_again(
    hass: HomeAssistant, app_emulator: Emulator, robot_server: EmulatorServer
) -> None:
    """A re-shown form keeps what was entered, except the Client Secret."""
    del app_emulator
    flow_id = await start_app_flow(hass)
    secret = "typed-secret-" + "7" * 30
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        app_input(robot_server, **{CONF_CLIENT_SECRET: secret, CONF_ROBOT_CODE: "x y"}),
    )
    assert result["errors"] == {CONF_ROBOT_CODE: "identifier_invalid"}
    assert secret not in frontend_json(result)
    assert suggested(result) == {
        CONF_NAME: APP_NAME,
        CONF_CLIENT_ID: APP_CLIENT_ID,
        CONF_ROBOT_CODE: "x y",
        CONF_ADVANCED: advanced(robot_server),
    }


async def test_app_unexpected_exception(
    hass: HomeAssistant, app_emulator: Emulator, robot_server: EmulatorServer
) -> None:
    """An exception the check does not expect says unknown; a retry still works."""
    flow_id = await start_app_flow(hass)
    with patch.object(
        DingTalkAppClient, "async_send_to_users", side_effect=RuntimeError("boom")
    ):
        result = await hass.config_entries.flow.async_configure(
            flow_id, app_input(robot_server)
        )
    assert result["errors"] == {"base": "unknown"}
    assert placeholders(result) == {}

    result = await hass.config_entries.flow.async_configure(
        flow_id, app_input(robot_server)
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert app_emulator.apps.messages() == []


@pytest.mark.parametrize("client_id", [APP_CLIENT_ID, f" {APP_CLIENT_ID} "])
async def test_app_already_configured(
    hass: HomeAssistant,
    app_emulator: Emulator,
    robot_server: EmulatorServer,
    client_id: str,
) -> None:
    """The same Client ID cannot be added twice; the abort names the other entry."""
    bare_app_entry(robot_server, title="Family app").add_to_hass(hass)
    flow_id = await start_app_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        app_input(robot_server, **{CONF_NAME: "New", CONF_CLIENT_ID: client_id}),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "app_already_configured"
    assert result["description_placeholders"] == {"other": "Family app"}
    assert app_emulator.apps.requests == []


@pytest.fixture
def other_app(app_emulator: Emulator) -> Emulator:
    """Give DingTalk a second app, Other."""
    app_emulator.apps.add_app(
        AppConfig(client_id=OTHER_CLIENT_ID, client_secret=OTHER_CLIENT_SECRET)
    )
    return app_emulator


@pytest.fixture
def neighbours(
    hass: HomeAssistant, config_entry: MockConfigEntry, app_entry: MockConfigEntry
) -> None:
    """Add the Ops robot and the Home app with Alice and Garden (not set up)."""
    config_entry.add_to_hass(hass)
    app_entry.add_to_hass(hass)


@pytest.mark.usefixtures("neighbours")
@pytest.mark.parametrize(
    "name", ["ops", " OPS! ", "alice", "Garden", "home app", "Home-App"]
)
async def test_app_name_in_use(
    hass: HomeAssistant,
    other_app: Emulator,
    robot_server: EmulatorServer,
    name: str,
) -> None:
    """An app cannot take the name of a robot, an app or a recipient."""
    flow_id = await start_app_flow(hass)
    form = app_input(
        robot_server,
        **{
            CONF_CLIENT_ID: OTHER_CLIENT_ID,
            CONF_CLIENT_SECRET: OTHER_CLIENT_SECRET,
        },
    )
    result = await hass.config_entries.flow.async_configure(
        flow_id, form | {CONF_NAME: name}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_NAME: "name_in_use"}
    assert other_app.apps.requests == []

    result = await hass.config_entries.flow.async_configure(
        flow_id, form | {CONF_NAME: "Office app"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Office app"
    assert result["result"].unique_id == OTHER_CLIENT_ID


def test_subentry_types(
    config_entry: MockConfigEntry, app_entry: MockConfigEntry
) -> None:
    """Only an app has people and groups."""
    assert DingTalkConfigFlow.async_get_supported_subentry_types(config_entry) == {}
    types = DingTalkConfigFlow.async_get_supported_subentry_types(app_entry)
    assert set(types) == {SUBENTRY_PERSON, SUBENTRY_GROUP}


async def test_subentry_types_as_the_frontend_sees_them(
    hass: HomeAssistant, config_entry: MockConfigEntry, app_entry: MockConfigEntry
) -> None:
    """The frontend offers Add person and Add group on an app only."""
    config_entry.add_to_hass(hass)
    app_entry.add_to_hass(hass)
    assert config_entry.supported_subentry_types == {}
    assert app_entry.supported_subentry_types == {
        SUBENTRY_PERSON: {"supports_reconfigure": True},
        SUBENTRY_GROUP: {"supports_reconfigure": True},
    }


# -- reauthentication ------------------------------------------------------------------


def entry_state(entry: MockConfigEntry) -> ConfigEntryState:
    """Return an entry's state (a call: not narrowed by an earlier assert)."""
    state: ConfigEntryState = entry.state
    return state


def assert_no_secret(result: ConfigFlowResult, *secrets: str) -> None:
    """Check that no Client Secret reaches the frontend."""
    assert result["type"] is FlowResultType.FORM
    sent = frontend_json(result)
    for secret in (APP_CLIENT_SECRET, NEW_SECRET, *secrets):
        assert secret not in sent


async def test_reauth_after_rejected_credentials(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """A refused secret at setup starts reauthentication; a new one fixes the app."""
    _replace_app(app_emulator, client_secret=NEW_SECRET)
    app_entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(app_entry.entry_id)
    await hass.async_block_till_done()
    assert app_entry.state is ConfigEntryState.SETUP_ERROR

    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["source"] == SOURCE_REAUTH
    assert flow["step_id"] == "reauth_app"
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
    assert result["step_id"] == "reauth_app"
    assert result["errors"] == {"base": "invalid_app_credentials"}
    assert result["description_placeholders"] == {
        "name": APP_NAME,
        "client_id": APP_CLIENT_ID,
        "errcode": "invalidClientIdOrSecret",
        "errmsg": "无效的clientId或者clientSecret",
    }
    assert_no_secret(result)
    assert suggested(result) == {}

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_CLIENT_SECRET: f" {NEW_SECRET} "}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert app_entry.data[CONF_CLIENT_SECRET] == NEW_SECRET
    assert app_entry.data[CONF_ROBOT_CODE] == APP_CLIENT_ID
    assert entry_state(app_entry) is ConfigEntryState.LOADED
    assert app_emulator.apps.messages() == []


async def test_reauth_empty_secret_keeps_the_stored_one(
    hass: HomeAssistant, app_emulator: Emulator, loaded_app: MockConfigEntry
) -> None:
    """An empty field keeps the stored secret, which DingTalk accepts again."""
    stored = dict(loaded_app.data)
    result = await loaded_app.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_app"
    assert result["errors"] == {}
    assert result["description_placeholders"] == {
        "name": APP_NAME,
        "client_id": APP_CLIENT_ID,
    }
    assert_no_secret(result)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_SECRET: "  "}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert dict(loaded_app.data) == stored
    assert loaded_app.state is ConfigEntryState.LOADED
    assert app_emulator.apps.messages() == []


async def test_reauth_started_by_entry(
    hass: HomeAssistant, app_emulator: Emulator, loaded_app: MockConfigEntry
) -> None:
    """async_start_reauth opens the app's own step, and a wrong secret is re-asked."""
    loaded_app.async_start_reauth(hass)
    await hass.async_block_till_done()
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["step_id"] == "reauth_app"
    app_emulator.apps.set_published(APP_CLIENT_ID, published=False)
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
    # The robot code is not on this form: its error is the form's.
    assert result["errors"] == {"base": "app_robot_unavailable"}
    assert_no_secret(result)
    assert loaded_app.data[CONF_CLIENT_SECRET] == APP_CLIENT_SECRET

    app_emulator.apps.set_published(APP_CLIENT_ID, published=True)
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
    await hass.async_block_till_done()
    assert result["reason"] == "reauth_successful"


# -- reconfigure -----------------------------------------------------------------------


async def test_reconfigure_suggests_all_but_the_secret(
    hass: HomeAssistant, robot_server: EmulatorServer, loaded_app: MockConfigEntry
) -> None:
    """The form suggests the robot code and hosts, never the Client Secret."""
    result = await loaded_app.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure_app"
    assert result["errors"] == {}
    assert result["description_placeholders"] == {
        "name": APP_NAME,
        "client_id": APP_CLIENT_ID,
    }
    assert suggested(result) == {
        CONF_ROBOT_CODE: APP_CLIENT_ID,
        CONF_ADVANCED: advanced(robot_server),
    }
    assert_no_secret(result)


async def test_reconfigure_default_hosts_not_suggested(
    hass: HomeAssistant, app_emulator: Emulator, robot_server: EmulatorServer
) -> None:
    """DingTalk's own hosts are not suggested: the empty fields mean them."""
    del app_emulator
    entry = bare_app_entry(
        robot_server,
        **{CONF_API_BASE: DEFAULT_API_BASE, CONF_OAPI_BASE: DEFAULT_OAPI_BASE},
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert suggested(result) == {CONF_ROBOT_CODE: APP_CLIENT_ID, CONF_ADVANCED: {}}


async def test_reconfigure_changes_hosts_and_robot_code(
    hass: HomeAssistant,
    app_emulator: Emulator,
    robot_server: EmulatorServer,
    loaded_app: MockConfigEntry,
) -> None:
    """A wrong robot code is refused on its field; new hosts are saved and reloaded."""
    runtime = loaded_app.runtime_data
    result = await loaded_app.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_CLIENT_SECRET: APP_CLIENT_SECRET,
            CONF_ROBOT_CODE: OTHER_CLIENT_ID,
            CONF_ADVANCED: advanced(robot_server),
        },
    )
    assert result["step_id"] == "reconfigure_app"
    assert result["errors"] == {CONF_ROBOT_CODE: "invalid_robot_code"}
    assert placeholders(result)["errcode"] == "invalidParameter.robotCode.auth"
    assert placeholders(result)["name"] == APP_NAME
    assert suggested(result) == {
        CONF_ROBOT_CODE: OTHER_CLIENT_ID,
        CONF_ADVANCED: advanced(robot_server),
    }
    assert_no_secret(result)
    assert loaded_app.data == stored_app_data(robot_server)

    async with app_emulator.serve() as moved:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {
                CONF_ROBOT_CODE: " ",
                CONF_ADVANCED: {
                    CONF_API_BASE: moved.base_url,
                    CONF_OAPI_BASE: f" {moved.base_url} ",
                },
            },
        )
        await hass.async_block_till_done()
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        assert loaded_app.data == stored_app_data(
            robot_server,
            **{CONF_API_BASE: moved.base_url, CONF_OAPI_BASE: moved.base_url},
        )
        assert loaded_app.state is ConfigEntryState.LOADED
        assert loaded_app.runtime_data is not runtime
        assert app_emulator.apps.requests[-1].api == "token"
    assert app_emulator.apps.messages() == []


async def test_reconfigure_new_robot_code(
    hass: HomeAssistant,
    app_emulator: Emulator,
    robot_server: EmulatorServer,
    loaded_app: MockConfigEntry,
) -> None:
    """A robot with its own RobotCode is proven with the probe, then saved."""
    _replace_app(app_emulator, robot_code="dingrobot0099")
    result = await loaded_app.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ADVANCED: advanced(robot_server)}
    )
    assert result["errors"] == {CONF_ROBOT_CODE: "invalid_robot_code"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_ROBOT_CODE: " dingrobot0099 ", CONF_ADVANCED: advanced(robot_server)},
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert loaded_app.data == stored_app_data(
        robot_server, **{CONF_ROBOT_CODE: "dingrobot0099"}
    )
    assert loaded_app.runtime_data.client.robot_code == "dingrobot0099"
    assert app_emulator.apps.messages() == []


@pytest.mark.parametrize(
    ("form", "errors"),
    [
        ({CONF_CLIENT_SECRET: "wrong"}, {"base": "invalid_app_credentials"}),
        ({CONF_ROBOT_CODE: "a b"}, {CONF_ROBOT_CODE: "identifier_invalid"}),
        ({"api": "http://api.example.com"}, {"base": "api_base_insecure"}),
        ({"oapi": "mailto:x@example.com"}, {"base": "oapi_base_invalid"}),
    ],
)
async def test_reconfigure_errors(
    hass: HomeAssistant,
    robot_server: EmulatorServer,
    loaded_app: MockConfigEntry,
    form: dict[str, str],
    errors: dict[str, str],
) -> None:
    """Refused settings are shown on the form and nothing is saved."""
    hosts = {
        key: form.pop(short)
        for short, key in (("api", CONF_API_BASE), ("oapi", CONF_OAPI_BASE))
        if short in form
    }
    result = await loaded_app.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form | {CONF_ADVANCED: advanced(robot_server, **hosts)}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert_no_secret(result, "wrong")
    assert loaded_app.data == stored_app_data(robot_server)


async def test_reconfigure_new_secret(
    hass: HomeAssistant,
    app_emulator: Emulator,
    robot_server: EmulatorServer,
    loaded_app: MockConfigEntry,
) -> None:
    """Reconfigure takes a reset Client Secret too."""
    _replace_app(app_emulator, client_secret=NEW_SECRET)
    result = await loaded_app.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure_app"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_CLIENT_SECRET: NEW_SECRET, CONF_ADVANCED: advanced(robot_server)},
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert loaded_app.data == stored_app_data(
        robot_server, **{CONF_CLIENT_SECRET: NEW_SECRET}
    )
    assert loaded_app.state is ConfigEntryState.LOADED


async def test_robot_reauth_when_not_loaded(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """A robot that is not loaded has delivered nothing: its reauth form is shown."""
    config_entry.add_to_hass(hass)
    result = await config_entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SEND_TEST_MESSAGE: False}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"


# -- options ---------------------------------------------------------------------------


async def test_app_options(hass: HomeAssistant, loaded_app: MockConfigEntry) -> None:
    """An app's options have their own step; saving them reloads the app."""
    runtime = loaded_app.runtime_data
    result = await hass.config_entries.options.async_init(loaded_app.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "app"
    assert result["description_placeholders"] == {"name": APP_NAME}
    schema = result["data_schema"]
    assert schema is not None
    fields = [str(key) for key in schema.schema]
    assert fields[:3] == [CONF_DEFAULT_FORMAT, CONF_COMBINE, CONF_UNSURE]
    assert CONF_DEFAULT_TARGET not in fields

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_DEFAULT_FORMAT: "markdown",
            CONF_COMBINE: False,
            CONF_UNSURE: UnsureDelivery.REPORT,
        },
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert loaded_app.options == {
        CONF_DEFAULT_FORMAT: "markdown",
        CONF_COMBINE: False,
        CONF_UNSURE: UnsureDelivery.REPORT,
    }
    new_runtime = loaded_app.runtime_data
    assert isinstance(new_runtime, DingTalkAppRuntime)
    assert new_runtime is not runtime
    assert {target.default_format for target in new_runtime.targets.values()} == {
        "markdown"
    }

    result = await hass.config_entries.options.async_init(loaded_app.entry_id)
    assert suggested(result) == loaded_app.options


@pytest.mark.parametrize(
    ("form", "errors", "details"),
    [
        (
            {CONF_ALLOWED_USERS: [" alice01 ", "bob@home"]},
            {CONF_ALLOWED_USERS: "invalid_user_id"},
            {"user_id": "bob@home"},
        ),
        (
            {CONF_CONVERSATION_AGENT: "conversation.home_assistant"},
            {CONF_CONVERSATION_AGENT: "assist_needs_receiving"},
            {},
        ),
    ],
)
async def test_app_options_errors(
    hass: HomeAssistant,
    loaded_app: MockConfigEntry,
    form: dict[str, Any],
    errors: dict[str, str],
    details: dict[str, str],
) -> None:
    """Options that cannot work are shown again with their error, and not saved."""
    runtime = loaded_app.runtime_data
    result = await hass.config_entries.options.async_init(loaded_app.entry_id)
    user_input = {
        CONF_DEFAULT_FORMAT: "text",
        CONF_COMBINE: True,
        CONF_UNSURE: UnsureDelivery.RESEND,
    } | form
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], user_input
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "app"
    assert result["errors"] == errors
    assert result["description_placeholders"] == {"name": APP_NAME} | details
    assert suggested(result) == user_input
    assert loaded_app.options == {}
    assert loaded_app.runtime_data is runtime


async def test_app_options_allowlist_cleaned(
    hass: HomeAssistant, loaded_app: MockConfigEntry
) -> None:
    """The allowlist is stored stripped, without blanks and duplicates."""
    result = await hass.config_entries.options.async_init(loaded_app.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_DEFAULT_FORMAT: "auto",
            CONF_COMBINE: True,
            CONF_UNSURE: UnsureDelivery.RESEND,
            CONF_ALLOWED_USERS: [" alice01 ", "", "alice01", "bob02"],
        },
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert loaded_app.options[CONF_ALLOWED_USERS] == ["alice01", "bob02"]


async def test_app_options_step_shown_directly(
    hass: HomeAssistant, loaded_app: MockConfigEntry
) -> None:
    """The app step without input shows the same form as the first step."""
    result = await hass.config_entries.options.async_init(loaded_app.entry_id)
    flow = hass.config_entries.options._progress[result["flow_id"]]
    assert isinstance(flow, DingTalkOptionsFlow)
    again = await flow.async_step_app()
    assert again["type"] is FlowResultType.FORM
    assert again["step_id"] == "app"
    assert again["errors"] == {}
    assert again["description_placeholders"] == {"name": APP_NAME}
    assert frontend_json(again) == frontend_json(result)


async def test_robot_options_step(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """A robot's options keep the init step, with its default target."""
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert result["step_id"] == "init"
    assert result["description_placeholders"] == {"name": ROBOT_NAME}
    schema = result["data_schema"]
    assert schema is not None
    assert CONF_DEFAULT_TARGET in {str(key) for key in schema.schema}
    assert CONF_UNSURE not in {str(key) for key in schema.schema}
