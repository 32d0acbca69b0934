"""Config flow for DingTalk robots."""

from __future__ import annotations

from homeassistant.config_entries import ConfigFlow

from .const import DOMAIN


class DingTalkConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a DingTalk robot."""

    VERSION = 1
    MINOR_VERSION = 1
