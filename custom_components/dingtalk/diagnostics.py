"""Diagnostics of a DingTalk entry: redacted, with delivery and Stream statistics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_UNIQUE_ID

from .api import DEFAULT_API_BASE, DEFAULT_OAPI_BASE
from .const import (
    CONF_ALLOWED_USERS,
    CONF_API_BASE,
    CONF_CLIENT_SECRET,
    CONF_CONVERSATION_ID,
    CONF_KEYWORDS,
    CONF_MOBILE,
    CONF_OAPI_BASE,
    CONF_SECRET,
    CONF_USER_ID,
    CONF_WEBHOOK,
)
from .runtime import DingTalkRuntime

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .runtime import DingTalkConfigEntry

TO_REDACT: Final = {
    CONF_WEBHOOK,
    CONF_SECRET,
    CONF_CLIENT_SECRET,
    CONF_MOBILE,
    CONF_USER_ID,
    CONF_CONVERSATION_ID,
    CONF_KEYWORDS,
    CONF_ALLOWED_USERS,
    "access_token",
    CONF_UNIQUE_ID,
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant,  # noqa: ARG001 - part of the diagnostics API
    entry: DingTalkConfigEntry,
) -> dict[str, Any]:
    """Return the entry, redacted, and the delivery statistics of each target."""
    runtime = entry.runtime_data
    data: dict[str, Any] = {"entry": async_redact_data(entry.as_dict(), TO_REDACT)}
    if isinstance(runtime, DingTalkRuntime):
        data["robot"] = {
            "endpoint": runtime.webhook.endpoint,
            "signed": runtime.client.signed,
            "keywords": len(runtime.keywords),
            "default_format": runtime.default_format,
            "default_target": runtime.default_target,
        }
        data["delivery"] = runtime.outbox.stats()
        return data
    stats = runtime.client.stats
    data["app"] = {
        "api_base": entry.data.get(CONF_API_BASE) or DEFAULT_API_BASE,
        "oapi_base": entry.data.get(CONF_OAPI_BASE) or DEFAULT_OAPI_BASE,
        "requests": stats.requests,
        "token_requests": stats.token_requests,
        "auth_retries": stats.auth_retries,
    }
    data["recipients"] = {
        key: {
            "kind": target.kind,
            "default_target": target.default_target,
            "delivery": target.outbox.stats(),
        }
        for key, target in runtime.targets.items()
    }
    if runtime.receiver is not None:
        data["stream"] = runtime.receiver.diagnostics()
    return data
