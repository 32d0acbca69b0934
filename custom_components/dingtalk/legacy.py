"""Legacy notify actions: notify.dingtalk and notify.dingtalk_<robot> for each robot.

`notify.dingtalk` reaches every target: group robots and the people and groups of
DingTalk apps (by name in `target`, or the default ones). Only group robots have an
action of their own.

One BaseNotificationService, loaded through discovery when the first robot loads,
serves every robot: Home Assistant registers `notify.dingtalk` for it and one
`notify.dingtalk_<robot>` per entry of its `targets`. Robots that load later
refresh the targets; the last robot to unload removes every action.

The actions' descriptions (the action UI's names and help texts) are registered
in the system language: Home Assistant translates only the descriptions of an
integration's own actions, and these belong to the notify domain. A per-robot
action refuses `target`: it always sends to its own robot. A send records the
robot's notify entity's last-sent time, as its own actions do.

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

from homeassistant.components.notify.const import (
    ATTR_DATA,
    ATTR_MESSAGE,
    ATTR_TARGET,
    ATTR_TITLE,
    DOMAIN as NOTIFY_DOMAIN,
)
from homeassistant.components.notify.legacy import BaseNotificationService
from homeassistant.config_entries import SIGNAL_CONFIG_ENTRY_CHANGED, ConfigEntryChange
from homeassistant.const import CONF_NAME, EVENT_CORE_CONFIG_UPDATE, Platform
from homeassistant.core import Event, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import discovery
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.service import async_set_service_schema
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import slugify
from homeassistant.util.hass_dict import HassKey

from .attachments import async_build, async_load_request_image
from .compose import DingTalkRequest
from .const import DOMAIN, LEGACY_SERVICE_NAME
from .delivery import async_deliver, async_prepare_parts
from .entry_data import is_app_entry
from .runtime import TargetKind

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

    from .runtime import DingTalkConfigEntry, Target

DATA_LEGACY: Final[HassKey[DingTalkLegacyState]] = HassKey(f"{DOMAIN}_legacy_notify")

ENTRY_ID_SUFFIX_LENGTH: Final = 6
"""Characters of the entry id that tell apart robots whose names share a slug.

The last ones: an entry id is a ULID, whose first ten characters are its creation
time, so entries added in the same minutes share their first characters.
"""


_FIELDS: Final[Mapping[str, dict[str, Any]]] = {
    ATTR_MESSAGE: {"required": True, "selector": {"text": {"multiline": True}}},
    ATTR_TITLE: {"required": False, "selector": {"text": {}}},
    ATTR_TARGET: {"required": False, "selector": {"text": {"multiple": True}}},
    ATTR_DATA: {
        "required": False,
        "example": '{"msgtype": "link", "url": "https://www.home-assistant.io"}',
        "selector": {"object": {}},
    },
}
"""The fields of the legacy actions; their texts are in the translations."""
_FIELD_TEXTS: Final[Mapping[str, tuple[str, str]]] = {
    ATTR_MESSAGE: (
        "services.send_message.fields.message.name",
        "services.send_message.fields.message.description",
    ),
    ATTR_TITLE: (
        "services.send_message.fields.title.name",
        "services.send_message.fields.title.description",
    ),
    ATTR_TARGET: ("common.legacy_target_name", "common.legacy_target_description"),
    ATTR_DATA: ("common.legacy_data_name", "common.legacy_data_description"),
}
"""The translation keys of each field's name and description."""


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
    """Track the loaded targets and the shared legacy notify service."""

    targets: dict[str, Target] = field(default_factory=dict)
    service: DingTalkNotificationService | None = None
    loading: bool = False


class DingTalkNotificationService(BaseNotificationService):
    """Send legacy notify calls to one target, several, or the default ones."""

    def __init__(self, hass: HomeAssistant, state: DingTalkLegacyState) -> None:
        """Remember the shared state."""
        self.hass = hass
        self._state = state

    def _entries(self) -> list[DingTalkConfigEntry]:
        """Return every entry, loaded or not, in the order they were added."""
        return self.hass.config_entries.async_entries(DOMAIN, include_ignore=False)

    def _robots(self) -> list[DingTalkConfigEntry]:
        """Return every robot entry, loaded or not, in the order they were added."""
        return [entry for entry in self._entries() if not is_app_entry(entry)]

    def _ordered_targets(self) -> list[Target]:
        """Return the loaded targets, by entry (as added), then subentry."""
        return [
            target
            for entry in self._entries()
            for target in self._state.targets.values()
            if target.entry.entry_id == entry.entry_id
        ]

    @property
    @override
    def targets(self) -> dict[str, str]:
        """Return one action per loaded robot: its name and its entry id."""
        names = robot_service_names(self._robots())
        return {
            names[target.key]: target.key
            for target in self._ordered_targets()
            if target.kind is TargetKind.ROBOT
        }

    @override
    async def async_register_services(self) -> None:
        """Register or refresh the actions; the first run marks the service ready."""
        await super().async_register_services()
        await self.async_describe_services()
        state = self._state
        if state.service is self:
            return
        state.loading = False
        if state.targets:
            state.service = self
        else:
            await self.async_unregister_services()

    async def async_describe_services(self) -> None:
        """Describe the actions for the action UI, in the system language."""
        language = self.hass.config.language
        texts: dict[str, str] = {}
        for category in ("common", "services"):
            texts |= await async_get_translations(
                self.hass, language, category, {DOMAIN}
            )

        def text(key: str, **placeholders: str) -> str:
            """Return a text of the translations."""
            return texts[f"component.{DOMAIN}.{key}"].format(**placeholders)

        def fields(*names: str) -> dict[str, Any]:
            """Return the described fields."""
            described: dict[str, Any] = {}
            for name in names:
                name_key, description_key = _FIELD_TEXTS[name]
                described[name] = {
                    "name": text(name_key),
                    "description": text(description_key),
                    **_FIELDS[name],
                }
            return described

        if self.hass.services.has_service(NOTIFY_DOMAIN, self._service_name):
            async_set_service_schema(
                self.hass,
                NOTIFY_DOMAIN,
                self._service_name,
                {
                    "name": text("common.legacy_all_name"),
                    "description": text("common.legacy_all_description"),
                    "fields": fields(ATTR_MESSAGE, ATTR_TITLE, ATTR_TARGET, ATTR_DATA),
                },
            )
        for service, key in self.registered_targets.items():
            if (target := self._state.targets.get(key)) is None:
                continue
            async_set_service_schema(
                self.hass,
                NOTIFY_DOMAIN,
                service,
                {
                    "name": text("common.legacy_robot_name", robot=target.name),
                    "description": text(
                        "common.legacy_robot_description", robot=target.name
                    ),
                    "fields": fields(ATTR_MESSAGE, ATTR_TITLE, ATTR_DATA),
                },
            )

    @override
    async def _async_notify_message_service(self, service: ServiceCall) -> None:
        """Refuse a target given to a robot's own action, which always sends to it."""
        if (
            service.service in self.registered_targets
            and service.data.get(ATTR_TARGET) is not None
        ):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="legacy_target_not_allowed",
                translation_placeholders={
                    "action": f"{NOTIFY_DOMAIN}.{service.service}",
                    "all": f"{NOTIFY_DOMAIN}.{self._service_name}",
                },
            )
        await super()._async_notify_message_service(service)

    def _resolve(self, wanted: Sequence[str] | None) -> list[Target]:
        """Return the targets a call names, or the default ones when it names none."""
        if not wanted:
            chosen = [t for t in self._ordered_targets() if t.default_target]
            if not chosen:
                raise ServiceValidationError(
                    translation_domain=DOMAIN, translation_key="no_default_robot"
                )
            return chosen
        names = robot_service_names(self._robots())
        known = _known(self._entries())
        chosen = []
        for name in wanted:
            key = _find(name, known, names)
            if key is None:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="unknown_target",
                    translation_placeholders={
                        "target": name,
                        "robots": ", ".join(title for _, title in known),
                    },
                )
            if (target := self._state.targets.get(key)) is None:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="robot_not_loaded",
                    translation_placeholders={"robot": dict(known)[key]},
                )
            if target not in chosen:
                chosen.append(target)
        return chosen

    @override
    async def async_send_message(self, message: str = "", **kwargs: Any) -> None:
        """Send a legacy notify call to the targets it names."""
        request = DingTalkRequest.from_legacy(
            message, kwargs.get(ATTR_TITLE), kwargs.get(ATTR_DATA)
        )
        targets = self._resolve(kwargs.get(ATTR_TARGET))
        image = await async_load_request_image(self.hass, request)
        # Build and check every message before sending any of them.
        prepared = [
            (
                target,
                await async_prepare_parts(
                    self.hass,
                    target,
                    await async_build(self.hass, target, request, image),
                ),
            )
            for target in targets
        ]
        results = await asyncio.gather(
            *(async_deliver(target, parts) for target, parts in prepared),
            return_exceptions=True,
        )
        for (target, _), result in zip(prepared, results, strict=True):
            if not isinstance(result, BaseException):
                target.async_record_sent()
        for result in results:
            if isinstance(result, BaseException):
                raise result


def _known(entries: list[DingTalkConfigEntry]) -> list[tuple[str, str]]:
    """Return every target that exists, loaded or not: (key, name), in order."""
    known: list[tuple[str, str]] = []
    for entry in entries:
        if not is_app_entry(entry):
            known.append((entry.entry_id, entry.title))
        else:
            known.extend(
                (sub_id, sub.title) for sub_id, sub in entry.subentries.items()
            )
    return known


def _find(
    wanted: str, known: list[tuple[str, str]], names: dict[str, str]
) -> str | None:
    """Return the key of the target a name means, most exact match first.

    A target is an entry or subentry id, a robot's action name (`ops`, `ops_3f9a2c`,
    `dingtalk_ops`; any text with that slug, such as `Ops`), or a name
    (case-insensitive, or the same slug). A name that two robots share means the one
    whose action carries the plain name.
    """
    text, slug = wanted.strip().casefold(), slugify(wanted)
    matchers: tuple[Callable[[str, str], bool], ...] = (
        lambda key, _name: text == key.casefold(),
        lambda key, _name: (
            key in names and slug in (names[key], f"{LEGACY_SERVICE_NAME}_{names[key]}")
        ),
        lambda _key, name: text == name.casefold(),
        lambda _key, name: bool(slug) and slug == slugify(name),
    )
    for matches in matchers:
        if key := next((key for key, name in known if matches(key, name)), None):
            return key
    return None


async def async_add_targets(hass: HomeAssistant, targets: Iterable[Target]) -> None:
    """Offer loaded targets to the legacy notify actions."""
    state = hass.data.setdefault(DATA_LEGACY, DingTalkLegacyState())
    for target in targets:
        state.targets[target.key] = target
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


async def async_remove_targets(hass: HomeAssistant, targets: Iterable[Target]) -> None:
    """Withdraw unloading targets; the last one removes every legacy action."""
    state = hass.data[DATA_LEGACY]
    for target in targets:
        state.targets.pop(target.key, None)
    if (service := state.service) is None:
        return
    if state.targets:
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

    @callback
    def _async_core_config_updated(event: Event[Mapping[str, Any]]) -> None:
        """Describe the actions again in a new system language."""
        if "language" not in event.data:
            return
        state = hass.data.get(DATA_LEGACY)
        if state is not None and (service := state.service) is not None:
            hass.async_create_task(
                service.async_describe_services(),
                f"{DOMAIN} legacy notify descriptions",
                eager_start=True,
            )

    async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, _async_entry_changed)
    hass.bus.async_listen(EVENT_CORE_CONFIG_UPDATE, _async_core_config_updated)


def async_get_legacy_service(hass: HomeAssistant) -> DingTalkNotificationService | None:
    """Create the shared service when notify discovers our platform."""
    state = hass.data.setdefault(DATA_LEGACY, DingTalkLegacyState())
    if not state.targets:
        state.loading = False
        return None
    return DingTalkNotificationService(hass, state)
