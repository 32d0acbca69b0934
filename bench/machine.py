"""Describe the machine and the software a benchmark ran on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
import os
from pathlib import Path
import platform
from typing import Final

CPUINFO: Final = Path("/proc/cpuinfo")
MEMINFO: Final = Path("/proc/meminfo")
MOUNTS: Final = Path("/proc/mounts")
PACKAGES: Final = (
    "homeassistant",
    "aiohttp",
    "pytest-homeassistant-custom-component",
    "apprise",
    "dingtalkchatbot",
    "requests",
)


@dataclass(frozen=True, slots=True)
class Machine:
    """CPU, memory, operating system, versions and when the run started."""

    cpu: str
    cores: int
    memory_gib: float
    system: str
    python: str
    packages: dict[str, str]
    load_average: tuple[float, float, float] | None
    started: str


def _cpu_model() -> str:
    """Return the CPU model name (from /proc/cpuinfo on Linux)."""
    try:
        for line in CPUINFO.read_text("utf-8").splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name":
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _memory_gib() -> float:
    """Return the total memory in GiB (from /proc/meminfo on Linux)."""
    try:
        for line in MEMINFO.read_text("utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def _version(package: str) -> str:
    """Return an installed package's version."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe() -> Machine:
    """Describe this machine now."""
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return Machine(
        cpu=_cpu_model(),
        cores=os.cpu_count() or 0,
        memory_gib=_memory_gib(),
        system=platform.platform(),
        python=platform.python_version(),
        packages={package: _version(package) for package in PACKAGES},
        load_average=load,
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def filesystem_of(path: Path) -> str:
    """Return the type of the file system ``path`` is on (from /proc/mounts)."""
    resolved = path.resolve()
    best, kind = -1, "unknown"
    try:
        lines = MOUNTS.read_text("utf-8").splitlines()
    except OSError:
        return kind
    for line in lines:
        fields = line.split()
        if len(fields) < 3:  # noqa: PLR2004 - device, mount point, type
            continue
        mount = Path(fields[1].replace("\\040", " "))
        if resolved.is_relative_to(mount) and len(mount.parts) > best:
            best, kind = len(mount.parts), fields[2]
    return kind
