"""A bounded soak: 300 messages under Stream faults give exactly one event each.

Faults, against the emulator's gateway on 127.0.0.1 (timings of stream_helpers):
a disconnect frame every DISCONNECT_EVERY messages, a silent socket (the watchdog
replaces it), 5 refused opens (after a dropped socket), and ignored ACKs (so the
gateway pushes the same callback again: a redelivery to de-duplicate).
"""

from __future__ import annotations

import asyncio
from collections import Counter
import json
import time
from typing import TYPE_CHECKING, Any, Final

from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.dingtalk.const import EVENT_MESSAGE_RECEIVED
from dingtalk_emulator import StreamFault, StreamFaultKind

from .conftest import ALICE, APP_CLIENT_ID, BOB, GARDEN_CID
from .stream_helpers import (
    FAST_GATEWAY,
    fast_stream,  # noqa: F401 - an autouse fixture
    received_ids,
    receiver_of,
    setup_receiving,
    until,
    write,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from dingtalk_emulator import Emulator

MESSAGES: Final = 300
DISCONNECT_EVERY: Final = 25
SILENT_AT: Final = 100
REFUSED_AT: Final = 160
REFUSED_OPENS: Final = 5
IGNORED_ACKS_AT: Final = 220
IGNORED_ACKS: Final = 3
PAUSE: Final = 0.005
"""Seconds between two messages."""


def scheduled(number: int) -> list[str]:
    """Return the faults due before message ``number``."""
    due: list[str] = []
    if number and number % DISCONNECT_EVERY == 0:
        due.append("disconnect_frames")
    if number == SILENT_AT:
        due.append("silent_sockets")
    if number == REFUSED_AT:
        due.append("refused_opens")
    if number == IGNORED_ACKS_AT:
        due.append("ignored_acks")
    return due


class Faults:
    """Inject the soak's faults, each at a moment it can act."""

    def __init__(self, emulator: Emulator, watchdog: Callable[[], int]) -> None:
        """Inject into ``emulator``; ``watchdog`` counts the sockets replaced."""
        self._stream = emulator.stream
        self._watchdog = watchdog
        self.injected: Counter[str] = Counter()
        self._waiting: list[str] = []

    def _open(self) -> str | None:
        """Return an open connection of the app (not disconnecting), if any."""
        return next(
            (
                c.connection_id
                for c in self._stream.connections(APP_CLIENT_ID)
                if c.state == "open" and not c.silent
            ),
            None,
        )

    def inject(self, number: int) -> None:
        """Inject what is due; what cannot act yet waits for the next message."""
        self._waiting += scheduled(number)
        if self.injected["silent_sockets"] and not self._watchdog():
            return  # let the watchdog find the silent socket first
        connection = self._open()
        if connection is None:
            return
        name = self._waiting.pop(0) if self._waiting else None
        if name is None:
            return
        self.injected[name] += 1
        kind = {
            "disconnect_frames": StreamFaultKind.DISCONNECT,
            "silent_sockets": StreamFaultKind.SILENT,
        }.get(name)
        if kind is not None:
            self._stream.inject_fault(
                APP_CLIENT_ID, StreamFault(kind, connection=connection)
            )
        elif name == "refused_opens":
            self.injected[name] += REFUSED_OPENS - 1
            self._stream.inject_fault(
                APP_CLIENT_ID,
                StreamFault(StreamFaultKind.REFUSE_OPEN, count=REFUSED_OPENS),
            )
            self._stream.inject_fault(
                APP_CLIENT_ID,
                StreamFault(StreamFaultKind.CLOSE, connection=connection),
            )
            self.injected["dropped_sockets"] += 1
        else:
            self.injected[name] += IGNORED_ACKS - 1
            self._stream.inject_fault(
                APP_CLIENT_ID,
                StreamFault(StreamFaultKind.IGNORE_ACKS, count=IGNORED_ACKS),
            )

    @property
    def done(self) -> bool:
        """Return whether every fault was injected."""
        return not self._waiting


async def test_soak_exactly_one_event_per_message(
    hass: HomeAssistant,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    record_property: Callable[[str, object], None],
) -> None:
    """Every injected message fires exactly one event: none lost, none twice."""
    events = async_capture_events(hass, EVENT_MESSAGE_RECEIVED)
    await setup_receiving(hass, app_entry)
    stream = app_emulator.stream
    receiver = receiver_of(app_entry)

    def watchdog() -> int:
        """Return how many silent sockets the client replaced."""
        return int(receiver.diagnostics()["stats"]["reconnects_watchdog"])

    faults = Faults(app_emulator, watchdog)
    sent: list[str] = []
    started = time.monotonic()
    number = 0
    while number < MESSAGES or not faults.done:
        faults.inject(number)
        if number % 2:
            chat = write(app_emulator, ALICE.user_id, f"soak {number}")
        else:
            chat = write(
                app_emulator,
                BOB.user_id,
                f"soak {number}",
                group=GARDEN_CID,
                at_robot=True,
            )
        sent.append(chat.msg_id)
        number += 1
        await asyncio.sleep(PAUSE)
    injected = faults.injected
    await until(lambda: set(received_ids(events)) >= set(sent), within=20)
    delivered_at = time.monotonic()
    # Redeliveries still on their way would show up within a few ACK timeouts.
    await asyncio.sleep(3 * FAST_GATEWAY.ack_timeout)
    ids = received_ids(events)
    gateway = stream.stats(APP_CLIENT_ID)
    client = receiver.diagnostics()["stats"]
    figures: dict[str, Any] = {
        "messages_injected": len(sent),
        "events": len(ids),
        "lost": len(set(sent) - set(ids)),
        "duplicated": len(ids) - len(set(ids)),
        "faults": dict(injected),
        "gateway": {
            "frames_pushed": gateway.frames_pushed,
            "redeliveries": gateway.redeliveries,
            "acks_ignored": gateway.acks_ignored,
            "opens_refused": gateway.opens_refused,
            "disconnects_sent": gateway.disconnects_sent,
            "connections_opened": gateway.connections_opened,
            "undelivered": gateway.undelivered,
        },
        "client": {
            key: client[key]
            for key in (
                "connections_opened",
                "open_failures",
                "reconnects_disconnect",
                "reconnects_error",
                "reconnects_watchdog",
                "duplicates_dropped",
                "queue_drops",
            )
        },
        "seconds_to_last_event": round(delivered_at - started, 2),
        "wall_seconds": round(time.monotonic() - started, 2),
    }
    record_property("soak", json.dumps(figures))
    print("\nDingTalk Stream soak:", json.dumps(figures, indent=2))  # noqa: T201 - figures for the report
    assert figures["lost"] == 0
    assert figures["duplicated"] == 0
    assert sorted(ids) == sorted(sent)
    assert len(sent) >= MESSAGES
    assert gateway.disconnects_sent == injected["disconnect_frames"]
    assert injected["disconnect_frames"] >= MESSAGES // DISCONNECT_EVERY - 1
    assert gateway.opens_refused == injected["refused_opens"] == REFUSED_OPENS
    assert gateway.acks_ignored == injected["ignored_acks"] == IGNORED_ACKS
    assert gateway.redeliveries >= IGNORED_ACKS
    assert gateway.undelivered == 0
    assert client["reconnects_watchdog"] == injected["silent_sockets"] == 1
    assert client["duplicates_dropped"] >= 1  # the redeliveries were recognised
    assert figures["wall_seconds"] < 20
