"""Constants for the DingTalk integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "dingtalk"
LOGGER: Final = logging.getLogger(__package__)
