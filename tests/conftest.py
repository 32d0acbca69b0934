"""Shared fixtures."""

from __future__ import annotations

# Import our package before pytest-homeassistant-custom-component mounts its own
# testing_config/custom_components, or Home Assistant reports "Integration not found".
from custom_components.dingtalk.const import DOMAIN

__all__ = ["DOMAIN"]
