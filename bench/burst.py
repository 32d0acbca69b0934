"""Benchmark 2: a burst of messages to one robot that enforces DingTalk's limit.

The emulator enforces DingTalk's real rule (20 deliveries per rolling 60 s; the
21st request throttles the robot for 600 s) on a virtual clock shared with the
sender (see bench/clock.py), so minutes of DingTalk time pass in a second or two.
Each sender gets a fresh emulator and robot and is counted by what it told its
caller against what the emulator delivered:

- ours: ``dingtalk.send_message`` with response data, once per message, in an
  in-process Home Assistant; the outbox's clock and sleep are the virtual ones.
  Twice: with combining off (the outbox paces single messages) and with combining
  on, as a robot is set up by default (near the limit, waiting text messages go
  out as one).
- Apprise: its DingTalk plugin, whose webhook address is fixed to DingTalk's host,
  gets the emulator's address by patching ``NotifyDingTalk.notify_url`` in this
  process. ``time``/``datetime`` inside the plugin and Apprise's ``URLBase``
  (signature timestamps and its generic 5.5 s per-request throttle) are virtual.
  Two ways of using it: one Apprise object for every message (as Home Assistant's
  apprise integration does), and a new one per message (as a script that runs the
  ``apprise`` command per event does). Both use a robot without signing: Apprise
  2.3.0 URL-encodes ``sign`` and then hands it to ``requests`` as a query
  parameter, which encodes it again; the emulator decodes once (whether DingTalk
  tolerates double encoding is UNCONFIRMED) and refuses it. A third Apprise row
  shows that case with a signed robot.
- DingtalkChatbot: ``time`` inside ``dingtalkchatbot.chatbot`` is virtual, so its
  own 20-a-minute sleep moves the virtual clock.
- a naive loop: aiohttp, a fresh signature per message, posted at once, success
  judged by the HTTP status only.
"""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
import json
import sys
import time
from typing import TYPE_CHECKING, Final
from unittest.mock import patch

import aiohttp
import apprise
import dingtalkchatbot.chatbot as chatbot_module  # type: ignore[import-untyped]
from homeassistant.exceptions import HomeAssistantError

from .clock import VirtualDatetime, VirtualTime, VirtualTimeModule
from .harness import OutboxTuning, home_assistant
from .robots import (
    JSON_HEADERS,
    LOOPBACK,
    SECRET,
    TOKENS,
    is_other_rejection,
    is_throttle_answer,
    make_emulator,
    signed_url,
)
from .stats import Summary

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from dingtalk_emulator import DeliveredMessage, Emulator, EmulatorServer

    from .config import Sizes

OURS: Final = "this integration (combining off)"
OURS_COMBINED: Final = "this integration (combining, default)"
OUR_ROWS: Final = frozenset({OURS, OURS_COMBINED})
APPRISE_SHARED: Final = "Apprise 2.3.0, one Apprise object, unsigned robot"
APPRISE_FRESH: Final = "Apprise 2.3.0, new Apprise object per message, unsigned robot"
APPRISE_SIGNED: Final = "Apprise 2.3.0, one Apprise object, signed robot"
CHATBOT: Final = "DingtalkChatbot 1.5.7"
NAIVE: Final = "naive loop (aiohttp, HTTP status only)"
TOOLS: Final = (
    OURS,
    OURS_COMBINED,
    APPRISE_SHARED,
    APPRISE_FRESH,
    APPRISE_SIGNED,
    CHATBOT,
    NAIVE,
)
UNSIGNED_TOOLS: Final = frozenset({APPRISE_SHARED, APPRISE_FRESH})

RATE_LIMIT: Final = 20
RATE_WINDOW: Final = 60.0
VIRTUAL_LIMIT: Final = 3600.0
"""Virtual seconds a sender may take (past it, signatures would expire)."""
REAL_TIMEOUT: Final = 120.0


def theoretical_minimum(messages: int) -> float:
    """Seconds from the first to the last delivery at 20 per rolling 60 s."""
    return ((messages - 1) // RATE_LIMIT) * RATE_WINDOW


@dataclass(frozen=True, slots=True)
class BurstRun:
    """What one sender reported and what the emulator saw, for one burst."""

    sent: int  # reported as sent (delivered) to the caller
    queued: int  # reported as accepted for later delivery
    errors: int  # reported as failed to the caller
    delivered: int  # burst messages whose text reached the chat (at least once)
    duplicates: int  # further copies of a message the chat showed
    in_order: bool  # the chat shows them in the order they were sent
    throttle_answers: int  # requests answered with a rate-limit errcode
    rejected: int  # requests refused for another reason (errcode != 0)
    errcodes: tuple[int, ...]  # every non-zero errcode the emulator answered
    requests: int  # requests the emulator received
    last_delivery: float | None  # virtual seconds from the start to the last one
    real_seconds: float  # wall-clock time the run took
    timeline: tuple[float, ...]  # virtual second each message first arrived

    @property
    def silently_lost(self) -> int:
        """Messages the caller was told were sent or queued that never arrived."""
        return max(0, self.sent + self.queued - self.delivered)


@dataclass(frozen=True, slots=True)
class BurstRow:
    """One sender's results over repeated bursts."""

    tool: str
    sent: Summary
    queued: Summary
    errors: Summary
    delivered: Summary
    duplicates: Summary
    in_order: bool  # in every run
    requests: Summary
    throttle_answers: Summary
    rejected: Summary
    errcodes: tuple[int, ...]  # seen in any run
    silently_lost: Summary
    last_delivery: Summary | None  # None when nothing was delivered
    real_seconds: Summary
    timeline: tuple[float, ...]  # of the first run


@dataclass(frozen=True, slots=True)
class BurstResult:
    """Every sender's row, and the burst's size."""

    messages: int
    runs: int
    theoretical_seconds: float
    rows: list[BurstRow]


def arrivals(
    delivered: Sequence[DeliveredMessage], texts: Sequence[str]
) -> list[tuple[int, float]]:
    """Return (index, time) of every text in the chat, in the order it shows them.

    A combined message holds several texts: they count in the order they appear
    in it.
    """
    found: list[tuple[int, float]] = []
    for message in delivered:
        body = json.dumps(message.payload, ensure_ascii=False)
        hits = sorted(
            (body.find(text), index) for index, text in enumerate(texts) if text in body
        )
        found += [(index, message.at) for _, index in hits]
    return found


def _observe(
    emulator: Emulator,
    virtual: VirtualTime,
    counts: tuple[int, int, int],
    real_seconds: float,
    messages: int,
) -> BurstRun:
    """Combine a sender's own counts with the emulator's log."""
    found = arrivals(emulator.delivered(), [_text(i) for i in range(messages)])
    first: dict[int, float] = {}
    for index, at in found:
        first.setdefault(index, at - virtual.start)
    timeline = tuple(sorted(first.values()))
    records = emulator.requests
    sent, queued, errors = counts
    return BurstRun(
        sent=sent,
        queued=queued,
        errors=errors,
        delivered=len(first),
        duplicates=len(found) - len(first),
        in_order=list(first) == sorted(first),
        throttle_answers=sum(1 for record in records if is_throttle_answer(record)),
        rejected=sum(1 for record in records if is_other_rejection(record)),
        errcodes=tuple(
            sorted({r.errcode for r in records if r.errcode not in (0, None)})
        ),
        requests=len(records),
        last_delivery=max(timeline) if timeline else None,
        real_seconds=real_seconds,
        timeline=timeline,
    )


def _text(index: int) -> str:
    """Return the text of burst message ``index`` (0-based)."""
    return f"Burst message {index + 1}: the washing machine has finished."


async def _ours(
    server: EmulatorServer,
    virtual: VirtualTime,
    messages: int,
    work_dir: Path,
    *,
    combine: bool,
) -> tuple[int, int, int]:
    """Send through dingtalk.send_message; run virtual time until the queue drains."""
    sent = queued = errors = 0
    tuning = OutboxTuning(virtual=virtual, combine=combine)
    async with home_assistant(work_dir, tuning) as bench:
        await bench.add_robot(server, 0)
        for index in range(messages):
            try:
                answer = await bench.send_message(0, _text(index))
            except HomeAssistantError:
                errors += 1
                continue
            if answer.get("status") == "sent":
                sent += 1
            else:
                queued += 1
        await virtual.run_until(
            lambda: bench.queued() == 0,
            bench.idle,
            limit=VIRTUAL_LIMIT,
            real_timeout=REAL_TIMEOUT,
        )
    return sent, queued, errors


def _apprise_url(*, signed: bool) -> str:
    """Return the Apprise URL of bench robot 1."""
    return f"dingtalk://{SECRET}@{TOKENS[0]}/" if signed else f"dingtalk://{TOKENS[0]}/"


def _apprise_patches(
    stack: ExitStack, server: EmulatorServer, virtual: VirtualTime
) -> None:
    """Point Apprise's DingTalk plugin at the emulator and at the virtual clock."""
    probe = apprise.Apprise()
    if not probe.add(_apprise_url(signed=True)):
        raise RuntimeError("Apprise refused the dingtalk:// URL")
    plugin = type(probe[0])
    base = next(klass for klass in plugin.__mro__ if "throttle" in vars(klass))
    stack.enter_context(
        patch.object(
            plugin, "notify_url", f"{server.base_url}/robot/send?access_token={{token}}"
        )
    )
    fake_time = VirtualTimeModule(virtual)
    for module in {sys.modules[plugin.__module__], sys.modules[base.__module__]}:
        stack.enter_context(patch.object(module, "time", fake_time))
    stack.enter_context(
        patch.object(sys.modules[base.__module__], "datetime", VirtualDatetime(virtual))
    )


def _apprise_loop(messages: int, *, fresh: bool, signed: bool) -> tuple[int, int, int]:
    """Notify through Apprise; its result is truthy (sent) or falsy (failed)."""
    url = _apprise_url(signed=signed)
    sent = errors = 0
    shared = apprise.Apprise()
    shared.add(url)
    for index in range(messages):
        sender = shared
        if fresh:
            sender = apprise.Apprise()
            sender.add(url)
        if sender.notify(body=_text(index)):
            sent += 1
        else:
            errors += 1
    return sent, 0, errors


def _chatbot_loop(server: EmulatorServer, messages: int) -> tuple[int, int, int]:
    """Send through DingtalkChatbot; it returns DingTalk's answer, never raises."""
    bot = chatbot_module.DingtalkChatbot(server.webhook_url(TOKENS[0]), secret=SECRET)
    sent = errors = 0
    for index in range(messages):
        answer = bot.send_text(msg=_text(index))
        if answer.get("errcode") == 0:
            sent += 1
        else:
            errors += 1
    return sent, 0, errors


async def _naive(
    server: EmulatorServer, virtual: VirtualTime, messages: int
) -> tuple[int, int, int]:
    """Sign and POST every message at once; HTTP 200 counts as sent."""
    sent = errors = 0
    async with aiohttp.ClientSession() as session:
        for index in range(messages):
            body = json.dumps(
                {"msgtype": "text", "text": {"content": _text(index)}}
            ).encode()
            url = signed_url(server, TOKENS[0], SECRET, virtual.now())
            async with session.post(url, data=body, headers=JSON_HEADERS) as answer:
                await answer.read()
                if answer.status == 200:  # noqa: PLR2004 - HTTP OK
                    sent += 1
                else:
                    errors += 1
    return sent, 0, errors


async def _one_burst(tool: str, messages: int, work_dir: Path) -> BurstRun:
    """Run one sender's burst against a fresh emulator on a fresh virtual clock."""
    virtual = VirtualTime()
    emulator = make_emulator(1, clock=virtual, signed=tool not in UNSIGNED_TOOLS)
    started = time.perf_counter()
    async with emulator.serve(LOOPBACK, 0) as server:
        if tool in OUR_ROWS:
            counts = await _ours(
                server, virtual, messages, work_dir, combine=tool == OURS_COMBINED
            )
        elif tool == NAIVE:
            counts = await _naive(server, virtual, messages)
        elif tool == CHATBOT:
            with patch.object(chatbot_module, "time", VirtualTimeModule(virtual)):
                counts = await asyncio.to_thread(_chatbot_loop, server, messages)
        else:
            with ExitStack() as stack:
                _apprise_patches(stack, server, virtual)
                counts = await asyncio.to_thread(
                    partial(
                        _apprise_loop,
                        messages,
                        fresh=tool == APPRISE_FRESH,
                        signed=tool == APPRISE_SIGNED,
                    )
                )
    return _observe(emulator, virtual, counts, time.perf_counter() - started, messages)


def _row(tool: str, runs: list[BurstRun]) -> BurstRow:
    """Summarise one sender's runs."""
    lasts = [run.last_delivery for run in runs if run.last_delivery is not None]
    return BurstRow(
        tool=tool,
        sent=Summary.of(run.sent for run in runs),
        queued=Summary.of(run.queued for run in runs),
        errors=Summary.of(run.errors for run in runs),
        delivered=Summary.of(run.delivered for run in runs),
        duplicates=Summary.of(run.duplicates for run in runs),
        in_order=all(run.in_order for run in runs),
        requests=Summary.of(run.requests for run in runs),
        throttle_answers=Summary.of(run.throttle_answers for run in runs),
        rejected=Summary.of(run.rejected for run in runs),
        errcodes=tuple(sorted({code for run in runs for code in run.errcodes})),
        silently_lost=Summary.of(run.silently_lost for run in runs),
        last_delivery=Summary.of(lasts) if lasts else None,
        real_seconds=Summary.of(run.real_seconds for run in runs),
        timeline=runs[0].timeline,
    )


async def run_burst(
    sizes: Sizes, work_dir: Path, progress: Callable[[str], None]
) -> BurstResult:
    """Run the burst for every sender, ``sizes.burst_runs`` times each."""
    results: dict[str, list[BurstRun]] = {tool: [] for tool in TOOLS}
    for _ in range(sizes.burst_runs):
        for tool in TOOLS:
            run = await _one_burst(tool, sizes.burst_messages, work_dir)
            progress(
                f"  {tool}: {run.delivered}/{sizes.burst_messages} delivered in "
                f"{run.requests} requests, {run.throttle_answers} throttled, "
                f"{run.rejected} refused, "
                f"{run.real_seconds:.1f} s real"
            )
            results[tool].append(run)
    return BurstResult(
        messages=sizes.burst_messages,
        runs=sizes.burst_runs,
        theoretical_seconds=theoretical_minimum(sizes.burst_messages),
        rows=[_row(tool, runs) for tool, runs in results.items()],
    )
