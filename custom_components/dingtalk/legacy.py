"""Legacy notify actions: notify.dingtalk and notify.dingtalk_<robot> for each robot.

One BaseNotificationService, loaded through discovery when the first robot loads,
serves every robot: Home Assistant registers `notify.dingtalk` for it and one
`notify.dingtalk_<robot>` per entry of its `targets`. Robots that load later
refresh the targets; the last robot to unload removes every action.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, override

from homeassistant.components.notify.const import ATTR_DATA, ATTR_TARGET, ATTR_TITLE
from homeassistant.components.notify.legacy import BaseNotificationService
from homeassistant.const import CONF_NAME, Platform
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import discovery
from homeassistant.util import slugify
from homeassistant.util.hass_dict import HassKey

from .compose import DingTalkRequest
from .const import DOMAIN, LEGACY_SERVICE_NAME
from .delivery import async_deliver, prepare_parts

if TYPE_CHECKING:
    from collections.abc import Sequence

    from homeassistant.core import HomeAssistant

    from .runtime import DingTalkConfigEntry

DATA_LEGACY: Final[HassKey[DingTalkLegacyState]] = HassKey(f"{DOMAIN}_legacy_notify")


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

    def _ordered_robots(self) -> list[DingTalkConfigEntry]:
        """Return the loaded robots in the order their entries were added."""
        order = {
            entry.entry_id: index
            for index, entry in enumerate(
                self.hass.config_entries.async_entries(DOMAIN)
            )
        }
        return sorted(
            self._state.robots.values(),
            key=lambda entry: order.get(entry.entry_id, len(order)),
        )

    @property
    @override
    def targets(self) -> dict[str, str]:
        """Return one target per robot: a unique name mapped to its entry id."""
        targets: dict[str, str] = {}
        taken = {slugify(LEGACY_SERVICE_NAME)}
        for entry in self._ordered_robots():
            name, number = entry.title, 2
            while slugify(f"{LEGACY_SERVICE_NAME}_{name}") in taken:
                name, number = f"{entry.title} {number}", number + 1
            taken.add(slugify(f"{LEGACY_SERVICE_NAME}_{name}"))
            targets[name] = entry.entry_id
        return targets

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
        robots = self._ordered_robots()
        if not targets:
            chosen = [entry for entry in robots if entry.runtime_data.default_target]
            if not chosen:
                raise ServiceValidationError(
                    translation_domain=DOMAIN, translation_key="no_default_robot"
                )
            return chosen
        chosen = []
        for target in targets:
            wanted = target.strip().casefold()
            entry = next(
                (
                    entry
                    for entry in robots
                    if wanted
                    in (
                        entry.entry_id.casefold(),
                        entry.title.casefold(),
                        slugify(entry.title),
                    )
                ),
                None,
            )
            if entry is None:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="unknown_target",
                    translation_placeholders={
                        "target": target,
                        "robots": ", ".join(entry.title for entry in robots),
                    },
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
                prepare_parts(entry, request.build(entry.runtime_data.default_format)),
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


def async_get_legacy_service(hass: HomeAssistant) -> DingTalkNotificationService | None:
    """Create the shared service when notify discovers our platform."""
    state = hass.data.setdefault(DATA_LEGACY, DingTalkLegacyState())
    if not state.robots:
        state.loading = False
        return None
    return DingTalkNotificationService(hass, state)
