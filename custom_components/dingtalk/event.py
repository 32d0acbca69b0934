"""The event entity of an app that receives messages: one event per message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, override

from homeassistant.components.event import EventEntity
from homeassistant.core import callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect

from .receive import MESSAGE_KEY, message_signal
from .receive_models import MessageKind
from .runtime import DingTalkAppRuntime

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .receive import DingTalkReceiver
    from .runtime import DingTalkConfigEntry

# Events are pushed; nothing is updated.
PARALLEL_UPDATES: Final = 0


async def async_setup_entry(
    hass: HomeAssistant,  # noqa: ARG001 - platform signature
    entry: DingTalkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the message event entity of an app that receives messages."""
    runtime = entry.runtime_data
    if isinstance(runtime, DingTalkAppRuntime) and runtime.receiver is not None:
        async_add_entities([DingTalkMessageEvent(runtime.receiver)])


class DingTalkMessageEvent(EventEntity):
    """A message someone sent to the app's robot (1:1 or @-mentioning it)."""

    _attr_has_entity_name = True
    _attr_translation_key = MESSAGE_KEY

    def __init__(self, receiver: DingTalkReceiver) -> None:
        """Describe the entity of the app's device."""
        self._entry_id = receiver.entry.entry_id
        self._attr_event_types = list(MessageKind)
        self._attr_unique_id = f"{self._entry_id}_{MESSAGE_KEY}"
        self._attr_device_info = receiver.device_info

    @override
    async def async_added_to_hass(self) -> None:
        """Follow the app's messages."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, message_signal(self._entry_id), self._async_message
            )
        )

    @callback
    def _async_message(self, kind: MessageKind, data: dict[str, Any]) -> None:
        """Record a message as the entity's event."""
        attributes = {k: v for k, v in data.items() if k != "config_entry_id"}
        self._trigger_event(kind, attributes)
        self.async_write_ha_state()
