"""Failures as users read them: translated errors, reauthentication, repair issues."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from homeassistant.components.notify.const import (
    ATTR_MESSAGE,
    DOMAIN as NOTIFY_DOMAIN,
    SERVICE_SEND_MESSAGE,
)
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import DOMAIN as HOMEASSISTANT_DOMAIN
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.dingtalk.api import (
    BodyTooLargeError,
    BusyError,
    ContentRejectedError,
    DingTalkBadResponseError,
    DingTalkConnectionError,
    DingTalkError,
    DingTalkHTTPError,
    DingTalkTimeoutError,
    InvalidTokenError,
    IPNotAllowedError,
    KeywordError,
    MessageFormatError,
    MessageTooLongError,
    Problem,
    RateLimitedError,
    RobotUnavailableError,
    SecurityCheckError,
    SignatureError,
    TimestampError,
    UnknownApiError,
)
from custom_components.dingtalk.const import DOMAIN
from custom_components.dingtalk.delivery import (
    async_target_delivered,
    async_target_failed,
    error_to_ha,
)
from dingtalk_emulator import Fault, FaultKind, RobotConfig, RobotState

from .conftest import (
    ENTRY_ID,
    KEYWORD,
    SECRET,
    TOKEN,
    SkewClock,
    entry_data,
    setup_entry,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from dingtalk_emulator import Emulator, EmulatorServer

ENTITY_ID = "notify.ops"


async def send(hass: HomeAssistant, message: str = "hello") -> None:
    """Send through the robot's notify entity."""
    await hass.services.async_call(
        NOTIFY_DOMAIN,
        SERVICE_SEND_MESSAGE,
        {ATTR_ENTITY_ID: ENTITY_ID, ATTR_MESSAGE: message},
        blocking=True,
    )


def reauth_flows(hass: HomeAssistant) -> list[str]:
    """Return the ids of the entries with a reauthentication in progress."""
    return [
        flow["context"].get("entry_id", "")
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_REAUTH
    ]


def replace_robot(emulator: Emulator, **settings: object) -> None:
    """Change the Ops robot's security settings in DingTalk."""
    emulator.remove_robot(TOKEN)
    config = {"access_token": TOKEN, "secret": SECRET, "keywords": (KEYWORD,)}
    emulator.add_robot(RobotConfig(**(config | settings)))  # type: ignore[arg-type]


@pytest.mark.usefixtures("loaded_entry")
async def test_unknown_token_starts_reauth(
    hass: HomeAssistant, robot_emulator: Emulator
) -> None:
    """A token DingTalk does not know raises a clear error and starts reauth."""
    robot_emulator.remove_robot(TOKEN)
    with pytest.raises(
        HomeAssistantError,
        match=re.escape(
            "DingTalk does not know the access token of robot Ops. "
            "Reauthentication has started"
        ),
    ):
        await send(hass)
    await hass.async_block_till_done()
    assert reauth_flows(hass) == [ENTRY_ID]


@pytest.mark.usefixtures("loaded_entry")
async def test_wrong_secret_starts_reauth(
    hass: HomeAssistant, robot_emulator: Emulator
) -> None:
    """A signature DingTalk rejects raises a clear error and starts reauth once."""
    replace_robot(robot_emulator, secret="SEC" + "9" * 64)
    for _ in range(2):
        with pytest.raises(HomeAssistantError, match="rejected the signature"):
            await send(hass)
    await hass.async_block_till_done()
    assert reauth_flows(hass) == [ENTRY_ID]


async def test_keyword_required(
    hass: HomeAssistant, robot_server: EmulatorServer
) -> None:
    """A robot whose keywords are missing in Home Assistant says how to fix it."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="Ops", data=entry_data(robot_server, keywords=())
    )
    await setup_entry(hass, entry)
    with pytest.raises(
        HomeAssistantError,
        match=re.escape(
            "Robot Ops requires one of its custom keywords in every message. "
            "Add the keywords with Reconfigure"
        ),
    ):
        await send(hass)
    assert reauth_flows(hass) == []


@pytest.mark.usefixtures("loaded_entry")
async def test_keywords_rejected_issue(
    hass: HomeAssistant, robot_emulator: Emulator, issue_registry: ir.IssueRegistry
) -> None:
    """Keywords changed in DingTalk raise a repair issue that clears on delivery."""
    replace_robot(robot_emulator, keywords=("告警",))
    for _ in range(2):
        with pytest.raises(HomeAssistantError, match="a repair issue has been raised"):
            await send(hass)
    issue = issue_registry.async_get_issue(DOMAIN, f"keywords_rejected_{ENTRY_ID}")
    assert issue is not None
    assert issue.translation_key == "keywords_rejected"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["robot"] == "Ops"
    assert "关键词不匹配" in issue.translation_placeholders["errmsg"]
    assert issue.severity is ir.IssueSeverity.ERROR
    assert not issue.is_fixable
    assert reauth_flows(hass) == []

    replace_robot(robot_emulator)
    await send(hass)
    assert not issue_registry.async_get_issue(DOMAIN, f"keywords_rejected_{ENTRY_ID}")


@pytest.mark.usefixtures("loaded_entry")
async def test_delivery_keeps_an_open_reauthentication(
    hass: HomeAssistant,
    robot_emulator: Emulator,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A delivery never closes a reauth flow under the user; the step notices.

    Reported: a successful delivery aborted every reauth flow, even one the user was
    typing into. Now the flow stays, and opening it (or submitting it without new
    settings) says that nothing needs to change.
    """
    reauth_issue = f"config_entry_reauth_{DOMAIN}_{ENTRY_ID}"
    replace_robot(robot_emulator, secret="SEC" + "9" * 64)
    with pytest.raises(HomeAssistantError, match="rejected the signature"):
        await send(hass)
    await hass.async_block_till_done()
    assert reauth_flows(hass) == [ENTRY_ID]
    assert issue_registry.async_get_issue(HOMEASSISTANT_DOMAIN, reauth_issue)

    replace_robot(robot_emulator)  # the admin turned the old secret back on
    await send(hass)
    await hass.async_block_till_done()
    assert reauth_flows(hass) == [ENTRY_ID]

    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    result = await hass.config_entries.flow.async_configure(flow["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_not_needed"
    assert result["description_placeholders"] == {"name": "Ops"}
    await hass.async_block_till_done()
    assert reauth_flows(hass) == []
    assert not issue_registry.async_get_issue(HOMEASSISTANT_DOMAIN, reauth_issue)


async def test_reauth_with_new_settings_after_a_delivery(
    hass: HomeAssistant, robot_emulator: Emulator, loaded_entry: MockConfigEntry
) -> None:
    """A user who enters a new secret is not stopped by a delivery in between."""
    replace_robot(robot_emulator, secret="SEC" + "9" * 64)
    with pytest.raises(HomeAssistantError, match="rejected the signature"):
        await send(hass)
    await hass.async_block_till_done()
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    replace_robot(robot_emulator, secret="SEC" + "8" * 64)
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {"secret": "SEC" + "8" * 64, "send_test_message": True}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert loaded_entry.data["secret"] == "SEC" + "8" * 64
    [test_message] = robot_emulator.delivered(TOKEN)
    assert "Home Assistant" in test_message.payload["text"]["content"]


@pytest.mark.usefixtures("loaded_entry")
@pytest.mark.parametrize(
    "state", [RobotState.DISABLED, RobotState.REMOVED, RobotState.DISSOLVED]
)
async def test_robot_unavailable_issue(
    hass: HomeAssistant,
    robot_emulator: Emulator,
    issue_registry: ir.IssueRegistry,
    state: RobotState,
) -> None:
    """A disabled or removed robot raises a repair issue that clears on delivery."""
    robot_emulator.set_robot_state(TOKEN, state)
    with pytest.raises(HomeAssistantError, match="robot Ops is disabled"):
        await send(hass)
    issue = issue_registry.async_get_issue(DOMAIN, f"robot_unavailable_{ENTRY_ID}")
    assert issue is not None
    assert issue.translation_key == "robot_unavailable"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["robot"] == "Ops"
    assert issue.severity is ir.IssueSeverity.ERROR

    robot_emulator.set_robot_state(TOKEN, RobotState.ACTIVE)
    await send(hass)
    assert (
        issue_registry.async_get_issue(DOMAIN, f"robot_unavailable_{ENTRY_ID}") is None
    )


@pytest.mark.usefixtures("loaded_entry")
async def test_ip_not_allowed_issue(
    hass: HomeAssistant, robot_emulator: Emulator, issue_registry: ir.IssueRegistry
) -> None:
    """An IP outside the allowlist raises a repair issue that clears on delivery."""
    replace_robot(robot_emulator, ip_allowlist=("10.0.0.0/8",))
    with pytest.raises(HomeAssistantError, match="from this IP address"):
        await send(hass)
    assert issue_registry.async_get_issue(DOMAIN, f"ip_not_allowed_{ENTRY_ID}")

    replace_robot(robot_emulator)
    await send(hass)
    assert issue_registry.async_get_issue(DOMAIN, f"ip_not_allowed_{ENTRY_ID}") is None


@pytest.mark.usefixtures("loaded_entry")
async def test_clock_issue(
    hass: HomeAssistant,
    emulator_clock: SkewClock,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A clock outside DingTalk's hour raises a repair issue that clears later."""
    emulator_clock.offset = -7200.0
    with pytest.raises(HomeAssistantError, match="more than an hour off"):
        await send(hass)
    assert issue_registry.async_get_issue(DOMAIN, f"clock_out_of_sync_{ENTRY_ID}")
    assert reauth_flows(hass) == []

    emulator_clock.offset = 0.0
    await send(hass)
    assert not issue_registry.async_get_issue(DOMAIN, f"clock_out_of_sync_{ENTRY_ID}")


@pytest.mark.usefixtures("loaded_entry")
@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault(FaultKind.BUSY, count=2), "DingTalk is busy"),
        (Fault(FaultKind.HTTP_5XX, count=2, status=503), "answered HTTP 503"),
        (Fault(FaultKind.NON_JSON, count=2), "unreadable answer"),
        (Fault(FaultKind.DROP, count=2), "Cannot reach DingTalk"),
    ],
)
async def test_transient_failures(
    hass: HomeAssistant, robot_emulator: Emulator, fault: Fault, error: str
) -> None:
    """Failures that outlast the retries are reported; the next message goes out."""
    robot_emulator.inject_fault(TOKEN, fault)
    with pytest.raises(HomeAssistantError, match=error):
        await send(hass)
    await send(hass, "again")
    assert len(robot_emulator.delivered(TOKEN)) == 1


@pytest.mark.usefixtures("loaded_entry")
async def test_body_too_large(hass: HomeAssistant) -> None:
    """A message that cannot be split to fit is refused before sending."""
    with pytest.raises(
        ServiceValidationError, match="only text and markdown messages can be split"
    ):
        await hass.services.async_call(
            DOMAIN,
            SERVICE_SEND_MESSAGE,
            {
                ATTR_ENTITY_ID: ENTITY_ID,
                "msgtype": "link",
                "title": "Big",
                "message": "x" * 25_000,
                "url": "https://example.org",
            },
            blocking=True,
        )


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (InvalidTokenError(300005, "token is not exist"), "does not know"),
        (SignatureError(310000, "sign not match"), "rejected the signature"),
        (TimestampError(310000, "invalid timestamp"), "more than an hour off"),
        (KeywordError(310000, "keywords not in content"), "custom keywords"),
        (IPNotAllowedError(310000, "ip 1.2.3.4 not in whitelist"), "IP address"),
        (SecurityCheckError(310000, "other"), "security check refused"),
        (RobotUnavailableError(400102, "disabled"), "is disabled"),
        (RateLimitedError(130101, "send too fast"), "throttling robot Ops"),
        (ContentRejectedError(430102, "bad text"), "refused the content"),
        (MessageTooLongError(460101, "too long"), "20000 bytes"),
        (MessageFormatError(400402, "title missing"), "could not read"),
        (BusyError(-1, "busy"), "busy"),
        (UnknownApiError(123, "what"), "with error 123: what"),
        (DingTalkTimeoutError("slow"), "did not answer in time"),
        (DingTalkConnectionError("down"), "Cannot reach DingTalk"),
        (DingTalkHTTPError(502), "HTTP 502"),
        (DingTalkBadResponseError("html"), "unreadable answer"),
        (
            BodyTooLargeError(Problem.CANNOT_SPLIT, msgtype="link", limit=20000),
            "only text and markdown messages can be split",
        ),
        (DingTalkError("odd"), "could not be delivered"),
    ],
)
@pytest.mark.usefixtures("loaded_entry")
async def test_every_error_is_translated(
    hass: HomeAssistant,  # noqa: ARG001 - the translations live in this instance
    error: DingTalkError,
    message: str,
) -> None:
    """Every client error becomes a translated message that names the robot."""
    ha_error = error_to_ha(error, "Ops")
    assert ha_error.translation_domain == DOMAIN
    assert message in str(ha_error)
    assert "Ops" in str(ha_error) or isinstance(ha_error, ServiceValidationError)


async def test_failure_callbacks(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Failures reported after a call returned raise issues or reauth, too."""
    target = loaded_entry.runtime_data.target
    async_target_failed(hass, target, RobotUnavailableError(400106, "gone"))
    async_target_failed(hass, target, KeywordError(310000, "keywords"))
    async_target_failed(hass, target, SignatureError(310000, "sign not match"))
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, f"robot_unavailable_{ENTRY_ID}")
    assert issue_registry.async_get_issue(DOMAIN, f"keywords_rejected_{ENTRY_ID}")
    assert reauth_flows(hass) == [ENTRY_ID]
    async_target_delivered(hass, target)
    assert not issue_registry.async_get_issue(DOMAIN, f"robot_unavailable_{ENTRY_ID}")
    assert not issue_registry.async_get_issue(DOMAIN, f"keywords_rejected_{ENTRY_ID}")
    # An open reauthentication stays: the user may be typing into it.
    assert reauth_flows(hass) == [ENTRY_ID]
