"""Benchmark 3, continued: how long importing the integration takes.

Each measurement is a fresh interpreter that times ``import`` of the integration
and its notify platform (what Home Assistant imports when a robot loads):

- cold: nothing imported before, so it includes every Home Assistant module the
  integration pulls in (what a bare ``python -c "import …"`` pays);
- warm: after the Home Assistant modules a running instance has already loaded,
  which is what the integration adds to a real start; run with ``-X importtime``,
  whose lines give the self time of our own modules.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import sys
from typing import Final

from .remote import REPO_ROOT
from .stats import Summary

TIMEOUT: Final = 180.0
OUR_MODULES: Final = ("custom_components.dingtalk", "custom_components.dingtalk.notify")
HA_PRELOADED: Final = (
    "homeassistant.core",
    "homeassistant.config_entries",
    "homeassistant.helpers.aiohttp_client",
    "homeassistant.helpers.config_validation",
    "homeassistant.helpers.discovery",
    "homeassistant.helpers.entity_platform",
    "homeassistant.helpers.issue_registry",
    "homeassistant.helpers.storage",
    "homeassistant.components.notify",
    "homeassistant.components.http",
    "homeassistant.components.media_source",
    "homeassistant.components.conversation",
)
"""Modules a running Home Assistant has imported before it loads a custom one.

With ``default_config`` (what onboarding sets up): http is our dependency, and
media_source and conversation are after_dependencies of ours that it loads first.
"""
IMPORTTIME_FIELDS: Final = 3  # "self [us] | cumulative | imported package"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """Import times in milliseconds over ``runs`` fresh interpreters each."""

    cold_ms: Summary
    warm_ms: Summary
    own_ms: Summary
    runs: int


def import_script(*, warm: bool) -> str:
    """Return code that times importing our modules (after HA's, when warm)."""
    lines = ["import time"]
    if warm:
        lines += [f"import {module}" for module in HA_PRELOADED]
    lines += [
        "started = time.perf_counter()",
        *(f"import {module}" for module in OUR_MODULES),
        "print(time.perf_counter() - started)",
    ]
    return "\n".join(lines)


def own_self_seconds(importtime: str) -> float:
    """Sum the ``-X importtime`` self times of custom_components.* modules."""
    micros = 0
    for line in importtime.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == IMPORTTIME_FIELDS and fields[2].strip().startswith(
            "custom_components"
        ):
            micros += int(fields[0])
    return micros / 1e6


async def import_once(*, warm: bool) -> tuple[float, float]:
    """Time the import in a fresh interpreter; return (seconds, own self seconds)."""
    args = [sys.executable]
    if warm:
        args += ["-X", "importtime"]
    process = await asyncio.create_subprocess_exec(
        *args,
        "-c",
        import_script(warm=warm),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    if process.returncode != 0:
        raise RuntimeError(f"the import failed: {stderr.decode()[-500:]}")
    seconds = float(stdout.decode().split()[-1])
    return seconds, own_self_seconds(stderr.decode())


async def run_imports(runs: int, *, side_by_side: bool = False) -> ImportResult:
    """Time ``runs`` cold and ``runs`` warm imports, one interpreter at a time.

    ``side_by_side`` starts them all at once (``--quick`` only: faster, and the
    figures are not meant to be read).
    """
    if side_by_side:
        timings = await asyncio.gather(
            *(import_once(warm=warm) for warm in [False] * runs + [True] * runs)
        )
        cold = [seconds for seconds, _ in timings[:runs]]
        warm = list(timings[runs:])
    else:
        cold = [(await import_once(warm=False))[0] for _ in range(runs)]
        warm = [await import_once(warm=True) for _ in range(runs)]
    return ImportResult(
        cold_ms=Summary.of(seconds * 1000 for seconds in cold),
        warm_ms=Summary.of(seconds * 1000 for seconds, _ in warm),
        own_ms=Summary.of(own * 1000 for _, own in warm),
        runs=runs,
    )
