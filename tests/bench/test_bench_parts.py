"""Unit tests of the benchmark's own machinery: virtual time, guard, statistics."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING

import pytest

from bench import netguard
from bench.burst import arrivals
from bench.clock import VirtualTime, VirtualTimeModule
from bench.imports import own_self_seconds
from bench.persist import REMOVE, SEND, Sample, summarise
from bench.receive import Arrivals, Tally
from bench.split import rows_of
from bench.split_child import (
    LONG_LINE,
    PREVIOUS_MODULE,
    SHORT_LINES,
    body,
    digest,
    load_previous,
)
from bench.stats import Summary, percentile, ratio
from bench.stream_bare import CALLBACK_ACK_DATA, ack
from custom_components.dingtalk.api import Text
from dingtalk_emulator import DeliveredMessage

if TYPE_CHECKING:
    from pathlib import Path


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


def test_arrivals_count_each_text_of_a_combined_message_in_order() -> None:
    """A combined message delivers several texts; a repeated one is seen twice."""
    texts = [f"Burst message {index + 1}: done." for index in range(12)]

    def delivered(at: float, *indices: int) -> DeliveredMessage:
        content = "\n\n────────\n\n".join(texts[index] for index in indices)
        payload = {"msgtype": "text", "text": {"content": content}}
        return DeliveredMessage(
            seq=0, at=at, token="t", msgtype="text", payload=payload
        )

    found = arrivals(
        [delivered(1.0, 0), delivered(2.0, 1, 10, 11), delivered(3.0, 11)], texts
    )
    assert found == [(0, 1.0), (1, 2.0), (10, 2.0), (11, 2.0), (11, 3.0)]


def test_durable_queue_samples_are_grouped_by_level_range() -> None:
    """A sample counts for [level, level + width); each operation on its own."""
    samples = [
        Sample(SEND, queued, 0.001 * (queued + 1), 1e-4, 2e-4)
        for queued in (0, 1, 2, 100, 101, 103, 500)
    ] + [Sample(REMOVE, 0, 0.002, 1e-4, 0.0)]
    rows = summarise(samples, (0, 100, 500), 3)
    assert [(row.operation, row.level, row.samples) for row in rows] == [
        (SEND, 0, 3),
        (SEND, 100, 2),
        (SEND, 500, 1),
        (REMOVE, 0, 1),
    ]
    assert rows[0].wall_ms.median == pytest.approx(2.0)
    assert rows[0].loop_us.median == pytest.approx(100.0)


@pytest.mark.parametrize("shape", [LONG_LINE, SHORT_LINES])
def test_split_messages_have_exactly_the_size_asked(shape: str) -> None:
    """The texts are exactly that many UTF-8 bytes, of one line or of many."""
    text = body(shape, 100_003)
    assert len(text.encode()) == 100_003
    assert (text.count("\n") > 1000) is (shape == SHORT_LINES)


def test_previous_prepare_loads_beside_todays_models(tmp_path: Path) -> None:
    """A file with relative imports loads as a module of today's api package."""
    source = tmp_path / "prepare_old.py"
    source.write_text(
        "from .models import Text\n\n\n"
        "def prepare(message):\n"
        "    return [message, Text(content='second')]\n",
        encoding="utf-8",
    )
    try:
        previous = load_previous(source)
        parts = previous(Text(content="first", msg_uuid="u1"))
    finally:
        sys.modules.pop(PREVIOUS_MODULE, None)
    assert [part.to_payload()["text"]["content"] for part in parts] == [
        "first",
        "second",
    ]
    assert digest(parts) != digest(parts[:1])


def test_split_lines_pair_into_rows() -> None:
    """The child's lines become one row per message, previous beside today."""
    line = {
        "shape": LONG_LINE,
        "bytes": 1_000_000,
        "seconds": [0.5, 0.25],
        "timed_out": False,
        "parts": 51,
        "digest": "abc",
    }
    rows = rows_of(
        [
            line | {"implementation": "today"},
            line
            | {"implementation": "previous", "seconds": [], "timed_out": True}
            | {"parts": None, "digest": None},
        ]
    )
    [row] = rows
    assert row.today.seconds is not None
    assert row.today.seconds.median == 375.0
    assert row.previous is not None
    assert row.previous.timed_out
    assert row.previous.seconds is None
    assert row.same_parts is None


def test_percentile_interpolates_between_samples() -> None:
    """p95 of 1..21 is 20; one sample is its own percentile; none is an error."""
    assert percentile(range(21, 0, -1), 0.95) == 20.0
    assert percentile([1.0, 2.0], 0.5) == 1.5
    assert percentile([4.0], 0.95) == 4.0
    with pytest.raises(ValueError, match="no measurements"):
        percentile([], 0.95)


async def test_arrivals_resolve_once_and_count_the_rest() -> None:
    """The first arrival resolves the wait; a repeat counts as a duplicate."""
    log = Arrivals()
    first = log.expect("a")
    log.expect("b")
    log.arrived("a", 1.5)
    log.arrived("a", 2.5)
    log.arrived("stranger", 3.0)
    assert await first == 1.5
    assert log.tally() == Tally(written=2, arrived=1, duplicates=1, missing=1)


def test_bare_client_ack_is_the_documented_frame() -> None:
    """The bare client's ACK (dingtalk-api.md §7.3): code 200, the messageId."""
    frame = json.loads(ack("m1", CALLBACK_ACK_DATA))
    assert frame == {
        "code": 200,
        "headers": {"contentType": "application/json", "messageId": "m1"},
        "message": "OK",
        "data": '{"response": null}',
    }
