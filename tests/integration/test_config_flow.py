"""The config flow: add a robot, reauthenticate, reconfigure, options."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from unittest.mock import patch

from homeassistant.components.notify.const import (
    DOMAIN as NOTIFY_DOMAIN,
    SERVICE_SEND_MESSAGE,
)
from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntryState,
)
from homeassistant.const import ATTR_ENTITY_ID, CONF_NAME
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import config_validation as cv
import probatio
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.dingtalk.api import (
    DingTalkClient,
    InvalidMessageError,
    MessageFormatError,
    Problem,
    error_from_response,
)
from custom_components.dingtalk.const import (
    CONF_COMBINE,
    CONF_DEFAULT_FORMAT,
    CONF_DEFAULT_TARGET,
    CONF_KEYWORDS,
    CONF_SECRET,
    CONF_SEND_TEST_MESSAGE,
    CONF_WEBHOOK,
    DOMAIN,
)
from custom_components.dingtalk.entry_data import normalize_keywords
from dingtalk_emulator import Fault, FaultKind, RobotConfig, RobotState

from .conftest import (
    KEYWORD,
    OTHER_TOKEN,
    ROBOT_NAME,
    SECRET,
    TOKEN,
    RobotEnv,
    entry_data,
    fingerprint,
    stable,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.config_entries import ConfigFlowResult
    from homeassistant.core import HomeAssistant
    from syrupy.assertion import SnapshotAssertion

    from dingtalk_emulator import Emulator, EmulatorServer

IP_TOKEN = "c0ffee00" * 8
UNKNOWN_TOKEN = "deadbeef" * 8
NEW_TOKEN = "0badc0de" * 8


def user_input(server: EmulatorServer, **changes: object) -> dict[str, object]:
    """Return a complete, correct user step for the Ops robot."""
    return {
        CONF_NAME: ROBOT_NAME,
        CONF_WEBHOOK: server.webhook_url(TOKEN),
        CONF_SECRET: SECRET,
        CONF_KEYWORDS: [KEYWORD],
        CONF_SEND_TEST_MESSAGE: True,
    } | changes


async def start_user_flow(hass: HomeAssistant) -> str:
    """Open the menu, choose a group robot, and return the flow id."""
    menu = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert menu["type"] is FlowResultType.MENU
    assert menu["menu_options"] == ["robot", "app"]
    result = await hass.config_entries.flow.async_configure(
        menu["flow_id"], {"next_step_id": "robot"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "robot"
    assert result["errors"] == {}
    return result["flow_id"]


async def test_user_sends_test_message(
    hass: HomeAssistant,
    robot_server: EmulatorServer,
    robot_emulator: Emulator,
    snapshot: SnapshotAssertion,
) -> None:
    """A robot that answers the visible test message is added."""
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        user_input(
            robot_server, **{CONF_WEBHOOK: f" {robot_server.webhook_url(TOKEN)} "}
        ),
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == ROBOT_NAME
    assert result["data"] == {
        CONF_WEBHOOK: robot_server.webhook_url(TOKEN),
        CONF_SECRET: SECRET,
        CONF_KEYWORDS: [KEYWORD],
    }
    assert result["result"].unique_id == fingerprint(TOKEN)
    assert TOKEN not in result["result"].unique_id
    [message] = robot_emulator.delivered(TOKEN)
    assert stable(message) == snapshot


async def test_user_test_message_in_chinese(
    hass: HomeAssistant, robot_server: EmulatorServer, robot_emulator: Emulator
) -> None:
    """The test message follows the language of Home Assistant."""
    hass.config.language = "zh-Hans"
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, user_input(robot_server)
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    [message] = robot_emulator.delivered(TOKEN)
    assert message.payload["text"]["content"].startswith("Home Assistant 已连接")


async def test_user_probe_posts_nothing(
    hass: HomeAssistant, robot_server: EmulatorServer, robot_emulator: Emulator
) -> None:
    """Without a test message the probe proves the robot and nothing is delivered."""
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        user_input(
            robot_server,
            **{CONF_SEND_TEST_MESSAGE: False, CONF_KEYWORDS: ["alarm, other"]},
        ),
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_KEYWORDS] == [KEYWORD, "other"]
    assert robot_emulator.delivered(TOKEN) == []
    [request] = robot_emulator.requests
    assert request.signature_verified is True
    assert request.errcode == 400402


async def test_user_without_secret_or_keywords(
    hass: HomeAssistant, robot_server: EmulatorServer, robot_emulator: Emulator
) -> None:
    """A robot secured by its IP allowlist only needs its webhook."""
    robot_emulator.add_robot(
        RobotConfig(access_token=IP_TOKEN, ip_allowlist=("127.0.0.1/32",))
    )
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {
            CONF_NAME: "  ",
            CONF_WEBHOOK: robot_server.webhook_url(IP_TOKEN),
            CONF_SEND_TEST_MESSAGE: False,
        },
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "DingTalk"
    assert result["data"][CONF_SECRET] is None
    assert result["data"][CONF_KEYWORDS] == []


type Breaker = Callable[[RobotEnv], tuple[dict[str, object], Callable[[], None]]]


def _nothing() -> None:
    """Repair nothing: the form change alone caused the error."""


def _fault(kind: FaultKind) -> Breaker:
    """Make the next request fail with a fault."""

    def make(env: RobotEnv) -> tuple[dict[str, object], Callable[[], None]]:
        env.emulator.inject_fault(TOKEN, Fault(kind))
        return {}, _nothing

    return make


BREAKERS: dict[str, Breaker] = {
    "not_a_webhook": lambda _env: ({CONF_WEBHOOK: SECRET}, _nothing),
    "unknown_token": lambda env: (
        {CONF_WEBHOOK: env.server.webhook_url(UNKNOWN_TOKEN)},
        _nothing,
    ),
    "wrong_secret": lambda _env: ({CONF_SECRET: "SEC" + "1" * 64}, _nothing),
    "missing_secret": lambda _env: ({CONF_SECRET: ""}, _nothing),
    "clock_skew": lambda env: ({}, env.skew(7200.0)),
    "missing_keyword": lambda _env: ({CONF_KEYWORDS: []}, _nothing),
    "too_many_keywords": lambda _env: (
        {CONF_KEYWORDS: [f"k{index}" for index in range(11)]},
        _nothing,
    ),
    "ip_not_allowed": lambda env: ({}, env.replace_robot(ip_allowlist=("10.0.0.0/8",))),
    "robot_disabled": lambda env: ({}, env.set_state(RobotState.DISABLED)),
    "rate_limited": _fault(FaultKind.RATE),
    "busy": _fault(FaultKind.BUSY),
    "http_5xx": _fault(FaultKind.HTTP_5XX),
    "non_json": _fault(FaultKind.NON_JSON),
    "dropped": _fault(FaultKind.DROP),
}


@pytest.mark.parametrize(
    ("breaker", "errors"),
    [
        ("not_a_webhook", {CONF_WEBHOOK: "webhook_looks_like_secret"}),
        ("unknown_token", {CONF_WEBHOOK: "invalid_token"}),
        ("wrong_secret", {CONF_SECRET: "invalid_signature"}),
        ("missing_secret", {CONF_SECRET: "secret_required"}),
        ("clock_skew", {"base": "clock_out_of_sync"}),
        ("missing_keyword", {CONF_KEYWORDS: "keyword_required"}),
        ("too_many_keywords", {CONF_KEYWORDS: "too_many_keywords"}),
        ("ip_not_allowed", {"base": "ip_not_allowed"}),
        ("robot_disabled", {"base": "robot_unavailable"}),
        ("rate_limited", {"base": "rate_limited"}),
        ("busy", {"base": "api_error"}),
        ("http_5xx", {"base": "cannot_connect"}),
        ("non_json", {"base": "cannot_connect"}),
        ("dropped", {"base": "cannot_connect"}),
    ],
)
@pytest.mark.parametrize("send_test_message", [True, False])
async def test_user_errors_then_recovery(
    hass: HomeAssistant,
    robot_env: RobotEnv,
    breaker: str,
    errors: dict[str, str],
    send_test_message: bool,
) -> None:
    """Each failure points at its field, and a corrected retry adds the robot."""
    flow_id = await start_user_flow(hass)
    changes, fix = BREAKERS[breaker](robot_env)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        user_input(robot_env.server, **{CONF_SEND_TEST_MESSAGE: send_test_message})
        | changes,
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors

    fix()
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        user_input(robot_env.server, **{CONF_SEND_TEST_MESSAGE: send_test_message}),
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_api_error_placeholders(
    hass: HomeAssistant, robot_server: EmulatorServer, robot_emulator: Emulator
) -> None:
    """An errcode without its own message is shown with DingTalk's text."""
    flow_id = await start_user_flow(hass)
    robot_emulator.inject_fault(TOKEN, Fault(FaultKind.BUSY))
    result = await hass.config_entries.flow.async_configure(
        flow_id, user_input(robot_server)
    )
    assert result["errors"] == {"base": "api_error"}
    assert result["description_placeholders"] == {
        "errcode": "-1",
        "errmsg": "系统繁忙",
    }


@pytest.mark.parametrize(
    ("error", "send_test_message", "expected"),
    [
        (MessageFormatError(400402, "markdown title missing"), True, "api_error"),
        (InvalidMessageError(Problem.REQUIRED, field="content"), True, "unknown"),
        (RuntimeError("boom"), False, "unknown"),
    ],
)
async def test_user_unexpected_errors(
    hass: HomeAssistant,
    robot_server: EmulatorServer,
    error: Exception,
    send_test_message: bool,
    expected: str,
) -> None:
    """Answers the flow does not expect end in an error, and a retry still works."""
    flow_id = await start_user_flow(hass)
    with patch.object(DingTalkClient, "send", side_effect=error):
        result = await hass.config_entries.flow.async_configure(
            flow_id,
            user_input(robot_server, **{CONF_SEND_TEST_MESSAGE: send_test_message}),
        )
    assert result["errors"] == {"base": expected}

    result = await hass.config_entries.flow.async_configure(
        flow_id, user_input(robot_server)
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_already_configured(
    hass: HomeAssistant,
    robot_server: EmulatorServer,
    robot_emulator: Emulator,
    config_entry: MockConfigEntry,
) -> None:
    """The same robot cannot be added twice, and nothing is sent for it."""
    config_entry.add_to_hass(hass)
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, user_input(robot_server, **{CONF_WEBHOOK: TOKEN})
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert robot_emulator.requests == []


def frontend_json(result: ConfigFlowResult) -> str:
    """Return what the frontend receives for a form: its fields and placeholders."""
    schema = result.get("data_schema")
    fields = (
        []
        if schema is None
        else probatio.to_field_list(schema, custom_serializer=cv.custom_serializer)
    )
    return json.dumps(
        [fields, result.get("description_placeholders")], ensure_ascii=False
    )


def assert_no_stored_credentials(result: ConfigFlowResult) -> None:
    """Check that the stored access token and secret never reach the frontend."""
    assert result["type"] is FlowResultType.FORM
    sent = frontend_json(result)
    assert TOKEN not in sent
    assert SECRET not in sent


async def start_flow(
    hass: HomeAssistant, entry: MockConfigEntry, source: str
) -> ConfigFlowResult:
    """Open the reauth or reconfigure form of an entry."""
    result: ConfigFlowResult
    if source == SOURCE_REAUTH:
        result = await entry.start_reauth_flow(hass)
        assert result["step_id"] == "reauth_confirm"
    else:
        result = await entry.start_reconfigure_flow(hass)
        assert result["step_id"] == "reconfigure"
    assert_no_stored_credentials(result)
    return result


@pytest.mark.parametrize(
    ("errcode", "errors"),
    [
        (400401, {}),
        (400402, {}),
        (400410, {}),
        (40035, {"base": "api_error"}),
        (43004, {"base": "api_error"}),
        (400105, {"base": "api_error"}),
        (400400, {"base": "api_error"}),
        (400411, {"base": "api_error"}),
    ],
)
async def test_probe_accepts_only_missing_field_answers(
    hass: HomeAssistant,
    robot_server: EmulatorServer,
    errcode: int,
    errors: dict[str, str],
) -> None:
    """Only "field missing" proves the probe passed; bad JSON or header does not."""
    flow_id = await start_user_flow(hass)
    with patch.object(
        DingTalkClient, "send", side_effect=error_from_response(errcode, "refused")
    ):
        result = await hass.config_entries.flow.async_configure(
            flow_id, user_input(robot_server, **{CONF_SEND_TEST_MESSAGE: False})
        )
    await hass.async_block_till_done()
    if errors:
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == errors
        assert result["description_placeholders"] == {
            "errcode": str(errcode),
            "errmsg": "refused",
        }
    else:
        assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize("name", ["ops", " OPS ", "Ops!", "Ops."])
async def test_user_name_in_use(
    hass: HomeAssistant,
    robot_server: EmulatorServer,
    robot_emulator: Emulator,
    other_entry: MockConfigEntry,
    name: str,
) -> None:
    """A name another robot has, ignoring case or as a slug, is refused."""
    other_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(other_entry, title="OPS")
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, user_input(robot_server, **{CONF_NAME: name})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_NAME: "name_in_use"}
    assert robot_emulator.requests == []

    result = await hass.config_entries.flow.async_configure(
        flow_id, user_input(robot_server, **{CONF_NAME: "Ops 2"})
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Ops 2"


async def test_reauth(
    hass: HomeAssistant,
    robot_server: EmulatorServer,
    robot_emulator: Emulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Reauthentication checks a new secret with the probe and keeps the webhook."""
    robot_emulator.remove_robot(TOKEN)
    new_secret = "SEC" + "2" * 64
    robot_emulator.add_robot(
        RobotConfig(access_token=TOKEN, secret=new_secret, keywords=(KEYWORD,))
    )
    result = await start_flow(hass, loaded_entry, SOURCE_REAUTH)
    assert result["description_placeholders"] == {"name": ROBOT_NAME}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_WEBHOOK: robot_server.webhook_url(TOKEN), CONF_SECRET: SECRET},
    )
    assert result["errors"] == {CONF_SECRET: "invalid_signature"}
    assert_no_stored_credentials(result)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_WEBHOOK: " ",
            CONF_SECRET: f" {new_secret} ",
            CONF_SEND_TEST_MESSAGE: False,
        },
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert loaded_entry.data == entry_data(robot_server, secret=new_secret)
    assert loaded_entry.unique_id == fingerprint(TOKEN)
    assert robot_emulator.delivered() == []


@pytest.mark.parametrize("source", [SOURCE_REAUTH, SOURCE_RECONFIGURE])
async def test_rotated_token_is_accepted(
    hass: HomeAssistant,
    robot_server: EmulatorServer,
    robot_emulator: Emulator,
    loaded_entry: MockConfigEntry,
    source: str,
) -> None:
    """A robot re-created in DingTalk has a new token: the entry follows it."""
    robot_emulator.remove_robot(TOKEN)
    robot_emulator.add_robot(
        RobotConfig(access_token=NEW_TOKEN, secret=SECRET, keywords=(KEYWORD,))
    )
    result = await start_flow(hass, loaded_entry, source)
    changes: dict[str, object] = {
        CONF_WEBHOOK: robot_server.webhook_url(NEW_TOKEN),
        CONF_SEND_TEST_MESSAGE: False,
    }
    if source == SOURCE_RECONFIGURE:
        changes[CONF_KEYWORDS] = [KEYWORD]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], changes)
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == f"{source}_successful"
    assert loaded_entry.unique_id == fingerprint(NEW_TOKEN)
    assert loaded_entry.data == entry_data(robot_server, NEW_TOKEN)
    assert loaded_entry.state is ConfigEntryState.LOADED
    await hass.services.async_call(
        NOTIFY_DOMAIN,
        SERVICE_SEND_MESSAGE,
        {ATTR_ENTITY_ID: "notify.ops", "message": "rotated"},
        blocking=True,
    )
    [message] = robot_emulator.delivered(NEW_TOKEN)
    assert message.payload["text"]["content"].startswith("rotated")


@pytest.mark.parametrize("source", [SOURCE_REAUTH, SOURCE_RECONFIGURE])
async def test_token_of_another_robot_is_a_webhook_error(
    hass: HomeAssistant,
    robot_env: RobotEnv,
    loaded_entry: MockConfigEntry,
    other_entry: MockConfigEntry,
    source: str,
) -> None:
    """Reauth and Reconfigure cannot take over another robot: the field says so."""
    other_entry.add_to_hass(hass)
    result = await start_flow(hass, loaded_entry, source)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_WEBHOOK: robot_env.server.webhook_url(OTHER_TOKEN)}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_WEBHOOK: "webhook_other_robot"}
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["other"] == other_entry.title
    assert robot_env.emulator.requests == []
    assert loaded_entry.unique_id == fingerprint(TOKEN)
    assert loaded_entry.data == entry_data(robot_env.server)


async def test_reauth_keyword_error_points_to_reconfigure(
    hass: HomeAssistant, robot_emulator: Emulator, loaded_entry: MockConfigEntry
) -> None:
    """The reauth form has no keywords field: the error says to use Reconfigure."""
    robot_emulator.remove_robot(TOKEN)
    robot_emulator.add_robot(
        RobotConfig(access_token=TOKEN, secret=SECRET, keywords=("告警",))
    )
    result = await start_flow(hass, loaded_entry, SOURCE_REAUTH)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "keyword_required_reconfigure"}
    assert_no_stored_credentials(result)


async def test_reconfigure(
    hass: HomeAssistant,
    robot_server: EmulatorServer,
    robot_emulator: Emulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Reconfigure changes the keywords after checking them, and reloads.

    The webhook and secret left empty keep their stored values; the form suggests
    the keywords only.
    """
    robot_emulator.remove_robot(TOKEN)
    robot_emulator.add_robot(
        RobotConfig(access_token=TOKEN, secret=SECRET, keywords=("告警",))
    )
    result = await start_flow(hass, loaded_entry, SOURCE_RECONFIGURE)
    schema = result["data_schema"]
    assert schema is not None
    suggested = {
        str(marker): marker.description["suggested_value"]
        for marker in schema.schema
        if marker.description
    }
    assert suggested == {CONF_KEYWORDS: [KEYWORD]}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_WEBHOOK: robot_server.webhook_url(TOKEN), CONF_SECRET: SECRET},
    )
    assert result["errors"] == {CONF_KEYWORDS: "keyword_required"}
    assert_no_stored_credentials(result)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_KEYWORDS: ["告警"]}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert loaded_entry.data == entry_data(robot_server, keywords=("告警",))
    assert loaded_entry.runtime_data.keywords == ("告警",)


async def test_reconfigure_repairs_a_broken_webhook(
    hass: HomeAssistant, robot_server: EmulatorServer, robot_emulator: Emulator
) -> None:
    """A robot whose stored webhook is broken gets a working one with Reconfigure."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=ROBOT_NAME,
        unique_id=fingerprint(TOKEN),
        data=entry_data(robot_server) | {CONF_WEBHOOK: "not a webhook"},
    )
    entry.add_to_hass(hass)
    result = await start_flow(hass, entry, SOURCE_RECONFIGURE)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_KEYWORDS: [KEYWORD]}
    )
    assert result["errors"] == {CONF_WEBHOOK: "webhook_bad_token"}
    assert_no_stored_credentials(result)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_WEBHOOK: robot_server.webhook_url(TOKEN),
            CONF_KEYWORDS: [KEYWORD],
            CONF_SEND_TEST_MESSAGE: False,
        },
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data == entry_data(robot_server)
    assert robot_emulator.delivered() == []


async def test_options(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    """Options change the default format and default target, and reload the robot."""
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_DEFAULT_FORMAT: "markdown", CONF_DEFAULT_TARGET: False},
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert loaded_entry.options == {
        CONF_DEFAULT_FORMAT: "markdown",
        CONF_DEFAULT_TARGET: False,
        CONF_COMBINE: True,
    }
    assert loaded_entry.runtime_data.default_format == "markdown"
    assert loaded_entry.runtime_data.default_target is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("a, b，c、a", ["a", "b", "c"]),
        (["x", " ", "y;z"], ["x", "y", "z"]),
    ],
)
def test_normalize_keywords(value: str | list[str] | None, expected: list[str]) -> None:
    """Keywords may be a list, a comma list, or both."""
    assert normalize_keywords(value) == expected
