"""The emulator without a rate limit, in a child process (overhead and CPU runs).

``python -m bench.emulator_child --robots N`` serves N signed bench robots and the
bench apps (``bench.app_robots``, without DingTalk's app limits) on 127.0.0.1 and
a free port, prints its base URL on one line, and stops when its standard input
closes. A separate process keeps the emulator's own work out of the
measured process's CPU time and lets it run on the other core, as DingTalk would.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from .app_robots import UNLIMITED_APPS, add_bench_apps
from .robots import LOOPBACK, UNLIMITED, make_emulator

if TYPE_CHECKING:
    from collections.abc import Sequence


async def _serve(robots: int) -> None:
    """Serve until standard input reaches its end."""
    emulator = make_emulator(robots, rate_limit=UNLIMITED, app_settings=UNLIMITED_APPS)
    add_bench_apps(emulator)
    async with emulator.serve(LOOPBACK, 0) as server:
        sys.stdout.write(f"{server.base_url}\n")
        sys.stdout.flush()
        await asyncio.to_thread(sys.stdin.read)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and serve."""
    parser = argparse.ArgumentParser(prog="python -m bench.emulator_child")
    parser.add_argument("--robots", type=int, default=1)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.robots))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
