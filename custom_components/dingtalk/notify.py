"""DingTalk robots as notify entities, plus the legacy notify actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, override

from homeassistant.components.notify import NotifyEntity
from homeassistant.components.notify.const import NotifyEntityFeature
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo

from .attachments import async_build, async_load_request_image
from .compose import DingTalkRequest
from .const import DOMAIN
from .delivery import async_send
from .legacy import DingTalkNotificationService, async_get_legacy_service
from .runtime import DingTalkRuntime, TargetKind

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant, ServiceResponse
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
    from homeassistant.helpers.typing import ConfigType, DiscoveryInfoType

    from .images import ImageData
    from .outbox import DeliveryResult
    from .runtime import DingTalkConfigEntry, Target

# The outbox paces and queues every send; entity calls need no extra limit.
PARALLEL_UPDATES: Final = 0

MANUFACTURER: Final = "DingTalk"
MODELS: Final = {
    TargetKind.ROBOT: "Custom group robot · 自定义群机器人",
    TargetKind.PERSON: "App robot: person · 应用机器人：单聊",
    TargetKind.GROUP: "App robot: group · 应用机器人：群聊",
}
"""Device models (not translatable in Home Assistant): both languages."""


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
    """Add the robot's notify entity, or one for each of an app's people and groups."""
    runtime = entry.runtime_data
    if isinstance(runtime, DingTalkRuntime):
        async_add_entities([DingTalkNotifyEntity(runtime.target)])
        return
    for subentry_id, target in runtime.targets.items():
        async_add_entities(
            [DingTalkNotifyEntity(target)], config_subentry_id=subentry_id
        )


class DingTalkNotifyEntity(NotifyEntity):
    """Send to a group robot's group, or to an app's person or group."""

    # Named after its device (the robot, person or group), as core does for the
    # one entity of a device: each is recognisable wherever entities are listed.
    _attr_has_entity_name = True
    _attr_name = None
    _attr_translation_key = "robot"
    _attr_supported_features = NotifyEntityFeature.TITLE

    def __init__(self, target: Target) -> None:
        """Describe the entity and its service device."""
        self.target = target
        entry = target.entry
        self._attr_unique_id = (
            entry.entry_id
            if target.subentry_id is None
            else f"{entry.entry_id}_{target.subentry_id}"
        )
        self._attr_device_info = DeviceInfo(
            entry_type=DeviceEntryType.SERVICE,
            identifiers={(DOMAIN, target.key)},
            manufacturer=MANUFACTURER,
            model=MODELS[target.kind],
            name=target.name,
        )

    @override
    async def async_added_to_hass(self) -> None:
        """Record the sends of the legacy actions, too (the entity's state)."""
        await super().async_added_to_hass()
        self.target.sent_listener = self._async_record_notification
        self.async_on_remove(self._async_forget_sends)

    @callback
    def _async_forget_sends(self) -> None:
        """Stop recording the legacy actions' sends."""
        if self.target.sent_listener == self._async_record_notification:
            self.target.sent_listener = None

    @override
    async def async_send_message(self, message: str, title: str | None = None) -> None:
        """Send a message from notify.send_message."""
        request = DingTalkRequest(message=message or None, title=title or None)
        await self._async_send(request)

    async def async_send_dingtalk_message(self, **fields: object) -> ServiceResponse:
        """Send a message from dingtalk.send_message and report how it went."""
        request = DingTalkRequest.from_fields(fields)
        image = await async_load_request_image(self.hass, request)
        result = await self._async_send(request, image)
        self._async_record_notification()
        return {"status": result.status, "parts": result.parts}

    async def _async_send(
        self, request: DingTalkRequest, image: ImageData | None = None
    ) -> DeliveryResult:
        """Build, prepare and deliver one request."""
        message = await async_build(self.hass, self.target, request, image)
        return await async_send(self.hass, self.target, message)
