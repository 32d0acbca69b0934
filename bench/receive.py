"""Benchmark 7: receiving, from a message written in DingTalk to the event in HA.

The emulator runs in a child process (``bench.emulator_child``) with two apps:
Home Assistant receives one (receiving on, its Stream client with its default
timings), a bare aiohttp WebSocket client (``bench.stream_bare``) the other.

Latency: the benchmark writes a message as the bench person through the emulator's
write path (``POST /api/apps/{id}/chat``, which pushes it over Stream at once) and
takes the time until ``dingtalk_message_received`` fires (a bus listener), or until
the bare client has the frame; the two take turns, message by message.

Reconnect: the emulator sends a SYSTEM disconnect frame to the app's connection
(``POST /api/apps/{id}/stream/faults``); the benchmark then writes probe messages
one after another until the first one arrives. The figure runs from just before
the fault request to that arrival. The gateway pushes no callback to a connection
it asked to go, so a probe arrives only over the new connection; probes written
before it was up are pushed again after ``ACK_TIMEOUT`` and must arrive too. Each
disconnect meets a fresh connection (Home Assistant's entry is reloaded first):
the client hands over at once on a connection's first disconnect frame and backs
off as after an error when another comes within a minute (no reconnect storm).

Every text written is counted where it arrived: each must arrive exactly once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
import time
from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import Event, callback

from custom_components.dingtalk.const import EVENT_MESSAGE_RECEIVED

from .app_robots import ACK_TIMEOUT, PERSON, RECEIVE_APP, STREAM_APP
from .harness import OutboxTuning, home_assistant
from .remote import RemoteEmulator, remote_emulator
from .stats import Summary, percentile
from .stream_bare import BareStream

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from homeassistant.config_entries import ConfigEntry

    from .config import Sizes
    from .harness import BenchHass

BARE: Final = "bare aiohttp WebSocket client: the frame arrived"
HA: Final = "Home Assistant: `dingtalk_message_received` fired"
PATHS: Final = (BARE, HA)
BARE_CLIENT: Final = "bare aiohttp WebSocket client"
HA_CLIENT: Final = "Home Assistant (the integration's Stream client)"
CLIENTS: Final = (BARE_CLIENT, HA_CLIENT)

ARRIVAL_TIMEOUT: Final = 10.0
RECONNECT_TIMEOUT: Final = 30.0
SETTLE_TIMEOUT: Final = 30.0
POLL_SECONDS: Final = 0.005
P95: Final = 0.95


@dataclass(frozen=True, slots=True)
class Tally:
    """How the texts written to one app arrived."""

    written: int
    arrived: int
    """Distinct texts that arrived."""
    duplicates: int
    """Arrivals beyond the first of a text."""
    missing: int


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    """Latency (ms) by path, time to receive again (ms) by client, and tallies."""

    latency_ms: dict[str, Summary]
    p95_ms: dict[str, float]
    reconnect_ms: dict[str, Summary]
    bare_connect_ms: Summary
    """The bare client opening a connection: connections/open plus the handshake."""
    messages: int
    disconnects: int
    ack_timeout: float
    tallies: dict[str, Tally]
    """By client."""
    redeliveries: dict[str, int]
    """By client: callbacks the gateway pushed again (the probes without a link)."""


class Arrivals:
    """The texts written to one app and when (and how often) each arrived."""

    def __init__(self) -> None:
        """Start with nothing written."""
        self.counts: Counter[str] = Counter()
        self.written: list[str] = []
        self._waiting: dict[str, asyncio.Future[float]] = {}

    def expect(self, text: str) -> asyncio.Future[float]:
        """Note that ``text`` is about to be written; return when it arrives."""
        future = asyncio.get_running_loop().create_future()
        self._waiting[text] = future
        self.written.append(text)
        return future

    def arrived(self, text: str, at: float) -> None:
        """Count an arrival of ``text`` at ``at`` (``time.perf_counter()``)."""
        self.counts[text] += 1
        future = self._waiting.pop(text, None)
        if future is not None and not future.done():
            future.set_result(at)

    def tally(self) -> Tally:
        """Return how the written texts arrived."""
        written = set(self.written)
        arrived = written.intersection(self.counts)
        return Tally(
            written=len(self.written),
            arrived=len(arrived),
            duplicates=sum(self.counts[text] - 1 for text in arrived),
            missing=len(written) - len(arrived),
        )


class _Receiving:
    """Both receivers in one run: write to either, wait for either."""

    def __init__(
        self, emulator: RemoteEmulator, bench: BenchHass, entry: ConfigEntry
    ) -> None:
        """Write through ``emulator``; Home Assistant receives ``entry``'s app."""
        self.emulator = emulator
        self.bench = bench
        self.entry = entry
        self.arrivals = {
            RECEIVE_APP.client_id: Arrivals(),
            STREAM_APP.client_id: Arrivals(),
        }

    async def write(self, client_id: str, text: str) -> asyncio.Future[float]:
        """Write ``text`` as the bench person; return when it arrives."""
        future = self.arrivals[client_id].expect(text)
        await self.emulator.write(client_id, PERSON.user_id, text)
        return future

    async def timed(self, client_id: str, text: str) -> float:
        """Return the seconds from writing ``text`` until it arrived."""
        started = time.perf_counter()
        future = await self.write(client_id, text)
        return await asyncio.wait_for(future, ARRIVAL_TIMEOUT) - started

    async def settled(self, client_id: str) -> None:
        """Wait until every text arrived and the gateway has every ACK."""
        arrivals = self.arrivals[client_id]
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            stats = await self.emulator.stream_stats(client_id)
            done = int(stats["acks"]) + int(stats["undelivered"])
            if done >= len(arrivals.written) and not arrivals.tally().missing:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{client_id}: {arrivals.tally()} after {stats}")
            await asyncio.sleep(POLL_SECONDS)

    async def one_connection(self, client_id: str, ready: Callable[[], bool]) -> None:
        """Wait until the app has exactly one connection and ``ready()`` is true."""
        deadline = time.monotonic() + RECONNECT_TIMEOUT
        while not (
            ready()
            and (await self.emulator.stream_stats(client_id))["connections_open"] == 1
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{client_id} did not connect")
            await asyncio.sleep(POLL_SECONDS)

    def ha_connected(self) -> bool:
        """Whether Home Assistant's receiver is connected."""
        runtime: Any = getattr(self.entry, "runtime_data", None)
        receiver = getattr(runtime, "receiver", None)
        return bool(getattr(receiver, "connected", False))

    async def reconnect(self, client_id: str, label: str) -> float:
        """Disconnect the app; return the seconds until a probe arrived again."""
        started = time.perf_counter()
        await self.emulator.disconnect(client_id)
        probes: list[asyncio.Future[float]] = []
        while not any(probe.done() for probe in probes):
            if time.perf_counter() - started > RECONNECT_TIMEOUT:
                raise TimeoutError(f"{client_id} did not receive again")
            probes.append(await self.write(client_id, f"{label} probe {len(probes)}"))
        first = min(probe.result() for probe in probes if probe.done())
        await self.settled(client_id)
        return first - started


async def _latencies(receiving: _Receiving, sizes: Sizes) -> dict[str, list[float]]:
    """Time both paths, taking turns message by message."""
    paths: dict[str, Callable[[str], Awaitable[float]]] = {
        BARE: lambda text: receiving.timed(STREAM_APP.client_id, text),
        HA: lambda text: receiving.timed(RECEIVE_APP.client_id, text),
    }
    for round_ in range(sizes.warmup):
        for send in paths.values():
            await send(f"warm-up {round_}")
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for round_ in range(sizes.receive_messages):
        for name, send in paths.items():
            samples[name].append(await send(f"message {round_}"))
    for client_id in (STREAM_APP.client_id, RECEIVE_APP.client_id):
        await receiving.settled(client_id)
    return samples


async def _reconnects(receiving: _Receiving, sizes: Sizes) -> dict[str, list[float]]:
    """Disconnect each client ``sizes.disconnects`` times, taking turns."""
    hass = receiving.bench.hass
    samples: dict[str, list[float]] = {name: [] for name in CLIENTS}
    for index in range(sizes.disconnects):
        await receiving.one_connection(STREAM_APP.client_id, lambda: True)
        samples[BARE_CLIENT].append(
            await receiving.reconnect(STREAM_APP.client_id, f"disconnect {index}")
        )
        if not await hass.config_entries.async_reload(receiving.entry.entry_id):
            raise RuntimeError("the receiving app did not reload")
        await receiving.one_connection(RECEIVE_APP.client_id, receiving.ha_connected)
        samples[HA_CLIENT].append(
            await receiving.reconnect(RECEIVE_APP.client_id, f"disconnect {index}")
        )
    return samples


async def run_receive(sizes: Sizes, work_dir: Path) -> ReceiveResult:
    """Measure receiving latency and the time to receive again after a disconnect."""
    async with (
        remote_emulator(0) as emulator,
        home_assistant(work_dir, OutboxTuning(pace=False)) as bench,
    ):
        targets = await bench.add_app(emulator, RECEIVE_APP, receive=True)
        receiving = _Receiving(emulator, bench, targets.entry)
        ha = receiving.arrivals[RECEIVE_APP.client_id]
        entry_id = targets.entry.entry_id

        @callback
        def on_event(event: Event[dict[str, Any]]) -> None:
            """Count a message event of the receiving app."""
            if event.data.get("config_entry_id") == entry_id:
                ha.arrived(str(event.data.get("text")), time.perf_counter())

        unsubscribe = bench.hass.bus.async_listen(EVENT_MESSAGE_RECEIVED, on_event)
        bare = BareStream(
            emulator.base_url,
            STREAM_APP,
            receiving.arrivals[STREAM_APP.client_id].arrived,
        )
        try:
            await bare.start()
            await receiving.one_connection(
                RECEIVE_APP.client_id, receiving.ha_connected
            )
            latency = await _latencies(receiving, sizes)
            reconnect = await _reconnects(receiving, sizes)
            redeliveries = {
                client: int(
                    (await emulator.stream_stats(app.client_id))["redeliveries"]
                )
                for client, app in ((BARE_CLIENT, STREAM_APP), (HA_CLIENT, RECEIVE_APP))
            }
        finally:
            unsubscribe()
            await bare.close()
    return ReceiveResult(
        latency_ms={
            name: Summary.of(values).scaled(1000) for name, values in latency.items()
        },
        p95_ms={
            name: percentile(values, P95) * 1000 for name, values in latency.items()
        },
        reconnect_ms={
            name: Summary.of(values).scaled(1000) for name, values in reconnect.items()
        },
        bare_connect_ms=Summary.of(bare.connect_seconds).scaled(1000),
        messages=sizes.receive_messages,
        disconnects=sizes.disconnects,
        ack_timeout=ACK_TIMEOUT,
        tallies={
            BARE_CLIENT: receiving.arrivals[STREAM_APP.client_id].tally(),
            HA_CLIENT: ha.tally(),
        },
        redeliveries=redeliveries,
    )
