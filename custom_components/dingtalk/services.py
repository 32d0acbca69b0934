"""The dingtalk.send_message action, registered once for every robot entity."""

from __future__ import annotations

from typing import Final

from homeassistant.components.notify.const import DOMAIN as NOTIFY_DOMAIN
from homeassistant.core import HomeAssistant, SupportsResponse, callback
from homeassistant.helpers import config_validation as cv, service
import probatio

from .compose import ATTR_MESSAGE, ATTR_TITLE, MESSAGE_FIELDS
from .const import DOMAIN, SERVICE_SEND_MESSAGE
from .reply import async_setup_reply

SEND_MESSAGE_SCHEMA: Final = cv.make_entity_service_schema(
    {
        probatio.Optional(ATTR_MESSAGE): cv.string,
        probatio.Optional(ATTR_TITLE): cv.string,
        **MESSAGE_FIELDS,
    }
)


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register dingtalk.send_message for the robots' notify entities."""
    service.async_register_platform_entity_service(
        hass,
        DOMAIN,
        SERVICE_SEND_MESSAGE,
        entity_domain=NOTIFY_DOMAIN,
        schema=SEND_MESSAGE_SCHEMA,
        func="async_send_dingtalk_message",
        supports_response=SupportsResponse.OPTIONAL,
    )
    async_setup_reply(hass)
