"""Entries of earlier versions and of other DingTalk integrations are taken over."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.dingtalk.const import (
    CONF_KEYWORDS,
    CONF_SECRET,
    CONF_WEBHOOK,
    DOMAIN,
    DingTalkNotice,
)
from custom_components.dingtalk.migration import MINOR_VERSION

from .conftest import KEYWORD, SECRET, TOKEN, entry_data, fingerprint

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import issue_registry as ir

    from dingtalk_emulator import Emulator, EmulatorServer


async def add(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Add an entry and try to set it up (it may fail, as a user would see)."""
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def foreign(data: dict[str, Any], unique_id: str | None, **kw: Any) -> MockConfigEntry:  # noqa: ANN401 - MockConfigEntry's options
    """Return an entry as another DingTalk integration stored it (VERSION 1)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="钉钉机器人",
        data=data,
        unique_id=unique_id,
        version=1,
        minor_version=1,
        **kw,
    )


def issue(registry: ir.IssueRegistry, entry: MockConfigEntry) -> ir.IssueEntry | None:
    """Return the entry's foreign-entry repair issue, if any."""
    return registry.async_get_issue(
        DOMAIN, f"{DingTalkNotice.FOREIGN_ENTRY}_{entry.entry_id}"
    )


@pytest.mark.parametrize(
    "data",
    [
        {"webhook": "{url}", "secret": SECRET},
        {"token": TOKEN, "secret": SECRET},
        {"access_token": TOKEN, "sign_secret": SECRET, "keyword": f"{KEYWORD},x"},
    ],
    ids=["full_url", "token", "other_keys"],
)
async def test_foreign_entry_is_migrated(
    hass: HomeAssistant,
    robot_server: EmulatorServer,
    robot_emulator: Emulator,
    issue_registry: ir.IssueRegistry,
    data: dict[str, Any],
) -> None:
    """Its data takes our shape; the token leaves the unique id; it works."""
    url = robot_server.webhook_url(TOKEN)
    data = {key: value.replace("{url}", url) for key, value in data.items()}
    if "webhook" not in data:
        # A bare token means DingTalk's own host: point it at the emulator.
        data = {"webhook": url, **{k: v for k, v in data.items() if k != "token"}}
    entry = await add(
        hass,
        foreign(data, url, options={"default_format": "bogus", "combine": False}),
    )
    assert entry.state is ConfigEntryState.LOADED
    assert (entry.version, entry.minor_version) == (1, MINOR_VERSION)
    assert entry.unique_id == fingerprint(TOKEN)
    assert TOKEN not in str(entry.unique_id)
    assert entry.data[CONF_WEBHOOK] == url
    assert entry.data[CONF_SECRET] == SECRET
    assert entry.options == {"combine": False}  # the unknown value was dropped
    assert issue(issue_registry, entry) is None
    if "keyword" in data:
        assert entry.data[CONF_KEYWORDS] == [KEYWORD, "x"]
    [entity] = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    await hass.services.async_call(
        "notify",
        "send_message",
        {"entity_id": entity.entity_id, "message": KEYWORD},
        blocking=True,
    )
    assert len(robot_emulator.delivered(TOKEN)) == 1


async def test_our_own_entries_stay_as_they_are(
    hass: HomeAssistant, robot_server: EmulatorServer
) -> None:
    """An entry of the earlier version keeps its data and unique id."""
    data = entry_data(robot_server)
    entry = await add(
        hass,
        MockConfigEntry(
            domain=DOMAIN,
            title="Ops",
            data=data,
            unique_id=fingerprint(TOKEN),
            minor_version=1,
        ),
    )
    assert entry.state is ConfigEntryState.LOADED
    assert entry.minor_version == MINOR_VERSION
    assert dict(entry.data) == data
    assert entry.unique_id == fingerprint(TOKEN)


async def test_unreadable_entry_raises_a_repair_issue(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry
) -> None:
    """No webhook we can read: no crash, no token in the id, an issue says why."""
    raw = "https://oapi.dingtalk.com/robot/send?access_token=" + TOKEN
    entry = await add(hass, foreign({"robot": "x"}, raw))
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason is not None
    assert entry.unique_id is not None
    assert TOKEN not in entry.unique_id
    found = issue(issue_registry, entry)
    assert found is not None
    assert found.translation_key == DingTalkNotice.FOREIGN_ENTRY
    assert found.translation_placeholders == {"robot": "钉钉机器人"}


async def test_the_same_robot_twice(
    hass: HomeAssistant,
    robot_server: EmulatorServer,
    config_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A foreign entry for a robot we already have: kept apart, the user told."""
    config_entry.add_to_hass(hass)
    url = robot_server.webhook_url(TOKEN)
    entry = await add(hass, foreign({"webhook": url, "secret": SECRET}, url))
    assert entry.unique_id is None
    assert issue(issue_registry, entry) is not None
    assert config_entry.unique_id == fingerprint(TOKEN)


async def test_plain_http_to_the_internet_is_refused_at_setup(
    hass: HomeAssistant,
) -> None:
    """A stored http:// webhook to a public host does not load and says why."""
    url = f"http://oapi.dingtalk.com/robot/send?access_token={TOKEN}"
    entry = await add(hass, foreign({"webhook": url, "secret": SECRET}, url))
    assert entry.unique_id == fingerprint(TOKEN)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason is not None
    assert "http" in entry.reason


async def test_newer_entries_are_left_alone(hass: HomeAssistant) -> None:
    """An entry written by a newer release is not touched (it fails to migrate)."""
    entry = MockConfigEntry(domain=DOMAIN, title="x", data={}, version=2)
    await add(hass, entry)
    assert entry.state is ConfigEntryState.MIGRATION_ERROR
    assert entry.version == 2
