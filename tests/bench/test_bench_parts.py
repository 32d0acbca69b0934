"""Unit tests of the benchmark's own machinery: virtual time, guard, statistics."""

from __future__ import annotations

import asyncio

import pytest

from bench import netguard
from bench.clock import VirtualTime, VirtualTimeModule
from bench.imports import own_self_seconds
from bench.stats import Summary, ratio


async def test_virtual_sleeps_wake_in_order_without_waiting() -> None:
    """run_until jumps the clock from wake-up to wake-up while everyone sleeps."""
    virtual = VirtualTime(start=1000.0)
    woke: list[tuple[str, float]] = []

    async def worker(name: str, delays: list[float]) -> None:
        sleep = virtual.sleeper(name)
        for delay in delays:
            await sleep(delay)
            woke.append((name, virtual.elapsed()))

    tasks = [
        asyncio.create_task(worker("a", [61.0, 61.0])),
        asyncio.create_task(worker("b", [100.0])),
    ]
    await asyncio.sleep(0)
    await virtual.run_until(
        lambda: all(task.done() for task in tasks),
        lambda: True,
        limit=3600,
        real_timeout=10,
    )
    assert woke == [("a", 61.0), ("b", 100.0), ("a", 122.0)]
    assert not virtual.is_sleeping("a")


async def test_virtual_time_stops_at_its_limit() -> None:
    """A sleep past the virtual limit fails the run instead of hanging."""
    virtual = VirtualTime(start=0.0)
    task = asyncio.create_task(virtual.sleeper("x")(7200.0))
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="virtual seconds"):
        await virtual.run_until(task.done, lambda: True, limit=3600, real_timeout=10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert virtual.next_wake() is None


def test_time_module_stand_in_moves_the_clock() -> None:
    """A synchronous tool's time.sleep moves the virtual clock at once."""
    virtual = VirtualTime(start=50.0)
    fake = VirtualTimeModule(virtual)
    fake.sleep(5.5)
    assert fake.time() == 55.5
    assert fake.monotonic() == 55.5
    assert callable(fake.strftime)  # the real module's, for everything else


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        (("127.0.0.1", 80), True),
        (("::1", 80, 0, 0), True),
        ("/run/bench.sock", True),
        (("10.0.0.1", 80), False),
        (("203.0.113.7", 443), False),
        (("oapi.dingtalk.com", 443), False),
    ],
)
def test_network_guard_allows_loopback_only(address: object, allowed: bool) -> None:
    """Only loopback addresses (and Unix sockets) pass the guard."""
    if allowed:
        netguard._check(address)
    else:
        with pytest.raises(netguard.NonLoopbackConnectionError):
            netguard._check(address)


def test_summary_and_ratio() -> None:
    """Median, min and max of repeated measurements; ratio of medians."""
    summary = Summary.of([3.0, 1.0, 2.0, 10.0])
    assert (summary.median, summary.minimum, summary.maximum) == (2.5, 1.0, 10.0)
    assert summary.scaled(2).median == 5.0
    assert ratio(summary, Summary.of([1.25])) == 2.0
    assert ratio(summary, Summary.of([0.0])) == 0.0
    with pytest.raises(ValueError, match="no measurements"):
        Summary.of([])


def test_importtime_self_times_of_our_modules() -> None:
    """Only custom_components.* lines of -X importtime count."""
    lines = (
        "import time: self [us] | cumulative | imported package",
        "import time:      1500 |       1500 |   aiohttp",
        "import time:       250 |        300 |     custom_components.dingtalk.api",
        "import time:       750 |       2550 | custom_components.dingtalk",
    )
    text = "\n".join(lines)
    assert own_self_seconds(text) == pytest.approx(0.001)
