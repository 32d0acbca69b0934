"""Benchmark 3: many robots with full queues, and config-entry setup time.

- Memory: ``robots`` robots in one in-process Home Assistant (virtual time, pacing
  on). Each robot first sends 20 messages, which fills DingTalk's rate window;
  then ``messages`` more per robot are accepted and wait in the outboxes. Python's
  tracemalloc measures what the queued messages hold (after a garbage collection)
  and the peak while they were accepted; the persisted queue is measured on disk.
  Then virtual time runs until every queue has drained.
- CPU: the same robots with pacing off and the emulator (without a rate limit) in
  a child process, so that ``time.process_time()`` counts only Home Assistant,
  the integration and its HTTP client; all messages are submitted at once. The
  baseline is the same number of bare aiohttp POSTs from this process, one robot's
  after another and the robots side by side, which is how the outboxes send.
- Setup: the time ``async_setup`` of each config entry takes, in a fresh Home
  Assistant each run; the first robot also sets up the integration and the
  legacy notify platform.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import gc
import json
from pathlib import Path
import sqlite3
import time
import tracemalloc
from typing import TYPE_CHECKING, Final

from .clock import VirtualTime
from .harness import BenchHass, OutboxTuning, RawPoster, home_assistant
from .remote import remote_emulator
from .robots import LOOPBACK, make_emulator
from .stats import Summary

if TYPE_CHECKING:
    from collections.abc import Callable

    from .config import Sizes

RATE_LIMIT: Final = 20
OWN_CODE: Final = str(Path("custom_components") / "dingtalk")
SAVE_WAIT: Final = 5.0
VIRTUAL_LIMIT: Final = 3600.0
REAL_TIMEOUT: Final = 300.0
DELIVERY_TIMEOUT: Final = 300.0
MESSAGE: Final = "Robot {robot}, message {index}: the washing machine has finished."


@dataclass(frozen=True, slots=True)
class MemoryRun:
    """One memory run's figures."""

    queued: int
    held_bytes: int  # traced memory the queued messages hold
    own_code_bytes: int  # of which allocated in custom_components/dingtalk
    peak_bytes: int  # traced peak while accepting them, above the baseline
    stored_bytes: int  # size of the persisted queues
    accept_cpu: float  # CPU seconds to accept them (with tracemalloc on)
    drain_virtual: float  # virtual seconds until every queue drained
    delivered: int


@dataclass(frozen=True, slots=True)
class ScaleResult:
    """Memory, CPU, setup and import figures."""

    robots: int
    messages: int
    runs: int
    queued: int
    held_per_message: Summary  # bytes
    own_code_per_message: Summary  # bytes
    peak_kib: Summary
    stored_per_message: Summary  # bytes
    drain_virtual: Summary  # s
    delivered: int
    cpu_ha_us: Summary  # CPU µs per message, Home Assistant path
    cpu_bare_us: Summary  # CPU µs per message, bare POST
    rate_ha: Summary  # messages/s
    rate_bare: Summary  # messages/s
    setup_first_ms: Summary
    setup_more_ms: Summary
    setup_runs: int


async def _notify_each(
    bench: BenchHass, robots: int, count: int, label: str, *, start: int = 0
) -> None:
    """Send ``count`` messages to every robot, all at once, through notify."""
    await asyncio.gather(
        *(
            bench.notify(robot, MESSAGE.format(robot=robot, index=f"{label}{index}"))
            for robot in range(robots)
            for index in range(start, start + count)
        )
    )


def _stored_bytes(database: Path, expected: int) -> int:
    """Return the size of the durable queue (file and WAL) once it holds them all."""
    deadline = time.monotonic() + SAVE_WAIT
    while True:
        conn = sqlite3.connect(database)
        try:
            (queued,) = conn.execute("SELECT COUNT(*) FROM items").fetchone()
        finally:
            conn.close()
        if queued >= expected or time.monotonic() > deadline:
            return sum(
                path.stat().st_size
                for path in (database, database.with_name(database.name + "-wal"))
                if path.exists()
            )
        time.sleep(0.05)


async def _memory_run(sizes: Sizes, work_dir: Path) -> MemoryRun:
    """Fill every robot's queue and measure what it holds; then drain it."""
    robots, messages = sizes.scale_robots, sizes.scale_messages
    virtual = VirtualTime()
    emulator = make_emulator(robots, clock=virtual)
    async with (
        emulator.serve(LOOPBACK, 0) as server,
        home_assistant(work_dir, OutboxTuning(virtual=virtual)) as bench,
    ):
        for robot in range(robots):
            await bench.add_robot(server, robot)
        await _notify_each(bench, robots, RATE_LIMIT, "fill ")
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            baseline, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            cpu = time.process_time()
            await _notify_each(bench, robots, messages, "")
            accept_cpu = time.process_time() - cpu
            _, peak = tracemalloc.get_traced_memory()
            gc.collect()
            current, _ = tracemalloc.get_traced_memory()
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        own = sum(
            stat.size_diff
            for stat in after.compare_to(before, "filename")
            if OWN_CODE in stat.traceback[0].filename
        )
        del before, after
        queued = bench.queued()
        stored = await asyncio.to_thread(
            _stored_bytes, Path(bench.hass.config.config_dir) / "outbox.db", queued
        )
        drain_start = virtual.elapsed()
        await virtual.run_until(
            lambda: bench.queued() == 0,
            bench.idle,
            limit=VIRTUAL_LIMIT,
            real_timeout=REAL_TIMEOUT,
        )
        return MemoryRun(
            queued=queued,
            held_bytes=current - baseline,
            own_code_bytes=own,
            peak_bytes=peak - baseline,
            stored_bytes=stored,
            accept_cpu=accept_cpu,
            drain_virtual=virtual.elapsed() - drain_start,
            delivered=len(emulator.delivered()),
        )


async def _cpu_run(sizes: Sizes, work_dir: Path) -> tuple[float, float, float, float]:
    """Return CPU µs per message and messages/s: through Home Assistant, then bare."""
    robots, messages = sizes.scale_robots, sizes.scale_messages
    total = robots * messages
    async with (
        remote_emulator(robots) as emulator,
        home_assistant(work_dir, OutboxTuning(pace=False)) as bench,
    ):
        for robot in range(robots):
            await bench.add_robot(emulator, robot)
        await _notify_each(bench, robots, sizes.warmup, "warm-up ")
        target = await emulator.delivered() + total
        cpu, wall = time.process_time(), time.perf_counter()
        await _notify_each(bench, robots, messages, "")
        await emulator.wait_delivered(target, DELIVERY_TIMEOUT)
        ha_cpu, ha_wall = time.process_time() - cpu, time.perf_counter() - wall

        template = json.loads(await emulator.last_body())
        poster = RawPoster(emulator)
        try:

            async def post(robot: int, index: int) -> None:
                """POST one message body like the integration's."""
                template["text"]["content"] = MESSAGE.format(robot=robot, index=index)
                template["msgUuid"] = f"bare-{robot}-{index}-{time.monotonic_ns()}"
                body = json.dumps(
                    template, ensure_ascii=False, separators=(",", ":")
                ).encode()
                await poster.post(robot, body)

            async def stream(robot: int) -> None:
                """POST one robot's messages one after another, as the outbox does."""
                for index in range(messages):
                    await post(robot, index)

            for robot in range(robots):
                for index in range(sizes.warmup):
                    await post(robot, -1 - index)
            target = await emulator.delivered() + total
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(stream(robot) for robot in range(robots)))
            await emulator.wait_delivered(target, DELIVERY_TIMEOUT)
            bare_cpu, bare_wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            await poster.close()
    return (
        ha_cpu / total * 1e6,
        total / ha_wall,
        bare_cpu / total * 1e6,
        total / bare_wall,
    )


async def _setup_run(sizes: Sizes, work_dir: Path) -> list[float]:
    """Return the setup time of each robot's config entry in a fresh instance."""
    emulator = make_emulator(sizes.scale_robots)
    async with (
        emulator.serve(LOOPBACK, 0) as server,
        home_assistant(work_dir, OutboxTuning()) as bench,
    ):
        return [
            await bench.add_robot(server, robot) for robot in range(sizes.scale_robots)
        ]


async def run_scale(
    sizes: Sizes, work_dir: Path, progress: Callable[[str], None]
) -> ScaleResult:
    """Run every scale measurement."""
    memory: list[MemoryRun] = []
    cpu: list[tuple[float, float, float, float]] = []
    for run in range(sizes.scale_runs):
        memory.append(await _memory_run(sizes, work_dir))
        cpu.append(await _cpu_run(sizes, work_dir))
        progress(
            f"  run {run + 1}: {memory[-1].queued} queued, "
            f"{memory[-1].held_bytes / memory[-1].queued:.0f} B each; "
            f"{cpu[-1][0]:.0f} µs CPU per message (bare {cpu[-1][2]:.0f} µs)"
        )
    setups = [await _setup_run(sizes, work_dir) for _ in range(sizes.setup_runs)]
    progress(f"  setup: {len(setups)} runs")
    return ScaleResult(
        robots=sizes.scale_robots,
        messages=sizes.scale_messages,
        runs=sizes.scale_runs,
        queued=memory[0].queued,
        held_per_message=Summary.of(m.held_bytes / m.queued for m in memory),
        own_code_per_message=Summary.of(m.own_code_bytes / m.queued for m in memory),
        peak_kib=Summary.of(m.peak_bytes / 1024 for m in memory),
        stored_per_message=Summary.of(m.stored_bytes / m.queued for m in memory),
        drain_virtual=Summary.of(m.drain_virtual for m in memory),
        delivered=min(m.delivered for m in memory),
        cpu_ha_us=Summary.of(c[0] for c in cpu),
        rate_ha=Summary.of(c[1] for c in cpu),
        cpu_bare_us=Summary.of(c[2] for c in cpu),
        rate_bare=Summary.of(c[3] for c in cpu),
        setup_first_ms=Summary.of(run[0] * 1000 for run in setups),
        setup_more_ms=Summary.of(t * 1000 for run in setups for t in run[1:]),
        setup_runs=sizes.setup_runs,
    )
