"""Setting up an app entry: the token check, one target per recipient, reloads."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from homeassistant.components.notify.const import (
    DOMAIN as NOTIFY_DOMAIN,
    SERVICE_SEND_MESSAGE,
)
from homeassistant.config_entries import (
    SOURCE_REAUTH,
    ConfigEntryState,
    ConfigSubentry,
)
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest

from custom_components.dingtalk.api import DEFAULT_API_BASE, DEFAULT_OAPI_BASE
from custom_components.dingtalk.app_setup import app_client, subentry_snapshot
from custom_components.dingtalk.const import (
    CONF_API_BASE,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_CONVERSATION_ID,
    CONF_DEFAULT_TARGET,
    CONF_OAPI_BASE,
    CONF_USER_ID,
    DOMAIN,
    SUBENTRY_PERSON,
)
from custom_components.dingtalk.runtime import DingTalkAppRuntime, TargetKind
from dingtalk_emulator import AppFault, AppFaultKind

from .app_helpers import chat_of, texts, unused_port
from .conftest import (
    ALICE,
    APP_CLIENT_ID,
    APP_CLIENT_SECRET,
    APP_ENTRY_ID,
    BOB,
    GARDEN_CID,
    GROUP_SUBENTRY_ID,
    PERSON_SUBENTRY_ID,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from dingtalk_emulator import Emulator


def app_runtime(entry: MockConfigEntry) -> DingTalkAppRuntime:
    """Return a loaded app's runtime data."""
    runtime = entry.runtime_data
    assert isinstance(runtime, DingTalkAppRuntime)
    return runtime


async def test_rejected_credentials_start_reauth(
    hass: HomeAssistant, app_entry: MockConfigEntry
) -> None:
    """A secret DingTalk refuses fails setup and asks for the new one."""
    app_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        app_entry, data={**app_entry.data, CONF_CLIENT_SECRET: "reset-in-console"}
    )
    assert not await hass.config_entries.async_setup(app_entry.entry_id)
    await hass.async_block_till_done()
    assert app_entry.state is ConfigEntryState.SETUP_ERROR
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["source"] == SOURCE_REAUTH
    assert flow["context"]["entry_id"] == APP_ENTRY_ID
    assert flow["step_id"] == "reauth_app"
    assert hass.states.async_entity_ids(NOTIFY_DOMAIN) == []


@pytest.mark.parametrize("cause", ["refused", "busy", "dropped"])
async def test_unreachable_dingtalk_retries(
    hass: HomeAssistant,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    cause: str,
) -> None:
    """No answer, or a busy one, retries setup later and starts no reauth."""
    if cause == "refused":
        dead = f"http://127.0.0.1:{unused_port()}"
        app_entry.add_to_hass(hass)
        hass.config_entries.async_update_entry(
            app_entry,
            data={**app_entry.data, CONF_API_BASE: dead, CONF_OAPI_BASE: dead},
        )
    else:
        kind = AppFaultKind.BUSY if cause == "busy" else AppFaultKind.DROP
        app_emulator.apps.inject_fault(APP_CLIENT_ID, AppFault(kind, count=5))
        app_entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(app_entry.entry_id)
    await hass.async_block_till_done()
    assert app_entry.state is ConfigEntryState.SETUP_RETRY
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []


async def test_one_entity_per_recipient(
    hass: HomeAssistant, app_emulator: Emulator, loaded_app: MockConfigEntry
) -> None:
    """Each person and group has its entity and device, named after the subentry."""
    entities = er.async_get(hass)
    devices = dr.async_get(hass)
    runtime = app_runtime(loaded_app)
    assert set(runtime.targets) == {PERSON_SUBENTRY_ID, GROUP_SUBENTRY_ID}
    person = runtime.targets[PERSON_SUBENTRY_ID]
    group = runtime.targets[GROUP_SUBENTRY_ID]
    assert (person.kind, person.name, person.default_target) == (
        TargetKind.PERSON,
        ALICE.name,
        False,
    )
    assert (group.kind, group.name, group.default_target) == (
        TargetKind.GROUP,
        "Garden",
        True,
    )
    assert person.app is runtime.client
    assert runtime.subentries == subentry_snapshot(loaded_app)

    entity_ids = {}
    for subentry_id, title in (
        (PERSON_SUBENTRY_ID, ALICE.name),
        (GROUP_SUBENTRY_ID, "Garden"),
    ):
        unique_id = f"{APP_ENTRY_ID}_{subentry_id}"
        entity_id = entities.async_get_entity_id(NOTIFY_DOMAIN, DOMAIN, unique_id)
        assert entity_id is not None
        entry = entities.async_get(entity_id)
        assert entry is not None
        assert entry.config_subentry_id == subentry_id
        device = devices.async_get_device_by_identifier(
            (DOMAIN, subentry_id), APP_ENTRY_ID
        )
        assert device is not None
        assert device.name == title
        assert entry.device_id == device.id
        entity_ids[subentry_id] = entity_id
    assert entity_ids == {
        PERSON_SUBENTRY_ID: "notify.alice",
        GROUP_SUBENTRY_ID: "notify.garden",
    }

    await hass.services.async_call(
        NOTIFY_DOMAIN,
        SERVICE_SEND_MESSAGE,
        {ATTR_ENTITY_ID: entity_ids[PERSON_SUBENTRY_ID], "message": "hello Alice"},
        blocking=True,
    )
    await hass.services.async_call(
        NOTIFY_DOMAIN,
        SERVICE_SEND_MESSAGE,
        {ATTR_ENTITY_ID: entity_ids[GROUP_SUBENTRY_ID], "message": "hello Garden"},
        blocking=True,
    )
    assert texts(chat_of(app_emulator, ALICE.user_id)) == ["hello Alice"]
    assert chat_of(app_emulator, BOB.user_id) == []
    assert texts(app_emulator.apps.messages(APP_CLIENT_ID, GARDEN_CID)) == [
        "hello Garden"
    ]


async def test_default_targets_by_kind(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """Without a stored choice, a group is a default target and a person is not."""
    del app_emulator
    app_entry.add_to_hass(hass)
    for subentry_id, subentry in list(app_entry.subentries.items()):
        data = {k: v for k, v in subentry.data.items() if k != CONF_DEFAULT_TARGET}
        hass.config_entries.async_update_subentry(app_entry, subentry, data=data)
        assert CONF_DEFAULT_TARGET not in app_entry.subentries[subentry_id].data
    assert await hass.config_entries.async_setup(app_entry.entry_id)
    await hass.async_block_till_done()
    targets = app_runtime(app_entry).targets
    assert targets[PERSON_SUBENTRY_ID].default_target is False
    assert targets[GROUP_SUBENTRY_ID].default_target is True


async def test_subentry_changes_reload(
    hass: HomeAssistant, app_emulator: Emulator, loaded_app: MockConfigEntry
) -> None:
    """Adding, changing or removing a recipient reloads the app; nothing else does."""
    del app_emulator
    runtime = app_runtime(loaded_app)

    hass.config_entries.async_update_entry(loaded_app, title="Renamed app")
    await hass.async_block_till_done()
    assert app_runtime(loaded_app) is runtime

    hass.config_entries.async_add_subentry(
        loaded_app,
        ConfigSubentry(
            data=MappingProxyType(
                {CONF_USER_ID: BOB.user_id, CONF_DEFAULT_TARGET: True}
            ),
            subentry_type=SUBENTRY_PERSON,
            title=BOB.name,
            unique_id=f"person_{BOB.user_id}",
        ),
    )
    await hass.async_block_till_done()
    reloaded = app_runtime(loaded_app)
    assert reloaded is not runtime
    assert len(reloaded.targets) == 3
    assert hass.states.get("notify.bob") is not None

    garden = loaded_app.subentries[GROUP_SUBENTRY_ID]
    hass.config_entries.async_update_subentry(
        loaded_app,
        garden,
        data={CONF_CONVERSATION_ID: GARDEN_CID, CONF_DEFAULT_TARGET: False},
    )
    await hass.async_block_till_done()
    changed = app_runtime(loaded_app)
    assert changed is not reloaded
    assert changed.targets[GROUP_SUBENTRY_ID].default_target is False

    hass.config_entries.async_remove_subentry(loaded_app, GROUP_SUBENTRY_ID)
    await hass.async_block_till_done()
    assert set(app_runtime(loaded_app).targets) == set(loaded_app.subentries)
    assert GROUP_SUBENTRY_ID not in app_runtime(loaded_app).targets
    assert hass.states.get("notify.garden") is None


async def test_other_entries_do_not_reload_the_app(
    hass: HomeAssistant, loaded_app: MockConfigEntry, loaded_entry: MockConfigEntry
) -> None:
    """A change of another entry leaves the app as it is."""
    runtime = app_runtime(loaded_app)
    hass.config_entries.async_update_entry(loaded_entry, title="Ops 2")
    await hass.async_block_till_done()
    assert app_runtime(loaded_app) is runtime
    assert loaded_app.state is ConfigEntryState.LOADED


async def test_unloaded_app_does_not_reload(
    hass: HomeAssistant, loaded_app: MockConfigEntry
) -> None:
    """After an unload, recipient changes no longer reload the app."""
    assert await hass.config_entries.async_unload(loaded_app.entry_id)
    await hass.async_block_till_done()
    hass.config_entries.async_remove_subentry(loaded_app, PERSON_SUBENTRY_ID)
    await hass.async_block_till_done()
    assert loaded_app.state is ConfigEntryState.NOT_LOADED


async def test_app_client_defaults(hass: HomeAssistant) -> None:
    """Stored settings without robot code or hosts mean the Client ID and DingTalk."""
    client = app_client(
        hass, {CONF_CLIENT_ID: APP_CLIENT_ID, CONF_CLIENT_SECRET: APP_CLIENT_SECRET}
    )
    assert client.robot_code == APP_CLIENT_ID
    assert client._api_base == DEFAULT_API_BASE
    assert client._oapi_base == DEFAULT_OAPI_BASE
    assert APP_CLIENT_SECRET not in repr(client)
