"""Benchmark 4: what the durable queue costs per message, with 0, 100 and 500 queued.

One robot in an in-process Home Assistant, on virtual time (bench/clock.py), with
the durable queue in the benchmark's temporary folder. Twenty messages fill
DingTalk's rate window; from then on the outbox's worker sleeps until the window
frees, and virtual time stands still while the queue is measured, so every further
``Outbox.async_send`` answers "queued" and nothing is delivered meanwhile.

- queueing: ``persist_samples`` timed calls at each level (0, 100, 500 messages
  already queued; the queue grows by one per call, untimed calls fill it up to the
  next level). A timed call ends when ``async_send`` has answered and the store's
  writer has finished (its transaction committed); between two calls the loop and
  the executor are left idle for a moment, untimed.
- delivery: then virtual time runs until the queue has drained. Two hooks on the
  outbox's queue (``DurableQueue.attempt``, the write-ahead record the worker
  commits before each request, and ``DurableQueue.async_done``, the removal after
  a delivery) time every delivery; the samples are grouped by how many other
  messages were queued at the time, in the same ranges as above.

For each call: the wall time; the CPU time of the event loop's thread
(``time.thread_time()`` read in the loop before and after: everything the loop ran
meanwhile, which in this quiet process is the call's own work); and the CPU time of
every other thread (``time.process_time()`` minus that: the executor, where SQLite
and the JSON encoding run). The wall time also holds the fsync of the commit.
"""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from dataclasses import dataclass
import gc
import time
from typing import TYPE_CHECKING, Final
from unittest.mock import patch

from custom_components.dingtalk.api import Text, serialize_payload
from custom_components.dingtalk.outbox import DATA_STORE
from custom_components.dingtalk.outbox.queue import DurableQueue

from .clock import VirtualTime
from .harness import OutboxTuning, home_assistant
from .machine import filesystem_of
from .robots import LOOPBACK, make_emulator
from .stats import Summary

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path
    from typing import Any

    from custom_components.dingtalk.outbox import Outbox, OutboxStore
    from custom_components.dingtalk.outbox.items import Item

    from .config import Sizes

LEVELS: Final = (0, 100, 500)
"""Messages already queued when a timed call starts (each the low end of a range)."""
RATE_LIMIT: Final = 20
PAYLOAD_TEXT_BYTES: Final = 2_000
SETTLE_SECONDS: Final = 0.002
VIRTUAL_LIMIT: Final = 7200.0
REAL_TIMEOUT: Final = 300.0

SEND: Final = "`Outbox.async_send`, answered `queued`"
ATTEMPT: Final = "write-ahead record before the request (`DurableQueue.attempt`)"
REMOVE: Final = "removal after delivery (`DurableQueue.async_done`)"
OPERATIONS: Final = (SEND, ATTEMPT, REMOVE)

type Part = tuple[str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed call: what, how many others were queued, wall time, CPU by thread."""

    operation: str
    queued: int
    wall: float
    loop_cpu: float
    other_cpu: float


@dataclass(frozen=True, slots=True)
class PersistRow:
    """One operation at one queue level."""

    operation: str
    level: int
    samples: int
    wall_ms: Summary
    loop_us: Summary
    other_us: Summary


@dataclass(frozen=True, slots=True)
class PersistResult:
    """Every operation at every level, and how they were measured."""

    rows: list[PersistRow]
    levels: tuple[int, ...]
    samples: int  # timed calls per level and run
    runs: int
    payload_bytes: int
    filesystem: str
    delivered: int  # messages delivered, fewest of any run (each run: all sent)


class _Meter:
    """Wall, event-loop-thread CPU and process CPU since it was made (loop thread)."""

    def __init__(self) -> None:
        """Start now."""
        self._wall = time.perf_counter()
        self._loop = time.thread_time()
        self._process = time.process_time()

    def sample(self, operation: str, queued: int) -> Sample:
        """Return what passed since the start."""
        loop = time.thread_time() - self._loop
        other = max(0.0, time.process_time() - self._process - loop)
        return Sample(operation, queued, time.perf_counter() - self._wall, loop, other)


class _Parts:
    """Numbered messages of about PAYLOAD_TEXT_BYTES, as delivery hands them over."""

    def __init__(self) -> None:
        """Start at message 1."""
        self.count = 0

    def next(self) -> Part:
        """Return the next message's idempotency key and payload."""
        self.count += 1
        head = f"Queue benchmark message {self.count}: "
        message = Text(content=head + "x" * (PAYLOAD_TEXT_BYTES - len(head)))
        return message.msg_uuid, message.to_payload()


class _DeliveryHooks:
    """Time the write-ahead record and the removal of every delivery."""

    def __init__(self, samples: list[Sample]) -> None:
        """Append to ``samples``."""
        self._samples = samples

    def install(self, stack: ExitStack) -> None:
        """Wrap DurableQueue.attempt and .async_done until ``stack`` closes."""
        attempt, done = DurableQueue.attempt, DurableQueue.async_done
        samples = self._samples

        def timed_attempt(
            queue: DurableQueue, items: Sequence[Item], at: float, batch: str | None
        ) -> asyncio.Future[None]:
            """Call attempt; sample when its transaction has committed."""
            meter, others = _Meter(), len(queue) - len(items)
            future = attempt(queue, items, at, batch)
            future.add_done_callback(
                lambda _: samples.append(meter.sample(ATTEMPT, others))
            )
            return future

        async def timed_done(queue: DurableQueue, items: Sequence[Item]) -> None:
            """Call async_done; sample when it returns."""
            meter, others = _Meter(), len(queue) - len(items)
            await done(queue, items)
            samples.append(meter.sample(REMOVE, others))

        stack.enter_context(patch.object(DurableQueue, "attempt", timed_attempt))
        stack.enter_context(patch.object(DurableQueue, "async_done", timed_done))


async def _settle(store: OutboxStore) -> None:
    """Let the writer finish and the loop and the executor go idle (untimed)."""
    await store.async_flush()
    await asyncio.sleep(SETTLE_SECONDS)


async def _send(outbox: Outbox, part: Part, expected: str) -> None:
    """Send one message and check the answer."""
    result = await outbox.async_send([part])
    if result.status != expected:
        raise RuntimeError(f"the outbox answered {result.status}, not {expected}")


async def _queue_samples(
    outbox: Outbox, store: OutboxStore, parts: _Parts, count: int
) -> list[Sample]:
    """Time ``count`` calls that each end "queued"."""
    samples: list[Sample] = []
    for _ in range(count):
        await _settle(store)
        queued = int(outbox.stats()["queued"])
        part = parts.next()
        meter = _Meter()
        result = await outbox.async_send([part])
        await store.async_flush()
        sample = meter.sample(SEND, queued)
        if result.status != "queued":
            raise RuntimeError(f"a timed message was {result.status}, not queued")
        samples.append(sample)
    return samples


async def _persist_run(sizes: Sizes, work_dir: Path) -> tuple[list[Sample], int]:
    """Queue at every level, then drain; return every sample and the deliveries."""
    top = max(LEVELS) + sizes.persist_samples
    virtual = VirtualTime()
    emulator = make_emulator(1, clock=virtual)
    samples: list[Sample] = []
    async with (
        emulator.serve(LOOPBACK, 0) as server,
        home_assistant(
            work_dir, OutboxTuning(virtual=virtual, max_queue=top + RATE_LIMIT)
        ) as bench,
    ):
        await bench.add_robot(server, 0)
        [outbox] = bench.outboxes
        store = bench.hass.data[DATA_STORE]
        parts = _Parts()
        for _ in range(RATE_LIMIT):
            await _send(outbox, parts.next(), "sent")
        for level in LEVELS:
            missing = level - int(outbox.stats()["queued"])
            await asyncio.gather(
                *(_send(outbox, parts.next(), "queued") for _ in range(missing))
            )
            gc.collect()
            samples += await _queue_samples(outbox, store, parts, sizes.persist_samples)
        with ExitStack() as stack:
            _DeliveryHooks(samples).install(stack)
            await virtual.run_until(
                lambda: bench.queued() == 0,
                bench.idle,
                limit=VIRTUAL_LIMIT,
                real_timeout=REAL_TIMEOUT,
            )
        delivered = len(emulator.delivered())
    if delivered != parts.count:
        raise RuntimeError(f"{delivered} of {parts.count} messages delivered")
    return samples, delivered


def summarise(
    samples: Sequence[Sample], levels: Sequence[int], width: int
) -> list[PersistRow]:
    """Group samples by operation and by level range [level, level + width)."""
    rows: list[PersistRow] = []
    for operation in OPERATIONS:
        for level in levels:
            chosen = [
                sample
                for sample in samples
                if sample.operation == operation
                and level <= sample.queued < level + width
            ]
            if chosen:
                rows.append(
                    PersistRow(
                        operation=operation,
                        level=level,
                        samples=len(chosen),
                        wall_ms=Summary.of(s.wall * 1e3 for s in chosen),
                        loop_us=Summary.of(s.loop_cpu * 1e6 for s in chosen),
                        other_us=Summary.of(s.other_cpu * 1e6 for s in chosen),
                    )
                )
    return rows


async def run_persist(
    sizes: Sizes, work_dir: Path, progress: Callable[[str], None]
) -> PersistResult:
    """Run the queue benchmark ``sizes.persist_runs`` times, in fresh instances."""
    samples: list[Sample] = []
    delivered: list[int] = []
    for run in range(sizes.persist_runs):
        timed, count = await _persist_run(sizes, work_dir)
        samples += timed
        delivered.append(count)
        progress(f"  run {run + 1}: {len(timed)} timed calls, {count} delivered")
    return PersistResult(
        rows=summarise(samples, LEVELS, sizes.persist_samples),
        levels=LEVELS,
        samples=sizes.persist_samples,
        runs=sizes.persist_runs,
        payload_bytes=len(serialize_payload(_Parts().next()[1])),
        filesystem=filesystem_of(work_dir),
        delivered=min(delivered),
    )
