"""The language of the person using a config flow (for the test message it sends).

A flow step does not know who runs it, but it runs inside that person's HTTP
request: their language is the one saved in their frontend profile, else the one
their browser asks for, else the system language.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from homeassistant.components.http.const import KEY_HASS_USER
from homeassistant.helpers.http import current_request

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

FRONTEND_LANGUAGE_KEY: Final = "language"
"""The frontend's user data item holding {"language": ...} (frontend/set_user_data)."""


async def async_flow_language(hass: HomeAssistant) -> str:
    """Return the language of the person whose request runs the flow step."""
    request = current_request.get()
    if request is None:
        return hass.config.language
    user = request.get(KEY_HASS_USER)
    if user is not None and "frontend" in hass.config.components:
        # Imported here: the frontend is not a dependency of this integration.
        from homeassistant.components.frontend.storage import (  # noqa: PLC0415
            async_user_store,
        )

        store = await async_user_store(hass, user.id)
        saved = store.data.get(FRONTEND_LANGUAGE_KEY)
        if isinstance(saved, dict) and isinstance(saved.get("language"), str):
            return str(saved["language"])
    accepted = request.headers.get("Accept-Language", "")
    first = accepted.split(",", 1)[0].split(";", 1)[0].strip()
    return first or hass.config.language
