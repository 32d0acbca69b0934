"""The config flow: add a robot, reauthenticate, reconfigure, options."""

from __future__ import annotations

from typing import TYPE_CHECKING
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_NAME
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.dingtalk.api import (
    DingTalkClient,
    InvalidMessageError,
    MessageFormatError,
)
from custom_components.dingtalk.config_flow import normalize_keywords
from custom_components.dingtalk.const import (
    CONF_DEFAULT_FORMAT,
    CONF_DEFAULT_TARGET,
    CONF_KEYWORDS,
    CONF_SECRET,
    CONF_SEND_TEST_MESSAGE,
    CONF_WEBHOOK,
    DOMAIN,
)
from dingtalk_emulator import Fault, FaultKind, RobotConfig, RobotState

from .conftest import (
    KEYWORD,
    OTHER_TOKEN,
    ROBOT_NAME,
    SECRET,
    TOKEN,
    RobotEnv,
    fingerprint,
    stable,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from syrupy.assertion import SnapshotAssertion

    from dingtalk_emulator import Emulator, EmulatorServer

IP_TOKEN = "c0ffee00" * 8
UNKNOWN_TOKEN = "deadbeef" * 8


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
    """Open the user step and return the flow id."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
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
        ("not_a_webhook", {CONF_WEBHOOK: "invalid_webhook"}),
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
        (InvalidMessageError("bad"), True, "unknown"),
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


async def test_reauth(
    hass: HomeAssistant,
    robot_server: EmulatorServer,
    robot_emulator: Emulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Reauthentication checks the new secret with the probe and reloads the robot."""
    robot_emulator.remove_robot(TOKEN)
    new_secret = "SEC" + "2" * 64
    robot_emulator.add_robot(
        RobotConfig(access_token=TOKEN, secret=new_secret, keywords=(KEYWORD,))
    )
    result = await loaded_entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert result["description_placeholders"] == {"name": ROBOT_NAME}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_WEBHOOK: robot_server.webhook_url(TOKEN), CONF_SECRET: SECRET},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_SECRET: "invalid_signature"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_WEBHOOK: robot_server.webhook_url(TOKEN), CONF_SECRET: new_secret},
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert loaded_entry.data[CONF_SECRET] == new_secret
    assert loaded_entry.data[CONF_KEYWORDS] == [KEYWORD]
    assert robot_emulator.delivered() == []


async def test_reauth_other_robot_aborts(
    hass: HomeAssistant, robot_server: EmulatorServer, loaded_entry: MockConfigEntry
) -> None:
    """Reauthentication cannot swap in another robot."""
    result = await loaded_entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_WEBHOOK: robot_server.webhook_url(OTHER_TOKEN), CONF_SECRET: SECRET},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unique_id_mismatch"


async def test_reconfigure(
    hass: HomeAssistant,
    robot_server: EmulatorServer,
    robot_emulator: Emulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Reconfigure changes the keywords after checking them, and reloads."""
    robot_emulator.remove_robot(TOKEN)
    robot_emulator.add_robot(
        RobotConfig(access_token=TOKEN, secret=SECRET, keywords=("告警",))
    )
    result = await loaded_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_WEBHOOK: robot_server.webhook_url(TOKEN), CONF_SECRET: SECRET},
    )
    assert result["errors"] == {CONF_KEYWORDS: "keyword_required"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_WEBHOOK: robot_server.webhook_url(TOKEN),
            CONF_SECRET: SECRET,
            CONF_KEYWORDS: ["告警"],
        },
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert loaded_entry.data[CONF_KEYWORDS] == ["告警"]
    assert loaded_entry.runtime_data.keywords == ("告警",)


async def test_reconfigure_other_robot_aborts(
    hass: HomeAssistant, robot_server: EmulatorServer, loaded_entry: MockConfigEntry
) -> None:
    """Reconfigure cannot swap in another robot."""
    result = await loaded_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_WEBHOOK: robot_server.webhook_url(OTHER_TOKEN)}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unique_id_mismatch"


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
