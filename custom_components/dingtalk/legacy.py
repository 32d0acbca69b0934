"""Legacy notify actions: notify.dingtalk and notify.dingtalk_<robot> for each robot.

One BaseNotificationService, loaded through discovery when the first robot loads,
serves every robot: Home Assistant registers `notify.dingtalk` for it and one
`notify.dingtalk_<robot>` per entry of its `targets`. Robots that load later
refresh the targets; the last robot to unload removes every action.

A robot's action name comes from its own title (`robot_service_names`), never from
which other robots happen to be loaded, so an action never moves to another robot
when one unloads. The config flow refuses a name already in use; two titles can
still share a slug after a rename in the UI, and then every entry but the first
added gets a suffix from its own entry id.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, override

from homeassistant.components.notify.const import ATTR_DATA, ATTR_TARGET, ATTR_TITLE
from homeassistant.components.notify.legacy import BaseNotificationService
from homeassistant.config_entries import SIGNAL_CONFIG_ENTRY_CHANGED, ConfigEntryChange
from homeassistant.const import CONF_NAME, Platform
from homeassistant.core import callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import discovery
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.util import slugify
from homeassistant.util.hass_dict import HassKey

from .compose import DingTalkRequest
from .const import DOMAIN, LEGACY_SERVICE_NAME
from .delivery import async_deliver, async_prepare_parts

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

    from .runtime import DingTalkConfigEntry

DATA_LEGACY: Final[HassKey[DingTalkLegacyState]] = HassKey(f"{DOMAIN}_legacy_notify")

ENTRY_ID_SUFFIX_LENGTH: Final = 6
"""Characters of the entry id that tell apart robots whose names share a slug.

The last ones: an entry id is a ULID, whose first ten characters are its creation
time, so entries added in the same minutes share their first characters.
"""


def robot_service_names(entries: Iterable[ConfigEntry]) -> dict[str, str]:
    """Return the action name of each robot (notify.dingtalk_<name>) by entry id.

    A name is the slug of the robot's own title. When several entries share a slug,
    the first added keeps it and each later one gets `<slug>_<suffix>`, the suffix
    being the end of its entry id (its whole entry id in the unlikely case that the
    name is taken too). Names depend on the entries that exist, in the order they
    were added, not on which robots are loaded.
    """
    names: dict[str, str] = {}
    taken: set[str] = set()
    later: list[tuple[ConfigEntry, str]] = []
    for entry in entries:
        slug = slugify(entry.title)
        if slug and slug not in taken:
            names[entry.entry_id] = slug
            taken.add(slug)
        else:
            later.append((entry, slug))
    for entry, slug in later:
        suffix = entry.entry_id[-ENTRY_ID_SUFFIX_LENGTH:]
        name = slugify(f"{slug}_{suffix}")
        if name in taken:
            name = slugify(f"{slug}_{entry.entry_id}")
        names[entry.entry_id] = name
        taken.add(name)
    return names


@dataclass(slots=True)
class DingTalkLegacyState:
    """Track the loaded robots and the shared legacy notify service."""

    robots: dict[str, DingTalkConfigEntry] = field(default_factory=dict)
    service: DingTalkNotificationService | None = None
    loading: bool = False


class DingTalkNotificationService(BaseNotificationService):
    """Send legacy notify calls to one robot, several, or the default ones."""

    def __init__(self, hass: HomeAssistant, state: DingTalkLegacyState) -> None:
        """Remember the shared state."""
        self.hass = hass
        self._state = state

    def _entries(self) -> list[DingTalkConfigEntry]:
        """Return every robot entry, loaded or not, in the order they were added."""
        return self.hass.config_entries.async_entries(DOMAIN, include_ignore=False)

    def _ordered_robots(self) -> list[DingTalkConfigEntry]:
        """Return the loaded robots in the order their entries were added."""
        return [
            entry for entry in self._entries() if entry.entry_id in self._state.robots
        ]

    @property
    @override
    def targets(self) -> dict[str, str]:
        """Return one target per loaded robot: its action name and its entry id."""
        names = robot_service_names(self._entries())
        return {
            names[entry.entry_id]: entry.entry_id for entry in self._ordered_robots()
        }

    @override
    async def async_register_services(self) -> None:
        """Register or refresh the actions; the first run marks the service ready."""
        await super().async_register_services()
        state = self._state
        if state.service is self:
            return
        state.loading = False
        if state.robots:
            state.service = self
        else:
            await self.async_unregister_services()

    def _resolve(self, targets: Sequence[str] | None) -> list[DingTalkConfigEntry]:
        """Return the robots a call names, or the default robots when it names none."""
        if not targets:
            chosen = [
                entry
                for entry in self._ordered_robots()
                if entry.runtime_data.default_target
            ]
            if not chosen:
                raise ServiceValidationError(
                    translation_domain=DOMAIN, translation_key="no_default_robot"
                )
            return chosen
        entries = self._entries()
        names = robot_service_names(entries)
        chosen = []
        for target in targets:
            entry = _find_robot(target, entries, names)
            if entry is None:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="unknown_target",
                    translation_placeholders={
                        "target": target,
                        "robots": ", ".join(entry.title for entry in entries),
                    },
                )
            if entry.entry_id not in self._state.robots:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="robot_not_loaded",
                    translation_placeholders={"robot": entry.title},
                )
            if entry not in chosen:
                chosen.append(entry)
        return chosen

    @override
    async def async_send_message(self, message: str = "", **kwargs: Any) -> None:
        """Send a legacy notify call to the robots it names."""
        request = DingTalkRequest.from_legacy(
            message, kwargs.get(ATTR_TITLE), kwargs.get(ATTR_DATA)
        )
        robots = self._resolve(kwargs.get(ATTR_TARGET))
        # Build and check every message before sending any of them.
        prepared = [
            (
                entry,
                await async_prepare_parts(
                    self.hass, entry, request.build(entry.runtime_data.default_format)
                ),
            )
            for entry in robots
        ]
        results = await asyncio.gather(
            *(async_deliver(entry, parts) for entry, parts in prepared),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result


def _find_robot(
    target: str, entries: list[DingTalkConfigEntry], names: dict[str, str]
) -> DingTalkConfigEntry | None:
    """Return the robot a target names, most exact match first.

    A target is an entry id, an action name (`ops`, `ops_3f9a2c`, `dingtalk_ops`;
    any text with that slug, such as `Ops`), or a title (case-insensitive). A title
    that two robots share means the one whose action carries the plain name.
    """
    wanted, slug = target.strip().casefold(), slugify(target)
    matchers: tuple[Callable[[DingTalkConfigEntry], bool], ...] = (
        lambda entry: wanted == entry.entry_id.casefold(),
        lambda entry: (
            slug
            in (names[entry.entry_id], f"{LEGACY_SERVICE_NAME}_{names[entry.entry_id]}")
        ),
        lambda entry: wanted == entry.title.casefold(),
    )
    for matches in matchers:
        if entry := next((entry for entry in entries if matches(entry)), None):
            return entry
    return None


async def async_add_robot(hass: HomeAssistant, entry: DingTalkConfigEntry) -> None:
    """Offer a loaded robot to the legacy notify actions."""
    state = hass.data.setdefault(DATA_LEGACY, DingTalkLegacyState())
    state.robots[entry.entry_id] = entry
    if state.service is not None:
        await state.service.async_register_services()
    elif not state.loading:
        state.loading = True
        hass.async_create_task(
            discovery.async_load_platform(
                hass,
                Platform.NOTIFY,
                DOMAIN,
                {CONF_NAME: LEGACY_SERVICE_NAME},
                {},
            ),
            f"{DOMAIN} legacy notify",
            eager_start=True,
        )


async def async_remove_robot(hass: HomeAssistant, entry: DingTalkConfigEntry) -> None:
    """Withdraw an unloading robot; the last one removes every legacy action."""
    state = hass.data[DATA_LEGACY]
    state.robots.pop(entry.entry_id, None)
    if (service := state.service) is None:
        return
    if state.robots:
        await service.async_register_services()
        return
    state.service = None
    await service.async_unregister_services()


@callback
def async_setup_legacy(hass: HomeAssistant) -> None:
    """Rename the actions when a robot entry is renamed, added or removed."""

    @callback
    def _async_entry_changed(
        change: ConfigEntryChange,  # noqa: ARG001 - any change may rename
        entry: ConfigEntry,
    ) -> None:
        """Refresh the legacy actions after a change to a robot entry."""
        if entry.domain != DOMAIN or (state := hass.data.get(DATA_LEGACY)) is None:
            return
        if (service := state.service) is not None:
            hass.async_create_task(
                service.async_register_services(),
                f"{DOMAIN} legacy notify refresh",
                eager_start=True,
            )

    async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, _async_entry_changed)


def async_get_legacy_service(hass: HomeAssistant) -> DingTalkNotificationService | None:
    """Create the shared service when notify discovers our platform."""
    state = hass.data.setdefault(DATA_LEGACY, DingTalkLegacyState())
    if not state.robots:
        state.loading = False
        return None
    return DingTalkNotificationService(hass, state)
