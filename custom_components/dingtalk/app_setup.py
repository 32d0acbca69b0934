"""Set up a DingTalk app entry: its client, and one target per person or group.

Unlike a group robot, an app can be checked without posting anything: setup
obtains an access token (test-before-setup). A change of its people or groups
(subentries added, removed or changed) reloads the entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.config_entries import SIGNAL_CONFIG_ENTRY_CHANGED, ConfigEntryChange
from homeassistant.core import callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_connect

from .api import (
    DEFAULT_API_BASE,
    DEFAULT_OAPI_BASE,
    AppCredentials,
    AppCredentialsError,
    DingTalkAppClient,
    DingTalkError,
)
from .app_sender import AppSender
from .const import (
    CONF_API_BASE,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_CONVERSATION_ID,
    CONF_DEFAULT_TARGET,
    CONF_OAPI_BASE,
    CONF_ROBOT_CODE,
    CONF_USER_ID,
    DOMAIN,
    SUBENTRY_PERSON,
)
from .receive import async_start_receiver
from .runtime import DingTalkAppRuntime, TargetKind
from .targets import async_start_target

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

    from .runtime import DingTalkConfigEntry, Target


def app_client(hass: HomeAssistant, data: dict[str, object]) -> DingTalkAppClient:
    """Return the client of an app's stored (or entered) settings."""
    return DingTalkAppClient(
        AppCredentials(str(data[CONF_CLIENT_ID]), str(data[CONF_CLIENT_SECRET])),
        robot_code=str(data.get(CONF_ROBOT_CODE) or "") or None,
        session=async_get_clientsession(hass),
        api_base=str(data.get(CONF_API_BASE) or DEFAULT_API_BASE),
        oapi_base=str(data.get(CONF_OAPI_BASE) or DEFAULT_OAPI_BASE),
    )


def subentry_snapshot(entry: ConfigEntry) -> frozenset[str]:
    """Return what of the subentries a reload depends on (ids, titles, data)."""
    return frozenset(
        f"{sub_id}|{sub.subentry_type}|{sub.title}|{sorted(sub.data.items())}"
        for sub_id, sub in entry.subentries.items()
    )


async def async_setup_app_entry(
    hass: HomeAssistant, entry: DingTalkConfigEntry
) -> list[Target]:
    """Check the app's credentials, start one outbox per recipient; return them."""
    client = app_client(hass, dict(entry.data))
    try:
        await client.async_check()
    except AppCredentialsError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN,
            translation_key="app_credentials_rejected",
            translation_placeholders={"robot": entry.title},
        ) from err
    except DingTalkError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="app_unreachable",
            translation_placeholders={"robot": entry.title},
        ) from err
    targets: dict[str | None, Target] = {}
    for sub_id, sub in entry.subentries.items():
        person = sub.subentry_type == SUBENTRY_PERSON
        kind = TargetKind.PERSON if person else TargetKind.GROUP
        to = str(sub.data[CONF_USER_ID] if person else sub.data[CONF_CONVERSATION_ID])
        targets[sub_id] = await async_start_target(
            hass,
            entry,
            sub_id,
            sub.title,
            AppSender(client, kind, to),
            kind=kind,
            default_target=bool(sub.data.get(CONF_DEFAULT_TARGET, not person)),
            app=client,
        )
    snapshot = subentry_snapshot(entry)
    entry.runtime_data = DingTalkAppRuntime(
        client=client,
        targets=targets,
        subentries=snapshot,
        receiver=await async_start_receiver(hass, entry, client),
    )

    @callback
    def _async_entry_changed(change: ConfigEntryChange, changed: ConfigEntry) -> None:
        """Reload when the app's people or groups changed."""
        if (
            change is ConfigEntryChange.UPDATED
            and changed.entry_id == entry.entry_id
            and subentry_snapshot(changed) != snapshot
        ):
            hass.config_entries.async_schedule_reload(entry.entry_id)

    entry.async_on_unload(
        async_dispatcher_connect(
            hass, SIGNAL_CONFIG_ENTRY_CHANGED, _async_entry_changed
        )
    )
    return list(targets.values())
