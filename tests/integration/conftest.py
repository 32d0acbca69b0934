"""Fixtures for tests that run the integration inside Home Assistant."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
import json
import time
from typing import TYPE_CHECKING, Any, Final
from unittest.mock import patch

from homeassistant.config_entries import ConfigSubentryDataWithId
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.dingtalk.api import Webhook
from custom_components.dingtalk.const import (
    CONF_API_BASE,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_CONVERSATION_ID,
    CONF_DEFAULT_TARGET,
    CONF_KEYWORDS,
    CONF_KIND,
    CONF_OAPI_BASE,
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
from custom_components.dingtalk.outbox import (
    OutboxSettings,
    settings as outbox_settings_module,
)
from dingtalk_emulator import (
    AppConfig,
    Emulator,
    Group,
    Person,
    RobotConfig,
    RobotState,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator
    from pathlib import Path

    from homeassistant.core import HomeAssistant

    from dingtalk_emulator import DeliveredMessage, EmulatorServer

TOKEN: Final = "a1b2c3d4" * 8
SECRET: Final = "SEC" + "0123456789abcdef" * 4
KEYWORD: Final = "alarm"
ROBOT_NAME: Final = "Ops"
ENTRY_ID: Final = "01DINGTALKOPS0000000000000"

OTHER_TOKEN: Final = "e5f6a7b8" * 8
OTHER_SECRET: Final = "SEC" + "fedcba9876543210" * 4
OTHER_NAME: Final = "Family"
OTHER_ENTRY_ID: Final = "01DINGTALKFAMILY0000000000"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/dingtalk in every test."""


FAST_SETTINGS: Final = OutboxSettings(
    send_timeout=2.0,
    stop_timeout=1.0,
    retry_base=0.01,
    retry_max_delay=0.02,
    max_retries=1,
)
"""Short timeouts and retries for the outboxes of integration tests."""


@pytest.fixture(autouse=True)
def fast_outbox(tmp_path: Path) -> Iterator[OutboxSettings]:
    """Give every outbox short timeouts and retries, and a queue file of its own."""
    settings = replace(FAST_SETTINGS, database=str(tmp_path / "outbox.db"))
    with patch.object(outbox_settings_module, "DEFAULT_SETTINGS", settings):
        yield settings


class SkewClock:
    """The emulator's clock: real time plus an offset a test can change."""

    def __init__(self) -> None:
        """Start without an offset."""
        self.offset = 0.0

    def now(self) -> float:
        """Return DingTalk's idea of the current time."""
        return time.time() + self.offset


@pytest.fixture
def emulator_clock() -> SkewClock:
    """Return the emulator's clock."""
    return SkewClock()


@pytest.fixture
def robot_emulator(emulator_clock: SkewClock) -> Emulator:
    """Return a DingTalk emulator with two robots: Ops (signed, keyword) and Family."""
    emulator = Emulator(clock=emulator_clock)
    emulator.add_robot(
        RobotConfig(
            access_token=TOKEN, secret=SECRET, keywords=(KEYWORD,), name=ROBOT_NAME
        )
    )
    emulator.add_robot(
        RobotConfig(access_token=OTHER_TOKEN, secret=OTHER_SECRET, name=OTHER_NAME)
    )
    return emulator


@pytest.fixture
async def robot_server(
    robot_emulator: Emulator,
    socket_enabled: None,  # noqa: ARG001 - lets the server listen on 127.0.0.1
) -> AsyncIterator[EmulatorServer]:
    """Serve the emulator on 127.0.0.1."""
    async with robot_emulator.serve() as server:
        yield server


@dataclass(frozen=True, slots=True)
class RobotEnv:
    """The emulated DingTalk: its robots, its server and its clock."""

    emulator: Emulator
    server: EmulatorServer
    clock: SkewClock

    def skew(self, offset: float) -> Callable[[], None]:
        """Move DingTalk's clock; return how to undo it."""
        self.clock.offset = offset
        return partial(setattr, self.clock, "offset", 0.0)

    def replace_robot(self, **settings: Any) -> Callable[[], None]:  # noqa: ANN401 - mixed RobotConfig settings
        """Change the Ops robot's security settings; return how to undo it."""
        self.put_robot(**settings)
        return self.put_robot

    def put_robot(self, **settings: Any) -> None:  # noqa: ANN401 - mixed RobotConfig settings
        """Give DingTalk the Ops robot with these security settings."""
        self.emulator.remove_robot(TOKEN)
        self.emulator.add_robot(
            RobotConfig(
                access_token=TOKEN, secret=SECRET, keywords=(KEYWORD,), **settings
            )
        )

    def set_state(self, state: RobotState) -> Callable[[], None]:
        """Disable or remove the Ops robot; return how to undo it."""
        self.emulator.set_robot_state(TOKEN, state)
        return partial(self.emulator.set_robot_state, TOKEN, RobotState.ACTIVE)


@pytest.fixture
def robot_env(
    robot_emulator: Emulator, robot_server: EmulatorServer, emulator_clock: SkewClock
) -> RobotEnv:
    """Return the emulated DingTalk as one object."""
    return RobotEnv(robot_emulator, robot_server, emulator_clock)


def entry_data(
    server: EmulatorServer,
    token: str = TOKEN,
    secret: str | None = SECRET,
    keywords: tuple[str, ...] = (KEYWORD,),
) -> dict[str, Any]:
    """Return the entry data the config flow stores for a robot."""
    return {
        CONF_WEBHOOK: server.webhook_url(token),
        CONF_SECRET: secret,
        CONF_KEYWORDS: list(keywords),
    }


def fingerprint(token: str) -> str:
    """Return the unique id of a robot entry."""
    return Webhook.parse(token).token_fingerprint()


@pytest.fixture
def config_entry(robot_server: EmulatorServer) -> MockConfigEntry:
    """Return the Ops robot's config entry (not yet added)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=ROBOT_NAME,
        entry_id=ENTRY_ID,
        unique_id=fingerprint(TOKEN),
        data=entry_data(robot_server),
        minor_version=MINOR_VERSION,
    )


@pytest.fixture
def other_entry(robot_server: EmulatorServer) -> MockConfigEntry:
    """Return the Family robot's config entry (not yet added)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=OTHER_NAME,
        entry_id=OTHER_ENTRY_ID,
        unique_id=fingerprint(OTHER_TOKEN),
        data=entry_data(robot_server, OTHER_TOKEN, OTHER_SECRET, ()),
        minor_version=MINOR_VERSION,
    )


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Add an entry and set it up."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


@pytest.fixture
async def loaded_entry(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> MockConfigEntry:
    """Return the Ops robot, set up."""
    return await setup_entry(hass, config_entry)


def stable(message: DeliveredMessage) -> dict[str, Any]:
    """Return what DingTalk received, without the random msgUuid."""
    payload: dict[str, Any] = json.loads(json.dumps(message.payload))
    payload.pop("msgUuid", None)
    return payload


# -- DingTalk apps ---------------------------------------------------------------------

APP_CLIENT_ID: Final = "dingapphome0001"
APP_CLIENT_SECRET: Final = "app-secret-" + "0123456789" * 4
APP_NAME: Final = "Home app"
APP_ENTRY_ID: Final = "01DINGTALKAPP0000000000000"
ALICE: Final = Person(user_id="alice01", name="Alice", mobile="13800000001")
BOB: Final = Person(user_id="bob02", name="Bob", mobile="13800000002")
GARDEN_CID: Final = "cidGardenGroup0001"
PERSON_SUBENTRY_ID: Final = "01SUBALICE0000000000000000"
GROUP_SUBENTRY_ID: Final = "01SUBGARDEN000000000000000"


@pytest.fixture
def app_emulator(robot_emulator: Emulator) -> Emulator:
    """Return the emulator with the Home app, Alice and Bob, and the Garden group."""
    apps = robot_emulator.apps
    apps.add_app(
        AppConfig(
            client_id=APP_CLIENT_ID, client_secret=APP_CLIENT_SECRET, name=APP_NAME
        )
    )
    apps.add_person(ALICE)
    apps.add_person(BOB)
    apps.add_group(
        Group(
            open_conversation_id=GARDEN_CID,
            title="Garden",
            members=(ALICE.user_id, BOB.user_id),
            robots=(APP_CLIENT_ID,),
        )
    )
    return robot_emulator


def app_data(server: EmulatorServer, **changes: object) -> dict[str, Any]:
    """Return the entry data of the Home app, talking to the emulator."""
    return {
        CONF_KIND: EntryKind.APP,
        CONF_CLIENT_ID: APP_CLIENT_ID,
        CONF_CLIENT_SECRET: APP_CLIENT_SECRET,
        CONF_ROBOT_CODE: APP_CLIENT_ID,
        CONF_API_BASE: server.base_url,
        CONF_OAPI_BASE: server.base_url,
    } | changes


@pytest.fixture
def app_entry(app_emulator: Emulator, robot_server: EmulatorServer) -> MockConfigEntry:
    """Return the Home app's entry with Alice and the Garden group (not yet added)."""
    del app_emulator  # the app must exist before the entry is set up
    return MockConfigEntry(
        domain=DOMAIN,
        title=APP_NAME,
        entry_id=APP_ENTRY_ID,
        unique_id=APP_CLIENT_ID,
        data=app_data(robot_server),
        minor_version=MINOR_VERSION,
        subentries_data=[
            ConfigSubentryDataWithId(
                subentry_id=PERSON_SUBENTRY_ID,
                subentry_type=SUBENTRY_PERSON,
                title=ALICE.name,
                unique_id=f"person_{ALICE.user_id}",
                data={CONF_USER_ID: ALICE.user_id, CONF_DEFAULT_TARGET: False},
            ),
            ConfigSubentryDataWithId(
                subentry_id=GROUP_SUBENTRY_ID,
                subentry_type=SUBENTRY_GROUP,
                title="Garden",
                unique_id=f"group_{GARDEN_CID}",
                data={CONF_CONVERSATION_ID: GARDEN_CID, CONF_DEFAULT_TARGET: True},
            ),
        ],
    )


@pytest.fixture
async def loaded_app(
    hass: HomeAssistant, app_entry: MockConfigEntry
) -> MockConfigEntry:
    """Return the Home app, set up."""
    return await setup_entry(hass, app_entry)
