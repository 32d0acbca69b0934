"""An in-process Home Assistant with the integration, and a bare aiohttp poster.

Benchmark-only patches (never a user option), applied while ``home_assistant()`` is
open and undone when it closes:

- the outboxes' settings (``hass.data[DATA_SETTINGS]``, the one settings object of
  every outbox) turn pacing off (``pace=False``, for the overhead and CPU figures)
  and/or hand the outboxes the virtual clock and sleep (for the rate-limit burst and
  the queue figures), turn combining on or off, may raise the queue's bound, and
  put the durable queue in the benchmark's folder.
- ``custom_components.dingtalk.DingTalkClient`` gets the virtual clock for its
  signatures when virtual time is used, so that one clock rules every timestamp.
- Home Assistant's DNS resolver factory returns aiohttp's threaded resolver instead
  of the zeroconf one (as pytest-homeassistant-custom-component does): the zeroconf
  resolver needs the network integration, and every request goes to 127.0.0.1.
"""

from __future__ import annotations

from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from functools import partial
import logging
from pathlib import Path
import tempfile
import time
from typing import TYPE_CHECKING, Any, Final, cast
from unittest.mock import patch

import aiohttp
from homeassistant import loader
from homeassistant.config_entries import ConfigSubentryDataWithId
from homeassistant.helpers import entity_registry as er
from homeassistant.util import slugify
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

import custom_components.dingtalk as integration
from custom_components.dingtalk.api import DingTalkClient
from custom_components.dingtalk.const import (
    CONF_API_BASE,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_CONVERSATION_ID,
    CONF_DEFAULT_TARGET,
    CONF_KEYWORDS,
    CONF_KIND,
    CONF_OAPI_BASE,
    CONF_RECEIVE,
    CONF_ROBOT_CODE,
    CONF_SECRET,
    CONF_USER_ID,
    CONF_WEBHOOK,
    DOMAIN,
    SUBENTRY_GROUP,
    SUBENTRY_PERSON,
    EntryKind,
)
from custom_components.dingtalk.migration import MINOR_VERSION
from custom_components.dingtalk.outbox import DATA_SETTINGS, Outbox, OutboxSettings
from custom_components.dingtalk.runtime import DingTalkAppRuntime, DingTalkRuntime

from .app_robots import GROUP_ID, PERSON
from .robots import JSON_HEADERS, SECRET, TOKENS, robot_title, signed_url

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

    from .app_robots import BenchApp
    from .clock import VirtualTime
    from .robots import Endpoint

RESOLVER_FACTORY: Final = "homeassistant.helpers.aiohttp_client._async_make_resolver"

QUIET_LOGGERS: Final = (
    "homeassistant",
    "custom_components.dingtalk",
    "aiohttp",
    "apprise",
    "root",
)


def quiet_logs() -> None:
    """Keep Home Assistant's and the tools' warnings out of the benchmark output.

    The burst makes every tool meet DingTalk's rate limit on purpose: their
    warnings are expected and counted from the emulator's log instead.
    """
    logging.basicConfig(level=logging.CRITICAL)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


@dataclass(slots=True)
class OutboxTuning:
    """Benchmark-only settings for every outbox the integration creates."""

    pace: bool = True
    virtual: VirtualTime | None = None
    combine: bool = False
    """Off by default: the figures compare pacing itself; a variant turns it on."""
    max_queue: int | None = None
    """None: the integration's bound (the queue benchmark holds more)."""

    def settings(self, database: str) -> OutboxSettings:
        """Return the outboxes' settings for this tuning."""
        settings = OutboxSettings(
            pace=self.pace, combine=self.combine, database=database
        )
        if self.max_queue is not None:
            settings = replace(settings, max_queue=self.max_queue)
        if (virtual := self.virtual) is not None:
            settings = replace(
                settings,
                clock=virtual.now,
                wall_clock=virtual.now,
                sleep=virtual.sleeper(self),
            )
        return settings


class _LoopbackResolver(aiohttp.ThreadedResolver):
    """aiohttp's threaded resolver with the close hook Home Assistant calls."""

    async def real_close(self) -> None:
        """Close the resolver (Home Assistant calls this at shutdown)."""
        await self.close()


def _make_resolver(_hass: HomeAssistant) -> _LoopbackResolver:
    """Return a resolver that needs no network integration."""
    return _LoopbackResolver()


@dataclass(frozen=True, slots=True)
class AppTargets:
    """A bench app set up in Home Assistant: its entry and its notify entities."""

    entry: ConfigEntry
    person: str
    """The notify entity of the bench person."""
    group: str | None
    """The notify entity of the bench group, if the app has it."""


@dataclass(slots=True)
class BenchHass:
    """A running in-process Home Assistant and the robots set up in it."""

    hass: HomeAssistant
    tuning: OutboxTuning
    entries: list[ConfigEntry] = field(default_factory=list)

    @property
    def outboxes(self) -> list[Outbox]:
        """Every target's outbox, in the order the robots and apps were added."""
        outboxes: list[Outbox] = []
        for entry in self.entries:
            runtime = getattr(entry, "runtime_data", None)
            if isinstance(runtime, DingTalkAppRuntime):
                outboxes.extend(t.outbox for t in runtime.targets.values())
            elif isinstance(runtime, DingTalkRuntime):
                outboxes.append(runtime.outbox)
        return outboxes

    async def _set_up(self, entry: ConfigEntry) -> float:
        """Add and set up ``entry``; return the setup time in seconds."""
        entry.add_to_hass(self.hass)  # type: ignore[attr-defined]
        started = time.perf_counter()
        if not await self.hass.config_entries.async_setup(entry.entry_id):
            raise RuntimeError(f"{entry.title} did not set up")
        await self.hass.async_block_till_done()
        elapsed = time.perf_counter() - started
        self.entries.append(entry)
        return elapsed

    async def add_app(
        self,
        server: Endpoint,
        app: BenchApp,
        *,
        group: bool = False,
        receive: bool = False,
    ) -> AppTargets:
        """Add and set up a bench app with the bench person (group, receiving)."""
        person_id, group_id = f"{app.client_id}-person", f"{app.client_id}-group"
        subentries = [
            ConfigSubentryDataWithId(
                subentry_id=person_id,
                subentry_type=SUBENTRY_PERSON,
                title=PERSON.name,
                unique_id=f"person_{PERSON.user_id}",
                data={CONF_USER_ID: PERSON.user_id, CONF_DEFAULT_TARGET: False},
            )
        ]
        if group:
            subentries.append(
                ConfigSubentryDataWithId(
                    subentry_id=group_id,
                    subentry_type=SUBENTRY_GROUP,
                    title="Bench group",
                    unique_id=f"group_{GROUP_ID}",
                    data={CONF_CONVERSATION_ID: GROUP_ID, CONF_DEFAULT_TARGET: True},
                )
            )
        entry = cast(
            "ConfigEntry",
            MockConfigEntry(
                domain=DOMAIN,
                title=app.title,
                unique_id=app.client_id,
                minor_version=MINOR_VERSION,
                data={
                    CONF_KIND: EntryKind.APP,
                    CONF_CLIENT_ID: app.client_id,
                    CONF_CLIENT_SECRET: app.client_secret,
                    CONF_ROBOT_CODE: app.client_id,
                    CONF_API_BASE: server.base_url,
                    CONF_OAPI_BASE: server.base_url,
                },
                options={CONF_RECEIVE: True} if receive else {},
                subentries_data=subentries,
            ),
        )
        await self._set_up(entry)
        return AppTargets(
            entry,
            self._notify_entity(entry, person_id),
            self._notify_entity(entry, group_id) if group else None,
        )

    def _notify_entity(self, entry: ConfigEntry, subentry_id: str | None) -> str:
        """Return the notify entity of ``entry`` (of one of its subentries)."""
        registry = er.async_get(self.hass)
        return next(
            entity.entity_id
            for entity in er.async_entries_for_config_entry(registry, entry.entry_id)
            if entity.domain == "notify"
            and (subentry_id is None or entity.config_subentry_id == subentry_id)
        )

    async def add_robot(self, server: Endpoint, index: int) -> float:
        """Add and set up bench robot ``index``; return the setup time in seconds."""
        entry = cast(
            "ConfigEntry",
            MockConfigEntry(
                domain=DOMAIN,
                title=robot_title(index),
                unique_id=TOKENS[index][:16],
                data={
                    CONF_WEBHOOK: server.webhook_url(TOKENS[index]),
                    CONF_SECRET: SECRET,
                    CONF_KEYWORDS: [],
                },
            ),
        )
        return await self._set_up(entry)

    def legacy_service(self, index: int) -> str:
        """Return the legacy notify action of robot ``index`` (notify.<this>)."""
        return slugify(f"{DOMAIN}_{self.entries[index].title}")

    def entity_id(self, index: int) -> str:
        """Return the notify entity of robot ``index``."""
        return self._notify_entity(self.entries[index], None)

    async def notify(self, index: int, message: str) -> None:
        """Call notify.dingtalk_<robot> and wait for it (as an automation does)."""
        await self.hass.services.async_call(
            "notify", self.legacy_service(index), {"message": message}, blocking=True
        )

    async def send_message(self, index: int, message: str) -> Mapping[str, Any]:
        """Call dingtalk.send_message with response data; return the robot's answer."""
        return await self.send_to(self.entity_id(index), message)

    async def send_to(self, entity_id: str, message: str) -> Mapping[str, Any]:
        """Call dingtalk.send_message on ``entity_id``; return its answer."""
        response = await self.hass.services.async_call(
            DOMAIN,
            "send_message",
            {"entity_id": entity_id, "message": message},
            blocking=True,
            return_response=True,
        )
        if response is None:
            raise RuntimeError("dingtalk.send_message returned no response")
        return cast("Mapping[str, Any]", response[entity_id])

    def queued(self) -> int:
        """Return how many messages wait in all outboxes."""
        return sum(int(outbox.stats()["queued"]) for outbox in self.outboxes)

    def idle(self) -> bool:
        """Whether every outbox has nothing to send now (empty, or asleep)."""
        virtual = self.tuning.virtual
        return all(
            outbox.stats()["queued"] == 0 or (virtual is not None and outbox.sleeping)
            for outbox in self.outboxes
        )


@asynccontextmanager
async def home_assistant(
    work_dir: Path, tuning: OutboxTuning
) -> AsyncIterator[BenchHass]:
    """Run an in-process Home Assistant that may load custom_components/dingtalk.

    Its configuration directory is a new folder inside ``work_dir`` (which exists).
    """
    with ExitStack() as stack:
        stack.enter_context(patch(RESOLVER_FACTORY, _make_resolver))
        if tuning.virtual is not None:
            stack.enter_context(
                patch.object(
                    integration,
                    "DingTalkClient",
                    partial(DingTalkClient, clock=tuning.virtual.now),
                )
            )
        config_dir = tempfile.mkdtemp(prefix="hass-", dir=work_dir)
        async with async_test_home_assistant(config_dir=config_dir) as raw:
            hass = cast("HomeAssistant", raw)
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
            hass.data[DATA_SETTINGS] = tuning.settings(
                str(Path(config_dir) / "outbox.db")
            )
            try:
                yield BenchHass(hass, tuning)
            finally:
                await hass.async_stop(force=True)


class RawPoster:
    """Sign and POST JSON bodies with a plain aiohttp session (the baseline)."""

    def __init__(self, server: Endpoint) -> None:
        """Post to ``server``."""
        self._server = server
        self._session = aiohttp.ClientSession()

    async def post(
        self, index: int, body: bytes, now: float | None = None
    ) -> tuple[int, bytes]:
        """Sign for robot ``index`` at ``now`` (real time by default), POST ``body``."""
        url = signed_url(
            self._server, TOKENS[index], SECRET, time.time() if now is None else now
        )
        async with self._session.post(url, data=body, headers=JSON_HEADERS) as answer:
            return answer.status, await answer.read()

    async def close(self) -> None:
        """Close the session."""
        await self._session.close()
