"""The groups an app's robot has heard from, offered when a group recipient is added.

Only each group's openConversationId and title are stored, under the app's entry id,
at most MAX_SEEN_GROUPS of them (the most recently heard from are kept).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import callback
from homeassistant.helpers.storage import Store

from .const import DOMAIN

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 10.0
"""Seconds a change waits before it is written (changes in between join it)."""
MAX_SEEN_GROUPS: Final = 50


def storage_key(entry_id: str) -> str:
    """Return the storage key of an app's groups."""
    return f"{DOMAIN}.seen_groups.{entry_id}"


class SeenGroups:
    """Remember the groups an app's robot heard from: id and title."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Start empty; ``async_load`` reads what was stored."""
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, storage_key(entry_id)
        )
        self._groups: OrderedDict[str, str] = OrderedDict()  # id -> title
        self._dirty = False

    async def async_load(self) -> None:
        """Read the stored groups (what cannot be read is left out)."""
        data = await self._store.async_load()
        items = data.get("groups") if isinstance(data, dict) else None
        for item in items if isinstance(items, list) else ():
            if not isinstance(item, dict):
                continue
            group_id, title = item.get("id"), item.get("title")
            if isinstance(group_id, str) and group_id:
                self._groups[group_id] = title if isinstance(title, str) else ""
        while len(self._groups) > MAX_SEEN_GROUPS:
            self._groups.popitem(last=False)

    @callback
    def note(self, group_id: str, title: str) -> None:
        """Remember that the robot heard from a group (saved a little later)."""
        changed = self._groups.get(group_id) != title
        self._groups[group_id] = title
        self._groups.move_to_end(group_id)
        while len(self._groups) > MAX_SEEN_GROUPS:
            self._groups.popitem(last=False)
            changed = True
        if changed:
            self._dirty = True
            self._store.async_delay_save(self._data, SAVE_DELAY)

    def groups(self) -> list[tuple[str, str]]:
        """Return (id, title) of the groups, most recently heard from first."""
        return list(reversed(self._groups.items()))

    def __len__(self) -> int:
        """Return how many groups are remembered."""
        return len(self._groups)

    async def async_flush(self) -> None:
        """Write a pending change now (the app unloads)."""
        if self._dirty:
            await self._store.async_save(self._data())

    def _data(self) -> dict[str, Any]:
        """Return what is stored."""
        self._dirty = False
        return {
            "groups": [
                {"id": group_id, "title": title}
                for group_id, title in self._groups.items()
            ]
        }


async def async_load_seen_groups(
    hass: HomeAssistant, entry_id: str
) -> list[tuple[str, str]]:
    """Return the stored groups of an app that is not receiving now."""
    seen = SeenGroups(hass, entry_id)
    await seen.async_load()
    return seen.groups()


async def async_remove_seen_groups(hass: HomeAssistant, entry_id: str) -> None:
    """Delete the stored groups of a deleted app."""
    await Store[dict[str, Any]](
        hass, STORAGE_VERSION, storage_key(entry_id)
    ).async_remove()
