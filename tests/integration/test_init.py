"""Setting up, unloading and removing robots."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.notify.const import DOMAIN as NOTIFY_DOMAIN
from homeassistant.config_entries import ConfigEntryState
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.helpers.service import async_get_all_descriptions
from homeassistant.loader import async_get_integration
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.dingtalk.const import (
    CONF_WEBHOOK,
    DOMAIN,
    SERVICE_SEND_MESSAGE,
    DingTalkIssue,
)
from custom_components.dingtalk.delivery import issue_id
from custom_components.dingtalk.outbox import DATA_STORE
from custom_components.dingtalk.outbox.queue import DurableQueue
from dingtalk_emulator import Emulator, RobotState

from .conftest import ENTRY_ID, ROBOT_NAME, TOKEN, setup_entry

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

ENTITY_ID = "notify.ops"


def state_of(hass: HomeAssistant, entry: MockConfigEntry) -> ConfigEntryState:
    """Return the current state of an entry."""
    current = hass.config_entries.async_get_entry(entry.entry_id)
    assert current is not None
    return current.state


async def test_integration_loads(hass: HomeAssistant) -> None:
    """Home Assistant finds the custom integration and registers its action."""
    integration = await async_get_integration(hass, DOMAIN)
    assert integration.name == "DingTalk (钉钉)"
    assert not integration.is_built_in
    assert await async_setup_component(hass, DOMAIN, {})
    assert hass.services.has_service(DOMAIN, SERVICE_SEND_MESSAGE)


async def test_setup_and_unload(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A robot brings a service device, an entity and actions; unload removes them."""
    await setup_entry(hass, config_entry)
    assert state_of(hass, config_entry) is ConfigEntryState.LOADED
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, ENTRY_ID), ENTRY_ID
    )
    assert isinstance(device, dr.DeviceEntry)
    assert device.entry_type is dr.DeviceEntryType.SERVICE
    assert device.name == ROBOT_NAME
    assert entity_registry.async_get(ENTITY_ID) is not None
    assert hass.states.get(ENTITY_ID) is not None
    assert hass.services.has_service(NOTIFY_DOMAIN, "dingtalk_ops")

    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert state_of(hass, config_entry) is ConfigEntryState.NOT_LOADED
    state = hass.states.get(ENTITY_ID)
    assert state is None or state.state == "unavailable"
    assert not hass.services.has_service(NOTIFY_DOMAIN, "dingtalk_ops")
    assert not hass.services.has_service(NOTIFY_DOMAIN, DOMAIN)
    assert hass.services.has_service(DOMAIN, SERVICE_SEND_MESSAGE)


async def test_bad_stored_webhook(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """A stored webhook that no longer parses is a permanent setup error."""
    data: dict[str, Any] = {**config_entry.data, CONF_WEBHOOK: "ftp://example.org"}
    entry = MockConfigEntry(domain=DOMAIN, title=ROBOT_NAME, data=data)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason is not None


async def test_remove_entry_cleans_up(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
    robot_emulator: Emulator,
) -> None:
    """Removing a robot deletes its repair issues and its queued messages."""
    await setup_entry(hass, config_entry)
    robot_emulator.set_robot_state(TOKEN, RobotState.DISABLED)
    store = hass.data[DATA_STORE]
    await store.async_flush()
    queue = DurableQueue(store, ENTRY_ID)
    _items, durable = queue.add([("kept", {"msgtype": "text"})], 1.0)
    await durable
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(ENTRY_ID, DingTalkIssue.ROBOT_UNAVAILABLE),
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=DingTalkIssue.ROBOT_UNAVAILABLE,
        translation_placeholders={"robot": ROBOT_NAME, "errmsg": "gone"},
    )
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert len((await store.async_load(ENTRY_ID, 0.0)).items) == 1

    await hass.config_entries.async_remove(config_entry.entry_id)
    await hass.async_block_till_done()
    assert not issue_registry.issues
    assert (await store.async_load(ENTRY_ID, 0.0)).items == []


@pytest.mark.usefixtures("loaded_entry")
async def test_reload_keeps_actions(hass: HomeAssistant) -> None:
    """Reloading a robot brings its actions back."""
    entry = hass.config_entries.async_get_entry(ENTRY_ID)
    assert entry is not None
    assert await hass.config_entries.async_reload(ENTRY_ID)
    await hass.async_block_till_done()
    assert hass.services.has_service(NOTIFY_DOMAIN, "dingtalk_ops")
    assert hass.services.has_service(NOTIFY_DOMAIN, DOMAIN)


@pytest.mark.usefixtures("loaded_entry")
async def test_action_description(hass: HomeAssistant) -> None:
    """Home Assistant reads services.yaml: the action, its sections and fields."""
    descriptions = await async_get_all_descriptions(hass)
    fields = descriptions[DOMAIN][SERVICE_SEND_MESSAGE]["fields"]
    assert {"message", "title", "msgtype"} <= fields.keys()
    assert set(fields["mentions"]["fields"]) == {"at_mobiles", "at_user_ids", "at_all"}
    assert descriptions[NOTIFY_DOMAIN]["dingtalk_ops"]["fields"]["data"]
