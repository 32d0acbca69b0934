"""``python -m bench``: run every benchmark, write BENCHMARKS.md and the plot."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from datetime import UTC, datetime
import json
import os
from pathlib import Path
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Final

from . import netguard
from .burst import run_burst
from .config import FULL, QUICK, Sizes
from .harness import quiet_logs
from .imports import run_imports
from .machine import describe
from .overhead import run_overhead
from .persist import run_persist
from .receive import run_receive
from .remote import REPO_ROOT
from .report import Results, render
from .scale import run_scale
from .split import run_split
from .svg import render_svg

if TYPE_CHECKING:
    from collections.abc import Sequence

PROXY_VARIABLES: Final = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the DingTalk integration against the local emulator.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run with small counts (its figures mean little)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=REPO_ROOT / "BENCHMARKS.md",
        help="the markdown report (default: %(default)s)",
    )
    parser.add_argument(
        "--svg",
        type=Path,
        default=REPO_ROOT / "docs" / "benchmarks.svg",
        help="the plot (default: %(default)s)",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=REPO_ROOT / "bench" / "results",
        help="where the raw results go as JSON (default: %(default)s)",
    )
    return parser


_STARTED: Final = time.perf_counter()


def _progress(message: str) -> None:
    """Print a progress line at once, with the seconds since the process started."""
    print(f"[{time.perf_counter() - _STARTED:6.1f} s] {message}", flush=True)


def _loopback_only_environment() -> None:
    """Make sure `requests` (Apprise, DingtalkChatbot) uses no proxy for 127.0.0.1."""
    for variable in PROXY_VARIABLES:
        os.environ.pop(variable, None)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


async def _run_all(sizes: Sizes, *, quick: bool, started: float) -> Results:
    """Run every benchmark in a temporary working folder."""
    machine = describe()
    with tempfile.TemporaryDirectory(prefix="dingtalk-bench-") as work:
        work_dir = Path(work)
        # --quick only: time the imports and the splitting in other interpreters
        # meanwhile, so that the smoke run stays short (its figures are not read).
        import_task = (
            asyncio.create_task(run_imports(sizes.import_runs, side_by_side=True))
            if quick
            else None
        )
        split_task = asyncio.create_task(run_split(sizes, work_dir)) if quick else None
        _progress("1/7 overhead of one notify call; an app robot and its tokens")
        overhead, app = await run_overhead(sizes, work_dir)
        _progress(f"2/7 burst of {sizes.burst_messages} messages (virtual time)")
        burst = await run_burst(sizes, work_dir, _progress)
        _progress(f"3/7 scale: {sizes.scale_robots} robots")
        scale = await run_scale(sizes, work_dir, _progress)
        _progress("4/7 durable queue: cost per message (virtual time)")
        persist = await run_persist(sizes, work_dir, _progress)
        _progress("5/7 receiving: latency, and after a disconnect frame")
        receive = await run_receive(sizes, work_dir)
        _progress("6/7 splitting 1 MB and 4 MB (today and previous)")
        split = (
            await split_task
            if split_task is not None
            else await run_split(sizes, work_dir)
        )
        _progress("7/7 import time")
        imports = (
            await import_task
            if import_task is not None
            else await run_imports(sizes.import_runs)
        )
    return Results(
        machine=machine,
        sizes=sizes,
        quick=quick,
        overhead=overhead,
        burst=burst,
        scale=scale,
        imports=imports,
        persist=persist,
        split=split,
        app=app,
        receive=receive,
        duration=time.perf_counter() - started,
    )


def _write(path: Path, text: str) -> None:
    """Write a text file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    _progress(f"wrote {path}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; write the report, the plot and the raw results."""
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    netguard.install()
    quiet_logs()
    _loopback_only_environment()
    sizes = QUICK if args.quick else FULL
    results = asyncio.run(_run_all(sizes, quick=args.quick, started=started))
    output: Path = args.output.resolve()
    svg: Path = args.svg.resolve()
    svg_link = os.path.relpath(svg, output.parent)
    _write(svg, render_svg(results.burst, results.overhead))
    _write(output, render(results, svg_link))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kind = "quick" if args.quick else "full"
    raw = json.dumps(dataclasses.asdict(results), indent=1, ensure_ascii=False)
    _write(args.results_dir / f"{stamp}-{kind}.json", raw + "\n")
    _progress(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
