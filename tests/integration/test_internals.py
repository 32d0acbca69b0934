"""Edge cases of message building, the legacy platform and the outbox wiring."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.notify.const import DOMAIN as NOTIFY_DOMAIN
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
import pytest

from custom_components.dingtalk.compose import (
    FALLBACK_TITLE,
    MAX_DERIVED_TITLE,
    derive_title,
)
from custom_components.dingtalk.const import DOMAIN
from custom_components.dingtalk.delivery import async_deliver
from custom_components.dingtalk.legacy import (
    DATA_LEGACY,
    DingTalkLegacyState,
    DingTalkNotificationService,
    async_add_robot,
    async_get_legacy_service,
    async_remove_robot,
)
from custom_components.dingtalk.notify import async_get_service

from .conftest import OTHER_TOKEN, TOKEN

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from dingtalk_emulator import Emulator


@pytest.mark.parametrize(
    ("message", "title"),
    [
        ("## **Laundry**\nWasher done", "Laundry"),
        ("---\n\n> Quote", "Quote"),
        ("***\n- \n", FALLBACK_TITLE),
        ("x" * 100, "x" * MAX_DERIVED_TITLE),
    ],
)
def test_derive_title(message: str, title: str) -> None:
    """A markdown title comes from the first line that has text."""
    assert derive_title(message) == title


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
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """A robot that leaves while the legacy platform loads leaves no action behind."""
    state = DingTalkLegacyState(loading=True)
    hass.data[DATA_LEGACY] = state
    await async_add_robot(hass, config_entry)
    assert state.robots == {config_entry.entry_id: config_entry}
    service = DingTalkNotificationService(hass, state)
    await async_remove_robot(hass, config_entry)
    assert state.robots == {}

    await service.async_setup(hass, DOMAIN, DOMAIN)
    await service.async_register_services()
    assert not hass.services.has_service(NOTIFY_DOMAIN, DOMAIN)
    assert state.service is None
    assert state.loading is False


async def test_send_to_unloaded_robot(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Sending through a robot that is not loaded is refused."""
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    with pytest.raises(ServiceValidationError, match="Robot Ops is not loaded"):
        await async_deliver(loaded_entry, [])
