"""Diagnostics: the entry without secrets, plus delivery statistics."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from homeassistant.components.notify.const import (
    ATTR_MESSAGE,
    DOMAIN as NOTIFY_DOMAIN,
    SERVICE_SEND_MESSAGE,
)
from homeassistant.const import ATTR_ENTITY_ID
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from syrupy.filters import props

from .conftest import SECRET, TOKEN

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
    from syrupy.assertion import SnapshotAssertion


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """Diagnostics redact the token, the secret and the webhook."""
    await hass.services.async_call(
        NOTIFY_DOMAIN,
        SERVICE_SEND_MESSAGE,
        {ATTR_ENTITY_ID: "notify.ops", ATTR_MESSAGE: "hi"},
        blocking=True,
    )
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, loaded_entry
    )
    text = json.dumps(diagnostics)
    assert TOKEN not in text
    assert SECRET not in text
    assert diagnostics["delivery"]["sent"] == 1
    assert diagnostics == snapshot(
        exclude=props("created_at", "modified_at", "endpoint", "last_delivered_at")
    )
