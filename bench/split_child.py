"""Time ``prepare()`` on long text messages, today's and a previous version's.

``python -m bench.split_child --previous FILE --runs N --timeout S`` builds each
message of ``CASES``, then times ``prepare(message)`` ``N`` times with each
implementation, taking turns, and prints one JSON object per case and
implementation. FILE is a previous ``prepare.py`` (from git); it is loaded as a
module of ``custom_components.dingtalk.api`` so that its relative imports find
today's models. A call that takes longer than S seconds is stopped (SIGALRM) and
that implementation is not timed again for the case.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
from pathlib import Path
import signal
import sys
import time
from typing import TYPE_CHECKING, Any, Final

from custom_components.dingtalk.api import Text, prepare, serialize_payload

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import FrameType

    from custom_components.dingtalk.api import Message

type Prepare = Callable[[Message], list[Message]]

MEGABYTE: Final = 1_000_000
LONG_LINE: Final = "one long line"
SHORT_LINES: Final = "many short lines"
CASES: Final = tuple(
    (shape, size)
    for shape in (LONG_LINE, SHORT_LINES)
    for size in (MEGABYTE, 4 * MEGABYTE)
)
TODAY: Final = "today"
PREVIOUS: Final = "previous"
PREVIOUS_MODULE: Final = "custom_components.dingtalk.api._bench_previous_prepare"
LINE: Final = "2026-11-29 08:06:01 厨房 kitchen: temperature 23.5 °C, humidity 41 %\n"


class _TimedOutError(Exception):
    """A prepare() call took longer than the timeout."""


def body(shape: str, size: int) -> str:
    """Return a text of exactly ``size`` UTF-8 bytes, of one line or many."""
    unit = LINE if shape == SHORT_LINES else LINE.replace("\n", " ")
    raw = (unit * (size // len(unit.encode()) + 1)).encode()[:size]
    text = raw.decode(errors="ignore")
    return text + "x" * (size - len(text.encode()))


def load_previous(path: Path) -> Prepare:
    """Load a previous prepare.py as a module of today's api package."""
    spec = importlib.util.spec_from_file_location(PREVIOUS_MODULE, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[PREVIOUS_MODULE] = module
    spec.loader.exec_module(module)
    previous: Prepare = module.prepare
    return previous


def digest(parts: Sequence[Message]) -> str:
    """Return a short hash of the parts' payloads (equal parts, equal hash)."""
    hashed = hashlib.sha256()
    for part in parts:
        hashed.update(serialize_payload(part.to_payload()) + b"\n")
    return hashed.hexdigest()[:16]


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    """Stop the call in progress."""
    raise _TimedOutError


def _time_once(
    implementation: Prepare, message: Message, timeout: float
) -> tuple[float, list[Message]] | None:
    """Return seconds and parts of one call; None when it was stopped."""
    signal.setitimer(signal.ITIMER_REAL, timeout)
    started = time.perf_counter()
    try:
        parts = implementation(message)
    except _TimedOutError:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return time.perf_counter() - started, parts


def run_case(
    implementations: dict[str, Prepare],
    case: tuple[str, int],
    runs: int,
    timeout: float,
) -> list[dict[str, Any]]:
    """Time every implementation on one message, taking turns."""
    shape, size = case
    message = Text(content=body(shape, size), msg_uuid="bench-split")
    results: dict[str, dict[str, Any]] = {
        name: {
            "shape": shape,
            "bytes": size,
            "implementation": name,
            "seconds": [],
            "timed_out": False,
            "parts": None,
            "digest": None,
        }
        for name in implementations
    }
    for _ in range(runs):
        for name, implementation in implementations.items():
            result = results[name]
            if result["timed_out"]:
                continue
            timed = _time_once(implementation, message, timeout)
            if timed is None:
                result["timed_out"] = True
                continue
            seconds, parts = timed
            result["seconds"].append(seconds)
            result["parts"], result["digest"] = len(parts), digest(parts)
    return list(results.values())


def main(argv: Sequence[str] | None = None) -> int:
    """Time every case; print one JSON line per case and implementation."""
    parser = argparse.ArgumentParser(prog="python -m bench.split_child")
    parser.add_argument("--previous", type=Path)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGALRM, _alarm)
    implementations: dict[str, Prepare] = {TODAY: prepare}
    if args.previous is not None:
        implementations[PREVIOUS] = load_previous(args.previous)
    for case in CASES:
        for result in run_case(implementations, case, args.runs, args.timeout):
            sys.stdout.write(json.dumps(result) + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
