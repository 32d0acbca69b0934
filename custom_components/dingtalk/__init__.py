"""The DingTalk integration: DingTalk group robots as notify targets.

Setup makes no request to DingTalk: every request is a message in the group and uses
one of the robot's 20 sends a minute. The config flow already proved the token,
secret and keywords (test-before-configure); a send that later fails on the token or
signature starts reauthentication, and lasting problems raise repair issues.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Final

from homeassistant.const import Platform
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.storage import Store

from .api import DingTalkClient, InvalidWebhookError, Webhook, WebhookProblem
from .app_setup import async_setup_app_entry
from .const import (
    CONF_DEFAULT_TARGET,
    CONF_KEYWORDS,
    CONF_SECRET,
    CONF_WEBHOOK,
    DEFAULT_TARGET,
    DOMAIN,
)
from .delivery import async_clear_issues
from .entry_data import is_app_entry
from .flow_sends import async_pop_flow_sends
from .legacy import async_add_targets, async_remove_targets, async_setup_legacy
from .migration import async_migrate_entry
from .outbox import async_get_store, outbox_settings
from .outbox.queue import LEGACY_STORAGE_PREFIX, LEGACY_STORAGE_VERSION
from .runtime import DingTalkConfigEntry, DingTalkRuntime, Target, TargetKind
from .seen_groups import async_remove_seen_groups
from .services import async_setup_services
from .targets import async_start_target
from .webhook_sender import WebhookSender

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.typing import ConfigType

# Event and binary_sensor entities exist only for apps that receive messages.
PLATFORMS: Final = [Platform.BINARY_SENSOR, Platform.EVENT, Platform.NOTIFY]

CONFIG_SCHEMA: Final = cv.config_entry_only_config_schema(DOMAIN)

__all__ = ["async_migrate_entry"]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:  # noqa: ARG001
    """Register dingtalk.send_message; follow renamed robots in the legacy actions."""
    async_setup_services(hass)
    async_setup_legacy(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: DingTalkConfigEntry) -> bool:
    """Set up a group robot, or an app with its people and groups."""
    if is_app_entry(entry):
        targets = await async_setup_app_entry(hass, entry)
    else:
        targets = [await _async_setup_robot(hass, entry)]
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    await async_add_targets(hass, targets)
    entry.async_on_unload(partial(async_remove_targets, hass, targets))
    return True


async def _async_setup_robot(hass: HomeAssistant, entry: DingTalkConfigEntry) -> Target:
    """Set up a group robot: its client and outbox; return its target."""
    try:
        webhook = Webhook.parse(str(entry.data.get(CONF_WEBHOOK, "")))
    except InvalidWebhookError as err:
        if err.problem is WebhookProblem.INSECURE:
            raise ConfigEntryError(
                translation_domain=DOMAIN,
                translation_key="insecure_stored_webhook",
                translation_placeholders={"robot": entry.title},
            ) from err
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_stored_webhook",
            translation_placeholders={"robot": entry.title},
        ) from err
    client = DingTalkClient(
        webhook, entry.data.get(CONF_SECRET), session=async_get_clientsession(hass)
    )
    target = await async_start_target(
        hass,
        entry,
        None,
        entry.title,
        WebhookSender(client),
        kind=TargetKind.ROBOT,
        keywords=tuple(entry.data.get(CONF_KEYWORDS, ())),
        default_target=entry.options.get(CONF_DEFAULT_TARGET, DEFAULT_TARGET),
        # The config flow's test message or probe was in this robot's minute too.
        recent_sends=async_pop_flow_sends(hass, entry.unique_id),
    )
    entry.runtime_data = DingTalkRuntime(
        client=client,
        outbox=target.outbox,
        webhook=webhook,
        keywords=target.keywords,
        default_format=target.default_format,
        default_target=target.default_target,
        target=target,
    )
    return target


async def async_unload_entry(hass: HomeAssistant, entry: DingTalkConfigEntry) -> bool:
    """Unload a robot; its entity and legacy actions go with it."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: DingTalkConfigEntry) -> None:
    """Forget a deleted entry's repair issues and undelivered messages."""
    store = await async_get_store(hass, outbox_settings(hass).database)
    for key in (entry.entry_id, *entry.subentries):
        async_clear_issues(hass, key, notices=True)
        await store.drop(key)
    await Store[dict[str, object]](
        hass, LEGACY_STORAGE_VERSION, f"{LEGACY_STORAGE_PREFIX}.{entry.entry_id}"
    ).async_remove()
    await async_remove_seen_groups(hass, entry.entry_id)
