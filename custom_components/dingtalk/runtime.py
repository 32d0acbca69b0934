"""Runtime data of a loaded DingTalk robot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

if TYPE_CHECKING:
    from .api import DingTalkClient, Webhook
    from .const import DingTalkFormat
    from .outbox import Outbox


@dataclass(slots=True)
class DingTalkRuntime:
    """Hold what a loaded robot needs to send."""

    client: DingTalkClient
    outbox: Outbox
    webhook: Webhook
    keywords: tuple[str, ...]
    default_format: DingTalkFormat
    default_target: bool


type DingTalkConfigEntry = ConfigEntry[DingTalkRuntime]
