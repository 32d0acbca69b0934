"""Benchmark 1: what a notify call through Home Assistant costs over a bare POST.

Both sides send the same JSON body (same msgtype, field order and size; only the
text and msgUuid differ) to the same emulator robot, signed, over 127.0.0.1. The
emulator runs in a child process without a rate limit and the outbox's pacing is
turned off (a benchmark-only setting), so that only the software path is measured.

The app path (``bench.app_path``): the same Home Assistant has the bench app with
the bench person, and its paths take turns with the robot's, message by message;
afterwards the token runs of ``bench.app_tokens`` use it too.

A second floor: ``bench.noop``, an action registered in the same Home Assistant
that does nothing and returns an empty response, called exactly as
``dingtalk.send_message`` is (blocking, with response data). What our actions take
above it is the integration's own cost; what it takes is Home Assistant's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import json
import time
from typing import TYPE_CHECKING, Any, Final
from uuid import uuid4

from homeassistant.core import SupportsResponse

from .app_path import APP_PATHS, AppPaths, AppPoster, AppResult
from .app_robots import LATENCY_APP
from .app_tokens import run_app_tokens
from .harness import OutboxTuning, RawPoster, home_assistant
from .remote import RemoteEmulator, remote_emulator
from .stats import Summary

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse

    from .config import Sizes
    from .harness import BenchHass

BARE: Final = "bare aiohttp POST"
NOOP: Final = "bench.noop (no-op action, with response)"
NOOP_DOMAIN: Final = "bench"
NOOP_SERVICE: Final = "noop"
LEGACY: Final = "notify.dingtalk_bench_1 (legacy action)"
ENTITY: Final = "notify.send_message (entity)"
SERVICE: Final = "dingtalk.send_message (with response)"
LATENCY_PATHS: Final = (BARE, NOOP, LEGACY, ENTITY, SERVICE)
FLOORS: Final = (BARE, NOOP)

BARE_SERIAL: Final = "bare aiohttp POST, one at a time"
BARE_CONCURRENT: Final = "bare aiohttp POST, all at once"
HA_SERIAL: Final = "notify.dingtalk_bench_1, one at a time"
HA_CONCURRENT: Final = "notify.dingtalk_bench_1, all at once"
THROUGHPUT_VARIANTS: Final = (BARE_SERIAL, HA_SERIAL, BARE_CONCURRENT, HA_CONCURRENT)

DELIVERY_TIMEOUT: Final = 120.0


@dataclass(frozen=True, slots=True)
class OverheadResult:
    """Per-message latency (ms) by path and throughput (messages/s) by variant."""

    latency_ms: dict[str, Summary]
    throughput: dict[str, Summary]
    latency_messages: int
    throughput_messages: int
    throughput_runs: int
    body_bytes: int


class _Paths:
    """Send one message by each path; every send waits for DingTalk's answer."""

    def __init__(self, bench: BenchHass, poster: RawPoster, template: Any) -> None:  # noqa: ANN401 - JSON
        """Send through ``bench`` or ``poster``; bare bodies copy ``template``."""
        self._bench = bench
        self._poster = poster
        self._template = template
        self.entity_id = bench.entity_id(0)

    def body(self, text: str) -> bytes:
        """Return the integration's JSON for ``text`` with a fresh msgUuid."""
        payload = json.loads(json.dumps(self._template))
        payload["text"]["content"] = text
        payload["msgUuid"] = uuid4().hex
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    async def bare(self, text: str) -> None:
        """POST the body with aiohttp; check the answer like a careful script."""
        status, raw = await self._poster.post(0, self.body(text))
        if status != 200 or json.loads(raw).get("errcode") != 0:  # noqa: PLR2004 - HTTP OK
            raise RuntimeError(f"bare POST failed: HTTP {status} {raw[:80]!r}")

    async def noop(self, text: str) -> None:
        """Call bench.noop the way dingtalk.send_message is called."""
        response = await self._bench.hass.services.async_call(
            NOOP_DOMAIN,
            NOOP_SERVICE,
            {"message": text},
            blocking=True,
            return_response=True,
        )
        if response != {}:
            raise RuntimeError(f"bench.noop answered {response}")

    async def legacy(self, text: str) -> None:
        """Call notify.dingtalk_<robot>."""
        await self._bench.notify(0, text)

    async def entity(self, text: str) -> None:
        """Call notify.send_message on the robot's entity."""
        await self._bench.hass.services.async_call(
            "notify",
            "send_message",
            {"entity_id": self.entity_id, "message": text},
            blocking=True,
        )

    async def service(self, text: str) -> None:
        """Call dingtalk.send_message and check that it reports "sent"."""
        answer = await self._bench.send_message(0, text)
        if answer.get("status") != "sent":
            raise RuntimeError(f"dingtalk.send_message answered {answer}")

    def by_name(self) -> dict[str, Callable[[str], Awaitable[None]]]:
        """Return the send function of each latency path."""
        return {
            BARE: self.bare,
            NOOP: self.noop,
            LEGACY: self.legacy,
            ENTITY: self.entity,
            SERVICE: self.service,
        }


def register_noop(hass: HomeAssistant) -> None:
    """Register bench.noop: an action that does nothing and returns {}."""

    async def noop(_call: ServiceCall) -> ServiceResponse:
        """Do nothing."""
        return {}

    hass.services.async_register(
        NOOP_DOMAIN, NOOP_SERVICE, noop, supports_response=SupportsResponse.OPTIONAL
    )


async def _latencies(
    senders: dict[str, Callable[[str], Awaitable[None]]], sizes: Sizes
) -> dict[str, list[float]]:
    """Time every path, interleaved message by message (fair on a busy machine)."""
    for round_ in range(sizes.warmup):
        for name, send in senders.items():
            await send(f"warm-up {round_} {name}")
    samples: dict[str, list[float]] = {name: [] for name in senders}
    for round_ in range(sizes.latency_messages):
        for name, send in senders.items():
            started = time.perf_counter()
            await send(f"bench message {round_}")
            samples[name].append(time.perf_counter() - started)
    return samples


async def _throughput(
    paths: _Paths, emulator: RemoteEmulator, variant: str, count: int
) -> float:
    """Send ``count`` messages one way; return messages per second until delivered."""
    send = paths.bare if variant.startswith("bare") else paths.legacy
    target = await emulator.delivered() + count
    started = time.perf_counter()
    if variant.endswith("all at once"):
        await asyncio.gather(*(send(f"throughput {i}") for i in range(count)))
    else:
        for i in range(count):
            await send(f"throughput {i}")
    await emulator.wait_delivered(target, DELIVERY_TIMEOUT)
    return count / (time.perf_counter() - started)


async def run_overhead(
    sizes: Sizes, work_dir: Path
) -> tuple[OverheadResult, AppResult]:
    """Measure latency and throughput of each path, and the app's, and its tokens."""
    async with (
        remote_emulator(1) as emulator,
        home_assistant(work_dir, OutboxTuning(pace=False)) as bench,
    ):
        await bench.add_robot(emulator, 0)
        app_targets = await bench.add_app(emulator, LATENCY_APP)
        register_noop(bench.hass)
        await bench.notify(0, "template")
        template = json.loads(await emulator.last_body())
        poster = RawPoster(emulator)
        app_poster = AppPoster(emulator, LATENCY_APP)
        try:
            paths = _Paths(bench, poster, template)
            app_paths = AppPaths(bench, app_poster, app_targets)
            await app_paths.start(emulator, LATENCY_APP)
            samples = await _latencies(
                {**paths.by_name(), **app_paths.by_name()}, sizes
            )
            rates: dict[str, list[float]] = {name: [] for name in THROUGHPUT_VARIANTS}
            for _ in range(sizes.throughput_runs):
                for variant in THROUGHPUT_VARIANTS:
                    rates[variant].append(
                        await _throughput(
                            paths, emulator, variant, sizes.throughput_messages
                        )
                    )
            body_bytes = len(paths.body("bench message 0"))
            app_body_bytes = len(app_paths.body("bench message 0"))
            tokens = await run_app_tokens(bench, emulator, sizes.app_token_messages)
        finally:
            await poster.close()
            await app_poster.close()
    latency = {
        name: Summary.of(values).scaled(1000) for name, values in samples.items()
    }
    app = AppResult(
        latency_ms={name: latency.pop(name) for name in APP_PATHS},
        latency_messages=sizes.latency_messages,
        body_bytes=app_body_bytes,
        tokens=tokens,
    )
    overhead = OverheadResult(
        latency_ms=latency,
        throughput={name: Summary.of(values) for name, values in rates.items()},
        latency_messages=sizes.latency_messages,
        throughput_messages=sizes.throughput_messages,
        throughput_runs=sizes.throughput_runs,
        body_bytes=body_bytes,
    )
    return overhead, app
