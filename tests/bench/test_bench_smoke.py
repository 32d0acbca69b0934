"""`python -m bench --quick` still runs and writes every table and the plot.

The benchmark runs once, in a child process: it starts its own Home Assistant,
emulator and event loop, and talks to 127.0.0.1 only. The tests read what it wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import math
import os
from pathlib import Path
import subprocess
import sys
from typing import Any, Final

import pytest

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
TIMEOUT: Final = 150

TABLE_HEADERS: Final = (
    "| Path | median | min | max | median vs bare POST | median vs no-op action |",
    "| Variant | median | min | max | median vs bare POST |",
    "| Sender | told caller: sent | queued | failed | delivered | requests |",
    "| Figure | median | min | max |",
    "| Path | CPU µs/message | min | max | messages/s | min | max |",
    "| Robot | median | min | max | n |",
    "| Import | median | min | max |",
    "| Operation | others queued | n | wall, ms (median) | min | max |",
    "| Text message | parts | today, ms (median) | min | max |",
    "| Path | median | min | max | median vs bare batchSend POST |",
    "| Run | messages | answered sent | delivered | lost | twice |",
    "| Path | median | p95 | min | max | median vs bare client |",
    "| Client | median | min | max | median vs bare client |",
)
NOOP: Final = "bench.noop (no-op action, with response)"
SERVICE: Final = "dingtalk.send_message (with response)"
OURS: Final = "this integration (combining off)"
COMBINED: Final = "this integration (combining, default)"
OPERATIONS: Final = (
    "`Outbox.async_send`, answered `queued`",
    "write-ahead record before the request (`DurableQueue.attempt`)",
    "removal after delivery (`DurableQueue.async_done`)",
)
APP_BARE: Final = "bare aiohttp POST to batchSend (token cached)"
APP_ENTITY: Final = "notify.send_message (app person entity)"
RECEIVE_BARE: Final = "bare aiohttp WebSocket client: the frame arrived"
RECEIVE_HA: Final = "Home Assistant: `dingtalk_message_received` fired"
RECONNECT_BOUND_MS: Final = 10_000
"""The client reconnects at once on a disconnect frame: far below this."""


pytestmark = pytest.mark.timeout(TIMEOUT + 30)


@dataclass(frozen=True, slots=True)
class QuickRun:
    """What one quick run wrote."""

    report: str
    plot: str
    data: dict[str, Any]

    def rows(self, *first: str) -> list[list[str]]:
        """Return the cells of every table row that starts with cells ``first``."""
        prefix = "| " + " | ".join(first) + " | "
        return [
            [cell.strip() for cell in line.strip("|").split("|")]
            for line in self.report.splitlines()
            if line.startswith(prefix)
        ]

    def row(self, *first: str) -> list[str]:
        """Return the cells of the one table row that starts with cells ``first``."""
        [cells] = self.rows(*first)
        return cells


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> QuickRun:
    """Run `python -m bench --quick` once into a temporary folder."""
    folder = tmp_path_factory.mktemp("bench")
    output = folder / "BENCHMARKS.md"
    svg = folder / "docs" / "benchmarks.svg"
    results = folder / "results"
    done = subprocess.run(  # noqa: S603 - our interpreter and our module
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--output",
            str(output),
            "--svg",
            str(svg),
            "--results-dir",
            str(results),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("COV")},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    [raw] = results.glob("*-quick.json")
    return QuickRun(
        report=output.read_text(encoding="utf-8"),
        plot=svg.read_text(encoding="utf-8"),
        data=json.loads(raw.read_text(encoding="utf-8")),
    )


def test_report_has_every_section_and_table(quick_run: QuickRun) -> None:
    """The report has the machine, every section, every table and the plot."""
    report = quick_run.report
    assert report.startswith("# Benchmarks\n")
    assert "**Quick run**" in report
    assert quick_run.data["quick"] is True
    for heading in (
        "## Key figures",
        "## Machine",
        "## 1. Overhead of one notify call",
        "## 2. A burst of 60 messages to one robot",
        "## 3. Scale: 2 robots with 10 queued messages each",
        "## 4. The durable queue: cost per message",
        "## 5. Splitting a long text message",
        "## 6. An app robot: one message to a person, and its access tokens",
        "## 7. Receiving: a message written in DingTalk, until the event fires",
        "## How these figures were made",
    ):
        assert heading in report
    for header in TABLE_HEADERS:
        assert header in report
    for row in ("CPU", "Memory", "Python", "Home Assistant", "Date"):
        assert quick_run.row(row)[1]
    assert "](docs/benchmarks.svg)" in report
    assert quick_run.plot.startswith("<svg ")
    assert quick_run.plot.rstrip().endswith("</svg>")


def test_overhead_has_both_floors(quick_run: QuickRun) -> None:
    """The bare POST and the no-op action are the floors of the latency table."""
    # Path, median, min, max, vs bare POST, vs no-op action (the scale section
    # has a "bare aiohttp POST" row too, of another table).
    [bare] = [row for row in quick_run.rows("bare aiohttp POST") if len(row) == 6]
    assert bare[4] == "×1.00"
    noop = quick_run.row("`bench.noop` (no-op action, with response)")
    assert len(noop) == 6
    assert noop[5] == "×1.00"
    latency = quick_run.data["overhead"]["latency_ms"]
    assert 0 < latency[NOOP]["median"] < latency[SERVICE]["median"]


def test_burst_delivers_everything_with_and_without_combining(
    quick_run: QuickRun,
) -> None:
    """Both of our rows deliver 60 of 60; combining needs fewer requests."""
    # Sender, sent, queued, failed, delivered, requests, throttle answers, other
    # refusals, lost without an error, last delivery (median), min, max, vs minimum.
    off = quick_run.row(f"**{OURS}**")
    assert off[1:10] == ["20", "40", "0", "60", "60", "0", "0", "0", "122.0"]
    combined = quick_run.row(f"**{COMBINED}**")
    assert combined[4] == "60"  # every message's text arrived
    assert int(combined[5]) < 60  # in fewer requests
    assert combined[6:9] == ["0", "0", "0"]  # no throttle, no refusal, none lost
    assert float(combined[9]) < 60  # well within the first minute
    rows = {row["tool"]: row for row in quick_run.data["burst"]["rows"]}
    for tool in (OURS, COMBINED):
        assert rows[tool]["delivered"]["median"] == 60
        assert rows[tool]["errors"]["median"] == 0
        assert rows[tool]["duplicates"]["maximum"] == 0
        assert rows[tool]["in_order"] is True


def test_durable_queue_rows(quick_run: QuickRun) -> None:
    """Every operation has a row at each level; the loop's share is within wall."""
    for operation in OPERATIONS:
        for others in ("0–4", "100–104", "500–504"):
            assert quick_run.row(operation, others)[2] == "5"
    persist = quick_run.data["persist"]
    assert persist["delivered"] == 20 + 500 + 5
    assert len(persist["rows"]) == 9
    for row in persist["rows"]:
        assert row["samples"] == 5
        assert 0 < row["wall_ms"]["median"] < 1000
        assert 0 < row["loop_us"]["median"] <= row["wall_ms"]["median"] * 1000


def test_split_rows(quick_run: QuickRun) -> None:
    """Each message has a row; both implementations make the same parts."""
    for message in ("one long line", "many short lines"):
        for size in ("1 MB", "4 MB"):
            assert len(quick_run.row(f"{message}, {size}")) == 10
    split = quick_run.data["split"]
    assert len(split["rows"]) == 4
    compared = 0
    for row in split["rows"]:
        today, previous = row["today"], row["previous"]
        if today["digest"] is not None:
            assert today["parts"] > 1
        if previous is not None and previous["digest"] and today["digest"]:
            assert previous["digest"] == today["digest"]
            compared += 1
    assert split["previous_missing"] is not None or compared > 0


def test_app_person_latency_ratio(quick_run: QuickRun) -> None:
    """notify.send_message to an app person takes longer than the bare batchSend."""
    latency = quick_run.data["app"]["latency_ms"]
    bare, entity = latency[APP_BARE]["median"], latency[APP_ENTITY]["median"]
    assert 0 < bare < 1000
    ratio = entity / bare
    assert math.isfinite(ratio)
    assert ratio > 1
    row = quick_run.row("`notify.send_message` (app person entity)")
    assert row[4] == f"×{ratio:.2f}"
    assert quick_run.row(APP_BARE)[4] == "×1.00"


def test_app_token_requests(quick_run: QuickRun) -> None:
    """One token serves every message; one more after it expires or is revoked."""
    tokens = quick_run.data["app"]["tokens"]
    messages = tokens["messages"]
    valid, short, revoked = tokens["runs"]
    for run, requests in ((valid, 1), (short, 2), (revoked, 2)):
        assert run["emulator_token_requests"] == requests, run
        assert run["client_token_requests"] == requests, run
        assert run["sent"] == run["delivered"] == messages, run
        assert run["lost"] == run["duplicates"] == 0, run
    assert short["token_seconds"] == 1
    assert valid["auth_retries"] == short["auth_retries"] == 0  # renewed in time
    assert revoked["auth_retries"] >= 1  # only DingTalk's refusal tells
    assert revoked["revoked_after"] == messages // 2


def test_receive_latency_and_exactly_once(quick_run: QuickRun) -> None:
    """Both receivers get every message exactly once, in sane times."""
    receive = quick_run.data["receive"]
    for tally in receive["tallies"].values():
        assert tally["written"] > receive["messages"]  # warm-up and probes too
        assert tally["arrived"] == tally["written"]
        assert tally["duplicates"] == tally["missing"] == 0
    latency, p95 = receive["latency_ms"], receive["p95_ms"]
    for path in (RECEIVE_BARE, RECEIVE_HA):
        assert latency[path]["count"] == receive["messages"]
        assert 0 < latency[path]["median"] <= p95[path] <= latency[path]["maximum"]
        assert latency[path]["maximum"] < 10_000
    ratio = latency[RECEIVE_HA]["median"] / latency[RECEIVE_BARE]["median"]
    assert math.isfinite(ratio)
    assert ratio > 0
    assert len(quick_run.row(RECEIVE_HA)) == 6


def test_receiving_again_after_a_disconnect(quick_run: QuickRun) -> None:
    """After each disconnect frame a message arrives again well within 10 s."""
    receive = quick_run.data["receive"]
    for summary in receive["reconnect_ms"].values():
        assert summary["count"] == receive["disconnects"] == 2
        assert 0 < summary["minimum"] <= summary["maximum"] < RECONNECT_BOUND_MS
    assert len(quick_run.row("Home Assistant (the integration's Stream client)")) == 5
