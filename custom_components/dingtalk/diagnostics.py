"""Diagnostics for a DingTalk robot: its entry with secrets redacted, and delivery."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_UNIQUE_ID

from .const import CONF_KEYWORDS, CONF_SECRET, CONF_WEBHOOK

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .runtime import DingTalkConfigEntry

TO_REDACT: Final = {
    CONF_WEBHOOK,
    CONF_SECRET,
    CONF_KEYWORDS,
    "access_token",
    CONF_UNIQUE_ID,
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant,  # noqa: ARG001 - part of the diagnostics API
    entry: DingTalkConfigEntry,
) -> dict[str, Any]:
    """Return the robot's entry, redacted, and its outbox statistics."""
    runtime = entry.runtime_data
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "robot": {
            "endpoint": runtime.webhook.endpoint,
            "signed": runtime.client.signed,
            "keywords": len(runtime.keywords),
            "default_format": runtime.default_format,
            "default_target": runtime.default_target,
        },
        "delivery": runtime.outbox.stats(),
    }
