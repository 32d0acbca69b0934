"""The config flow's requests count toward the robot's first minute in its outbox."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING

from homeassistant.components.notify.const import (
    ATTR_MESSAGE,
    DOMAIN as NOTIFY_DOMAIN,
    SERVICE_SEND_MESSAGE,
)
from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_RECONFIGURE
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.dingtalk.const import (
    CONF_KEYWORDS,
    CONF_SECRET,
    CONF_SEND_TEST_MESSAGE,
)
from custom_components.dingtalk.flow_sends import (
    FLOW_SENDS,
    async_pop_flow_sends,
    async_record_flow_send,
)
from custom_components.dingtalk.outbox import DATA_SETTINGS, OutboxSettings
from dingtalk_emulator import RobotConfig

from .conftest import KEYWORD, SECRET, TOKEN, fingerprint
from .test_config_flow import start_flow, start_user_flow, user_input
from .test_outbox import throttle_answers
from .test_outbox_units import wait_until

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from .conftest import RobotEnv, SkewClock

ENTITY_ID = "notify.ops"
NEW_SECRET = "SEC" + "2" * 64


class SkewSleep:
    """Sleep until the test releases it, then move DingTalk's (shared) clock on."""

    def __init__(self, clock: SkewClock) -> None:
        """Share the emulator's clock with the outbox."""
        self.clock = clock
        self.delays: list[float] = []
        self.release = asyncio.Event()

    async def __call__(self, delay: float) -> None:
        """Block until released, then let `delay` seconds pass for everyone."""
        self.delays.append(delay)
        await self.release.wait()
        self.clock.offset += delay


async def notify(hass: HomeAssistant, message: str) -> None:
    """Send through the robot's notify entity."""
    await hass.services.async_call(
        NOTIFY_DOMAIN,
        SERVICE_SEND_MESSAGE,
        {ATTR_ENTITY_ID: ENTITY_ID, ATTR_MESSAGE: message},
        blocking=True,
    )


async def test_test_message_counts_in_the_first_minute(
    hass: HomeAssistant, robot_env: RobotEnv, fast_outbox: OutboxSettings
) -> None:
    """A robot added with a test message, then 20 at once: 19 go, the 20th waits.

    The outbox and DingTalk share one timeline (real time plus the offset the
    outbox's sleeps add), so the 20th is held exactly until the test message
    leaves the window and DingTalk never throttles.
    """
    sleep = SkewSleep(robot_env.clock)
    hass.data[DATA_SETTINGS] = replace(
        fast_outbox,
        combine=False,
        clock=robot_env.clock.now,
        wall_clock=robot_env.clock.now,
        sleep=sleep,
    )
    emulator = robot_env.emulator
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, user_input(robot_env.server)
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    [test_message] = emulator.delivered(TOKEN)
    assert hass.data[FLOW_SENDS] == {}  # the new robot's outbox took it

    for n in range(20):
        await notify(hass, f"{KEYWORD} #{n}")

    assert len(emulator.delivered(TOKEN)) == 20  # the test message and 19
    assert entry.runtime_data.outbox.stats()["queued"] == 1
    # Until the test message leaves DingTalk's minute (plus the 1 s margin), less
    # the time the 20 sends took: seconds on a loaded machine.
    [delay] = sleep.delays
    assert 50.0 < delay <= 62.0
    assert throttle_answers(emulator) == 0

    sleep.release.set()
    await wait_until(lambda: entry.runtime_data.outbox.stats()["queued"] == 0)

    delivered = emulator.delivered(TOKEN)
    assert [m.payload["text"]["content"] for m in delivered[1:]] == [
        f"{KEYWORD} #{n}" for n in range(20)
    ]
    assert delivered[-1].at - test_message.at >= 60.0
    assert delivered[-2].at - test_message.at < 60.0
    assert throttle_answers(emulator) == 0
    assert all(request.errcode == 0 for request in emulator.requests)


@pytest.mark.parametrize("source", [SOURCE_REAUTH, SOURCE_RECONFIGURE])
async def test_reauth_probes_are_recorded(
    hass: HomeAssistant,
    robot_env: RobotEnv,
    loaded_entry: MockConfigEntry,
    source: str,
) -> None:
    """Every probe, refused ones too, counts in the outbox of the reloaded robot."""
    robot_env.emulator.remove_robot(TOKEN)
    robot_env.emulator.add_robot(
        RobotConfig(access_token=TOKEN, secret=NEW_SECRET, keywords=(KEYWORD,))
    )
    robot_id = fingerprint(TOKEN)
    result = await start_flow(hass, loaded_entry, source)
    changes: dict[str, object] = {CONF_KEYWORDS: [KEYWORD]}
    if source == SOURCE_REAUTH:
        changes = {}
    changes[CONF_SEND_TEST_MESSAGE] = False  # the probe, as before
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SECRET: SECRET, **changes}
    )
    assert result["errors"] == {CONF_SECRET: "invalid_signature"}
    assert len(hass.data[FLOW_SENDS][robot_id]) == 1

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SECRET: NEW_SECRET, **changes}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == f"{source}_successful"
    assert robot_id not in hass.data[FLOW_SENDS]
    assert len(loaded_entry.runtime_data.outbox._window.sends()) == 2
    assert [request.errcode for request in robot_env.emulator.requests] == [
        310000,
        400402,
    ]


async def test_flow_sends_are_pruned(hass: HomeAssistant) -> None:
    """Only sends within the window are kept, for every robot; pop takes them."""
    assert async_pop_flow_sends(hass, "a") == []
    async_record_flow_send(hass, "a", 1000.0)
    async_record_flow_send(hass, "b", 1030.0)
    async_record_flow_send(hass, "a", 1050.0)
    assert hass.data[FLOW_SENDS] == {"a": [1000.0, 1050.0], "b": [1030.0]}
    async_record_flow_send(hass, "b", 1061.0)  # 1000 leaves the 61 s window
    assert hass.data[FLOW_SENDS] == {"a": [1050.0], "b": [1030.0, 1061.0]}
    async_record_flow_send(hass, "c", 1100.0, window=60.0)
    assert hass.data[FLOW_SENDS] == {"a": [1050.0], "b": [1061.0], "c": [1100.0]}

    assert async_pop_flow_sends(hass, None) == []
    assert async_pop_flow_sends(hass, "b", now=1122.0) == []
    assert async_pop_flow_sends(hass, "a", now=1110.0) == [1050.0]
    assert async_pop_flow_sends(hass, "a", now=1110.0) == []
    assert async_pop_flow_sends(hass, "c") == []  # now is the wall clock: long ago
    assert hass.data[FLOW_SENDS] == {}

    async_record_flow_send(hass, "a", 2000.0)
    async_record_flow_send(hass, "b", 2061.0)  # a robot whose sends all left
    assert hass.data[FLOW_SENDS] == {"b": [2061.0]}
