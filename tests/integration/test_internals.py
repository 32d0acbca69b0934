"""Edge cases of message building, the legacy platform and the outbox wiring."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.notify.const import DOMAIN as NOTIFY_DOMAIN
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.dingtalk.api import ActionCard
from custom_components.dingtalk.compose import (
    FALLBACK_TITLE,
    MAX_DERIVED_TITLE,
    DingTalkRequest,
    derive_title,
)
from custom_components.dingtalk.const import DOMAIN, DingTalkFormat
from custom_components.dingtalk.delivery import async_deliver
from custom_components.dingtalk.legacy import (
    DATA_LEGACY,
    DingTalkLegacyState,
    DingTalkNotificationService,
    async_add_targets,
    async_get_legacy_service,
    async_remove_targets,
    robot_service_names,
)
from custom_components.dingtalk.notify import async_get_service

from .conftest import OTHER_TOKEN, TOKEN

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from dingtalk_emulator import Emulator


@pytest.mark.parametrize(
    ("message", "title"),
    [
        ("## **Laundry**\nWasher done", "Laundry"),
        ("---\n\n> Quote", "Quote"),
        ("***\n- \n", FALLBACK_TITLE),
        ("x" * 100, "x" * MAX_DERIVED_TITLE),
        ("**nas** is down", "nas is down"),
        ("__nas__ is *really* down", "nas is really down"),
        ("***bold italic*** text", "bold italic text"),
        ("`df -h` shows 99 %", "df -h shows 99 %"),
        ("[NAS](https://nas.local/status) is down", "NAS is down"),
        ("![camera](https://ha.local/cam.jpg) Door open", "Door open"),
        ("![camera](https://ha.local/cam.jpg)\n1. First step", "First step"),
        ("+ item\n", "item"),
        ("  2) second", "second"),
        ("> ## Quoted heading", "Quoted heading"),
        ("## Title ##", "Title"),
        ("* * *\nok", "ok"),
        # Not markdown markers: kept as written.
        ("C++ build failed", "C++ build failed"),
        ("5 * 3 = 15", "5 * 3 = 15"),
        ("-5 °C outside", "-5 °C outside"),
        ("1.5 kW", "1.5 kW"),
        ("sensor_1 is on", "sensor_1 is on"),
    ],
)
def test_derive_title(message: str, title: str) -> None:
    """A markdown title is the plain text of the first line that has text."""
    assert derive_title(message) == title


@pytest.mark.parametrize(
    ("title", "text", "card_title"),
    [
        ("Garage", "### Garage\n\nThe door is open", "Garage"),
        (None, "The door is open", "The door is open"),
    ],
)
def test_action_card_shows_its_title(
    title: str | None, text: str, card_title: str
) -> None:
    """DingTalk hides actionCard.title in the card, so a title is also a heading."""
    card = DingTalkRequest(
        message="The door is open",
        title=title,
        button_title="Open",
        button_url="https://ha.local/",
    ).build(DingTalkFormat.AUTO)
    assert isinstance(card, ActionCard)
    assert card.text == text
    assert card.title == card_title


def test_robot_service_names() -> None:
    """Each robot's action name comes from its own title, first added first."""
    entries = [
        MockConfigEntry(domain=DOMAIN, title=title, entry_id=entry_id)
        for title, entry_id in (
            ("Ops", "01AAAAAAAAAAAAAAAAAAOPS001"),
            ("OPS", "01AAAAAAAAAAAAAAAAAAOPS002"),
            ("Ops ops002", "01AAAAAAAAAAAAAAAAAAOPS003"),
            ("运维", "01AAAAAAAAAAAAAAAAAAOPS004"),
            ("", "01AAAAAAAAAAAAAAAAAAOPS005"),
        )
    ]
    assert robot_service_names(entries) == {
        "01AAAAAAAAAAAAAAAAAAOPS001": "ops",
        # Its suffix is another robot's name: the whole entry id is used.
        "01AAAAAAAAAAAAAAAAAAOPS002": "ops_01aaaaaaaaaaaaaaaaaaops002",
        "01AAAAAAAAAAAAAAAAAAOPS003": "ops_ops002",
        "01AAAAAAAAAAAAAAAAAAOPS004": "yun_wei",
        "01AAAAAAAAAAAAAAAAAAOPS005": "ops005",
    }
    # Loading or unloading changes nothing: only the entries and their order count.
    assert robot_service_names(entries[1:])["01AAAAAAAAAAAAAAAAAAOPS002"] == "ops"


async def test_legacy_platform_without_discovery(hass: HomeAssistant) -> None:
    """The notify platform creates no service from YAML or without robots."""
    assert await async_get_service(hass, {}, None) is None
    assert async_get_legacy_service(hass) is None
    assert hass.data[DATA_LEGACY].loading is False


async def test_robots_set_up_together(
    hass: HomeAssistant,
    robot_emulator: Emulator,
    config_entry: MockConfigEntry,
    other_entry: MockConfigEntry,
) -> None:
    """Robots that load at the same time share one notify.dingtalk action."""
    config_entry.add_to_hass(hass)
    other_entry.add_to_hass(hass)
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    for service in (DOMAIN, "dingtalk_ops", "dingtalk_family"):
        assert hass.services.has_service(NOTIFY_DOMAIN, service)
    await hass.services.async_call(
        NOTIFY_DOMAIN, DOMAIN, {"message": "both"}, blocking=True
    )
    assert len(robot_emulator.delivered(TOKEN)) == 1
    assert len(robot_emulator.delivered(OTHER_TOKEN)) == 1


async def test_expired_message_at_start(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A stored message that expired while Home Assistant was off is dropped calmly."""
    hass_storage[f"dingtalk.outbox.{config_entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"dingtalk.outbox.{config_entry.entry_id}",
        "data": {
            "messages": [
                {
                    "payload": {"msgtype": "text", "text": {"content": "old"}},
                    "enqueued_at": 1.0,
                    "attempts": 0,
                }
            ],
            "recent_sends": [],
            "paused_until": None,
        },
    }
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert "error in outbox callback" not in caplog.text
    assert config_entry.runtime_data.outbox.stats()["dropped_expired"] == 1


async def test_robot_gone_before_legacy_registers(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """A robot that leaves while the legacy platform loads leaves no action behind."""
    target = loaded_entry.runtime_data.target
    state = DingTalkLegacyState(loading=True)
    hass.data[DATA_LEGACY] = state
    await async_add_targets(hass, [target])
    assert state.targets == {loaded_entry.entry_id: target}
    service = DingTalkNotificationService(hass, state)
    await async_remove_targets(hass, [target])
    assert state.targets == {}

    await service.async_setup(hass, DOMAIN, DOMAIN)
    await service.async_register_services()
    assert not hass.services.has_service(NOTIFY_DOMAIN, DOMAIN)
    assert state.service is None
    assert state.loading is False


async def test_send_to_unloaded_robot(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Sending through a robot that is not loaded is refused."""
    target = loaded_entry.runtime_data.target
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    with pytest.raises(ServiceValidationError, match="Robot Ops is not loaded"):
        await async_deliver(target, [])
