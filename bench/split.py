"""Benchmark 5: splitting a 1 MB and a 4 MB text message with ``prepare()``.

Beside today's ``custom_components.dingtalk.api.prepare``, the previous one: its
source is taken from git (``git show 2c24d51:…/prepare.py``) into the benchmark's
temporary folder at run time, never into the package, and loaded there by the
child (``bench.split_child``), a fresh interpreter that times both on the same
messages, taking turns. A call that takes longer than ``split_timeout`` is stopped
and reported as such. Without git or that commit, only today's is timed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import json
import sys
from typing import TYPE_CHECKING, Final

from .remote import REPO_ROOT, child_env
from .split_child import PREVIOUS, TODAY
from .stats import Summary

if TYPE_CHECKING:
    from pathlib import Path

    from .config import Sizes

PREVIOUS_COMMIT: Final = "2c24d51"
PREPARE_PATH: Final = "custom_components/dingtalk/api/prepare.py"
GIT_TIMEOUT: Final = 30.0
START_SECONDS: Final = 120.0
"""What the child may take besides the timed calls (importing, building texts)."""


@dataclass(frozen=True, slots=True)
class SplitTiming:
    """One implementation on one message."""

    seconds: Summary | None  # None: no call finished within the timeout
    timed_out: bool
    parts: int | None
    digest: str | None


@dataclass(frozen=True, slots=True)
class SplitRow:
    """One message, both implementations."""

    shape: str
    size: int  # bytes of UTF-8 text
    today: SplitTiming
    previous: SplitTiming | None  # None: the previous source was not available

    @property
    def same_parts(self) -> bool | None:
        """Whether both made the same parts (None: not both finished)."""
        if self.previous is None or self.previous.digest is None:
            return None
        return self.previous.digest == self.today.digest


@dataclass(frozen=True, slots=True)
class SplitResult:
    """Every message's row, and how they were timed."""

    rows: list[SplitRow]
    runs: int
    timeout: float
    previous_commit: str
    previous_missing: str | None  # why the previous one was not timed


async def previous_source(work_dir: Path) -> tuple[Path | None, str | None]:
    """Write the previous prepare.py into ``work_dir``; return it, or why not."""
    try:
        process = await asyncio.create_subprocess_exec(
            "git",
            "show",
            f"{PREVIOUS_COMMIT}:{PREPARE_PATH}",
            cwd=REPO_ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), GIT_TIMEOUT)
    except (OSError, TimeoutError) as err:
        return None, f"git failed: {err}"
    if process.returncode != 0:
        return None, stderr.decode(errors="replace").strip() or "git failed"
    folder = work_dir / "previous-prepare"
    folder.mkdir(exist_ok=True)
    path = folder / f"prepare_{PREVIOUS_COMMIT}.py"
    path.write_bytes(stdout)
    return path, None


def _timing(raw: dict[str, object]) -> SplitTiming:
    """Read one line of the child's output."""
    seconds = raw["seconds"]
    values = [float(v) for v in seconds] if isinstance(seconds, list) else []
    parts = raw.get("parts")
    found = raw.get("digest")
    return SplitTiming(
        seconds=Summary.of(v * 1000 for v in values) if values else None,
        timed_out=bool(raw.get("timed_out")),
        parts=parts if isinstance(parts, int) else None,
        digest=found if isinstance(found, str) else None,
    )


def rows_of(lines: list[dict[str, object]]) -> list[SplitRow]:
    """Pair the child's lines into one row per message, in their order."""
    cases: dict[tuple[str, int], dict[str, SplitTiming]] = {}
    for raw in lines:
        shape, size = str(raw["shape"]), raw["bytes"]
        if not isinstance(size, int):
            raise TypeError(f"bad size in {raw}")
        cases.setdefault((shape, size), {})[str(raw["implementation"])] = _timing(raw)
    return [
        SplitRow(shape, size, timings[TODAY], timings.get(PREVIOUS))
        for (shape, size), timings in cases.items()
    ]


async def run_split(sizes: Sizes, work_dir: Path) -> SplitResult:
    """Time both implementations in a fresh interpreter."""
    previous, missing = await previous_source(work_dir)
    args = [
        sys.executable,
        "-m",
        "bench.split_child",
        "--runs",
        str(sizes.split_runs),
        "--timeout",
        str(sizes.split_timeout),
    ]
    if previous is not None:
        args += ["--previous", str(previous)]
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=REPO_ROOT,
        env=child_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    # Every call is bounded by the timeout: 4 messages, 2 implementations.
    bound = START_SECONDS + 8 * sizes.split_runs * sizes.split_timeout
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), bound)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"the split child failed: {stderr.decode()[-800:]}")
    lines = [json.loads(line) for line in stdout.decode().splitlines() if line]
    return SplitResult(
        rows=rows_of(lines),
        runs=sizes.split_runs,
        timeout=sizes.split_timeout,
        previous_commit=PREVIOUS_COMMIT,
        previous_missing=missing,
    )
