"""DingTalk robots as notify entities, plus the legacy notify actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, override

from homeassistant.components.notify import NotifyEntity
from homeassistant.components.notify.const import NotifyEntityFeature
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo

from .compose import DingTalkRequest
from .const import DOMAIN
from .delivery import async_send
from .legacy import DingTalkNotificationService, async_get_legacy_service

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant, ServiceResponse
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
    from homeassistant.helpers.typing import ConfigType, DiscoveryInfoType

    from .outbox import DeliveryResult
    from .runtime import DingTalkConfigEntry

# The outbox paces and queues every send; entity calls need no extra limit.
PARALLEL_UPDATES: Final = 0

MANUFACTURER: Final = "DingTalk"
MODEL: Final = "Custom group robot"


async def async_get_service(
    hass: HomeAssistant,
    config: ConfigType,  # noqa: ARG001 - required by the legacy platform protocol
    discovery_info: DiscoveryInfoType | None = None,
) -> DingTalkNotificationService | None:
    """Return the shared legacy service when a robot's setup discovered us."""
    if discovery_info is None:
        return None
    return async_get_legacy_service(hass)


async def async_setup_entry(
    hass: HomeAssistant,  # noqa: ARG001 - platform signature
    entry: DingTalkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the robot's notify entity."""
    async_add_entities([DingTalkNotifyEntity(entry)])


class DingTalkNotifyEntity(NotifyEntity):
    """Send to the group a DingTalk robot posts in."""

    _attr_has_entity_name = True
    _attr_translation_key = "robot"
    _attr_supported_features = NotifyEntityFeature.TITLE

    def __init__(self, entry: DingTalkConfigEntry) -> None:
        """Describe the entity and its service device."""
        self._entry = entry
        self._attr_unique_id = entry.entry_id
        self._attr_device_info = DeviceInfo(
            entry_type=DeviceEntryType.SERVICE,
            identifiers={(DOMAIN, entry.entry_id)},
            manufacturer=MANUFACTURER,
            model=MODEL,
            name=entry.title,
        )

    @override
    async def async_send_message(self, message: str, title: str | None = None) -> None:
        """Send a message from notify.send_message."""
        request = DingTalkRequest(message=message or None, title=title or None)
        await self._async_send(request)

    async def async_send_dingtalk_message(self, **fields: object) -> ServiceResponse:
        """Send a message from dingtalk.send_message and report how it went."""
        result = await self._async_send(DingTalkRequest.from_fields(fields))
        self._async_record_notification()
        return {"status": result.status, "parts": result.parts}

    async def _async_send(self, request: DingTalkRequest) -> DeliveryResult:
        """Build, prepare and deliver one request."""
        runtime = self._entry.runtime_data
        return await async_send(
            self.hass, self._entry, request.build(runtime.default_format)
        )
