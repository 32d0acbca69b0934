"""Whether an app that receives messages is connected to DingTalk (Stream mode)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, override

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.helpers.dispatcher import async_dispatcher_connect

from .receive import STREAM_KEY, state_signal
from .runtime import DingTalkAppRuntime

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .receive import DingTalkReceiver
    from .runtime import DingTalkConfigEntry

# The state is pushed by the Stream client; nothing is polled.
PARALLEL_UPDATES: Final = 0


async def async_setup_entry(
    hass: HomeAssistant,  # noqa: ARG001 - platform signature
    entry: DingTalkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the connectivity entity of an app that receives messages."""
    runtime = entry.runtime_data
    if isinstance(runtime, DingTalkAppRuntime) and runtime.receiver is not None:
        async_add_entities([DingTalkStreamConnectivity(runtime.receiver)])


class DingTalkStreamConnectivity(BinarySensorEntity):
    """On while the app's Stream connection is up."""

    _attr_has_entity_name = True
    _attr_translation_key = STREAM_KEY
    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_should_poll = False

    def __init__(self, receiver: DingTalkReceiver) -> None:
        """Describe the entity of the app's device."""
        self._receiver = receiver
        self._attr_unique_id = f"{receiver.entry.entry_id}_{STREAM_KEY}"
        self._attr_device_info = receiver.device_info

    @property
    @override
    def is_on(self) -> bool:
        """Return whether the app is connected."""
        return self._receiver.connected

    @override
    async def async_added_to_hass(self) -> None:
        """Follow the connection state."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                state_signal(self._receiver.entry.entry_id),
                self.async_write_ha_state,
            )
        )
