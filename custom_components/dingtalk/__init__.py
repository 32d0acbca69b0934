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
from .const import (
    CONF_COMBINE,
    CONF_DEFAULT_FORMAT,
    CONF_DEFAULT_TARGET,
    CONF_KEYWORDS,
    CONF_SECRET,
    CONF_WEBHOOK,
    DEFAULT_COMBINE,
    DEFAULT_FORMAT,
    DEFAULT_TARGET,
    DOMAIN,
    DingTalkFormat,
    DingTalkNotice,
)
from .delivery import (
    async_clear_issues,
    async_notice,
    async_robot_delivered,
    async_robot_failed,
)
from .flow_sends import async_pop_flow_sends
from .legacy import async_add_robot, async_remove_robot, async_setup_legacy
from .migration import async_migrate_entry
from .outbox import Outbox, async_get_store, outbox_settings
from .outbox.queue import LEGACY_STORAGE_PREFIX, LEGACY_STORAGE_VERSION
from .runtime import DingTalkConfigEntry, DingTalkRuntime
from .services import async_setup_services
from .webhook_sender import WebhookSender

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.typing import ConfigType

PLATFORMS: Final = [Platform.NOTIFY]

CONFIG_SCHEMA: Final = cv.config_entry_only_config_schema(DOMAIN)

__all__ = ["async_migrate_entry"]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:  # noqa: ARG001
    """Register dingtalk.send_message; follow renamed robots in the legacy actions."""
    async_setup_services(hass)
    async_setup_legacy(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: DingTalkConfigEntry) -> bool:
    """Set up a DingTalk robot: its client, outbox, notify entity and actions."""
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
    outbox = Outbox(
        hass,
        entry.entry_id,
        entry.title,
        WebhookSender(client),
        settings=outbox_settings(hass),
        on_delivered=partial(async_robot_delivered, hass, entry),
        on_failed=partial(async_robot_failed, hass, entry),
        # The config flow's test message or probe was in this robot's minute too.
        recent_sends=async_pop_flow_sends(hass, entry.unique_id),
        combine=entry.options.get(CONF_COMBINE, DEFAULT_COMBINE),
    )
    await outbox.async_start()
    entry.async_on_unload(outbox.async_stop)
    if outbox.unreadable:
        async_notice(
            hass,
            entry.entry_id,
            DingTalkNotice.OUTBOX_UNREADABLE,
            robot=entry.title,
            count=str(outbox.unreadable),
        )
    entry.runtime_data = DingTalkRuntime(
        client=client,
        outbox=outbox,
        webhook=webhook,
        keywords=tuple(entry.data.get(CONF_KEYWORDS, ())),
        default_format=DingTalkFormat(
            entry.options.get(CONF_DEFAULT_FORMAT, DEFAULT_FORMAT)
        ),
        default_target=entry.options.get(CONF_DEFAULT_TARGET, DEFAULT_TARGET),
    )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    await async_add_robot(hass, entry)
    entry.async_on_unload(partial(async_remove_robot, hass, entry))
    return True


async def async_unload_entry(hass: HomeAssistant, entry: DingTalkConfigEntry) -> bool:
    """Unload a robot; its entity and legacy actions go with it."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: DingTalkConfigEntry) -> None:
    """Forget a deleted robot's repair issues and undelivered messages."""
    async_clear_issues(hass, entry.entry_id, notices=True)
    store = await async_get_store(hass, outbox_settings(hass).database)
    await store.drop(entry.entry_id)
    await Store[dict[str, object]](
        hass, LEGACY_STORAGE_VERSION, f"{LEGACY_STORAGE_PREFIX}.{entry.entry_id}"
    ).async_remove()
