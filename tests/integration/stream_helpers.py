"""Helpers of the receiving, reply and Assist tests: a fast Stream, messages, waits."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Final
from unittest.mock import patch

import pytest

from custom_components.dingtalk import receive
from custom_components.dingtalk.api import StreamTuning
from custom_components.dingtalk.const import (
    CONF_ALLOWED_USERS,
    CONF_RECEIVE,
    EVENT_MESSAGE_RECEIVED,
)
from custom_components.dingtalk.runtime import DingTalkAppRuntime
from dingtalk_emulator import AppSettings

from .conftest import ALICE, APP_CLIENT_ID

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from homeassistant.core import Event, HomeAssistant, State
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from custom_components.dingtalk.receive import DingTalkReceiver
    from dingtalk_emulator import ChatMessage, Emulator

FAST_TUNING: Final = StreamTuning(
    request_timeout=2.0,
    connect_timeout=2.0,
    ping_interval=0.25,
    pong_timeout=0.25,
    close_timeout=0.3,
    backoff_base=0.01,
    backoff_max=0.05,
    healthy_after=0.2,
)
"""Stream timings of the tests: a silent socket is replaced within half a second."""

FAST_GATEWAY: Final = AppSettings(
    ack_timeout=0.3,
    max_redeliveries=100,
    disconnect_grace=0.2,
    ping_interval=None,
    seed=7,
)
"""The emulator's gateway for the tests: unACKed pushes again after 0.3 s."""

ENTITY_MESSAGE: Final = "event.home_app_message"
ENTITY_STREAM: Final = "binary_sensor.home_app_stream_connection"


@pytest.fixture(autouse=True)
def fast_stream(app_emulator: Emulator) -> Iterator[None]:
    """Give the Stream client and the emulator's gateway short timings."""
    app_emulator.apps.settings = FAST_GATEWAY
    with patch.object(receive, "STREAM_TUNING", FAST_TUNING):
        yield


async def until(predicate: Callable[[], object], within: float = 5.0) -> None:
    """Wait until ``predicate()`` is true, or fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within} s")
        await asyncio.sleep(0.01)


async def setup_app(
    hass: HomeAssistant, entry: MockConfigEntry, **options: object
) -> MockConfigEntry:
    """Add the app with these options and set it up."""
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options=options)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def setup_receiving(
    hass: HomeAssistant, entry: MockConfigEntry, **options: object
) -> MockConfigEntry:
    """Set up the app receiving (Alice allowed unless said otherwise); connect it."""
    await setup_app(
        hass,
        entry,
        **({CONF_RECEIVE: True, CONF_ALLOWED_USERS: [ALICE.user_id]} | options),
    )
    await until(lambda: receiver_of(entry).connected)
    return entry


def receiver_of(entry: MockConfigEntry) -> DingTalkReceiver:
    """Return the receiver of a loaded app."""
    runtime = entry.runtime_data
    assert isinstance(runtime, DingTalkAppRuntime)
    assert runtime.receiver is not None
    return runtime.receiver


def write(
    emulator: Emulator,
    user_id: str,
    text: str,
    *,
    group: str | None = None,
    at_robot: bool = False,
) -> ChatMessage:
    """Write as a person to the Home app's robot (1:1, or in a group)."""
    return emulator.apps.chat(
        APP_CLIENT_ID, user_id, text, group=group, at_robot=at_robot
    )


def received_ids(events: list[Event[Any]]) -> list[str]:
    """Return the message ids of captured dingtalk_message_received events."""
    return [
        event.data["message_id"]
        for event in events
        if event.event_type == EVENT_MESSAGE_RECEIVED
    ]


def state_of(hass: HomeAssistant, entity_id: str) -> State:
    """Return an entity's state; fail when it has none."""
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state


def issue_timer(receiver: DingTalkReceiver) -> object:
    """Return the receiver's pending repair-issue timer (a call: not narrowed)."""
    return receiver._issue_timer
