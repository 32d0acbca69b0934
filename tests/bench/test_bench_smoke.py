"""`python -m bench --quick` still runs and writes every table and the plot.

The benchmark runs in a child process: it starts its own Home Assistant, emulator
and event loop, and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys
from typing import Final

import pytest

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
TIMEOUT: Final = 150

TABLE_HEADERS: Final = (
    "| Path | median | min | max | median vs bare POST |",
    "| Variant | median | min | max | median vs bare POST |",
    "| Sender | told caller: sent | queued | failed | delivered |",
    "| Figure | median | min | max |",
    "| Path | CPU µs/message | min | max | messages/s | min | max |",
    "| Robot | median | min | max | n |",
    "| Import | median | min | max |",
)


@pytest.mark.timeout(TIMEOUT + 30)
def test_quick_run_writes_the_report(tmp_path: Path) -> None:
    """The quick run succeeds; the report has the machine, every table and the plot."""
    output = tmp_path / "BENCHMARKS.md"
    svg = tmp_path / "docs" / "benchmarks.svg"
    results = tmp_path / "results"
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

    report = output.read_text(encoding="utf-8")
    assert report.startswith("# Benchmarks\n")
    assert "**Quick run**" in report
    for heading in (
        "## Key figures",
        "## Machine",
        "## 1. Overhead of one notify call",
        "## 2. A burst of 60 messages to one robot",
        "## 3. Scale: 2 robots with 10 queued messages each",
        "## How these figures were made",
    ):
        assert heading in report
    for header in TABLE_HEADERS:
        assert header in report
    for row in (
        "| CPU |",
        "| Memory |",
        "| Python |",
        "| Home Assistant |",
        "| Date |",
    ):
        assert row in report
    assert "](docs/benchmarks.svg)" in report
    assert "| **this integration** | 20 | 40 | 0 | 60 | 0 | 0 | 0 | 122.0 |" in report

    plot = svg.read_text(encoding="utf-8")
    assert plot.startswith("<svg ")
    assert plot.rstrip().endswith("</svg>")

    [raw] = results.glob("*-quick.json")
    data = json.loads(raw.read_text(encoding="utf-8"))
    assert data["quick"] is True
    ours = next(
        row for row in data["burst"]["rows"] if row["tool"] == "this integration"
    )
    assert ours["delivered"]["median"] == 60
    assert ours["errors"]["median"] == 0
