"""What an entry stores, in one canonical form, and what kind of entry it is."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from yarl import URL

from .const import CONF_KIND, EntryKind

if TYPE_CHECKING:
    from collections.abc import Iterable

    from homeassistant.config_entries import ConfigEntry

    from .api import Webhook

KEYWORD_SEPARATORS: Final = re.compile(r"[,，、;；\n]")


def normalize_keywords(value: Iterable[str] | str | None) -> list[str]:
    """Split comma lists, strip blanks and duplicates, keep the order."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else [str(item) for item in value]
    words = (word.strip() for item in items for word in KEYWORD_SEPARATORS.split(item))
    return list(dict.fromkeys(word for word in words if word))


def webhook_url(webhook: Webhook) -> str:
    """Return the canonical webhook URL stored in the entry."""
    return str(URL(webhook.endpoint).with_query(access_token=webhook.access_token))


def is_app_entry(entry: ConfigEntry) -> bool:
    """Return whether an entry is a DingTalk app (not a group webhook robot)."""
    return bool(entry.data.get(CONF_KIND) == EntryKind.APP)


def target_names(entries: Iterable[ConfigEntry]) -> list[str]:
    """Return the names that name targets: robots, and the people and groups of apps."""
    names: list[str] = []
    for entry in entries:
        if is_app_entry(entry):
            names.extend(sub.title for sub in entry.subentries.values())
        else:
            names.append(entry.title)
    return names
