"""The command line: ``python -m dingtalk_emulator``."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
import signal
import sys
import time
from typing import TYPE_CHECKING, TextIO

from . import codes
from .clock import ManualClock, SystemClock
from .emulator import Emulator
from .models import RobotConfig

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .server import EmulatorServer

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def parse_robot(spec: str) -> RobotConfig:
    """Parse TOKEN[:SECRET[:kw1,kw2]] (an empty SECRET means unsigned)."""
    token, _, rest = spec.partition(":")
    secret, _, keywords = rest.partition(":")
    return RobotConfig(
        access_token=token,
        secret=secret or None,
        keywords=tuple(word for word in keywords.split(",") if word),
    )


def load_robots_file(path: Path) -> list[RobotConfig]:
    """Read robots from JSON: a list of robots, or {"robots": [...]}."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("robots")
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise TypeError('expected a list of robots or {"robots": [...]}')
    return [RobotConfig.from_dict(robot) for robot in data]


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m dingtalk_emulator",
        description="A local DingTalk custom-robot webhook for tests and demos.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="default: %(default)s")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="0 = any free port"
    )
    parser.add_argument(
        "--robot",
        action="append",
        default=[],
        metavar="TOKEN[:SECRET[:kw1,kw2]]",
        help="add a robot (repeatable); an empty SECRET means no signing",
    )
    parser.add_argument(
        "--robots-file",
        type=Path,
        help='JSON: [{"access_token": …, "secret": …, "keywords": […], '
        '"ip_allowlist": […], "name": …, "state": …}]',
    )
    parser.add_argument(
        "--print-url",
        action="store_true",
        help="print only URLs: the base URL on the first line, then one webhook "
        "URL per robot",
    )
    parser.add_argument(
        "--wording",
        choices=[w.value for w in codes.Wording],
        default=codes.DEFAULT_WORDING.value,
        help="errmsg style: zh = description:…;solution:… (default), en = older",
    )
    parser.add_argument(
        "--token-error-code",
        type=int,
        choices=sorted(codes.TOKEN_ERRORS),
        default=codes.DEFAULT_TOKEN_ERROR,
    )
    parser.add_argument(
        "--rate-limit-code",
        type=int,
        choices=sorted(codes.RATE_LIMIT_ERRORS),
        default=codes.DEFAULT_RATE_LIMIT_ERROR,
    )
    parser.add_argument(
        "--manual-clock",
        action="store_true",
        help="start a manual clock at the current time (POST /api/clock/advance)",
    )
    return parser


def build_emulator(args: argparse.Namespace) -> Emulator:
    """Create the emulator and its robots from parsed arguments."""
    clock = ManualClock(time.time()) if args.manual_clock else SystemClock()
    emulator = Emulator(
        clock,
        wording=args.wording,
        token_error_code=args.token_error_code,
        rate_limit_code=args.rate_limit_code,
    )
    robots = [parse_robot(spec) for spec in args.robot]
    if args.robots_file is not None:
        robots.extend(load_robots_file(args.robots_file))
    for robot in robots:
        emulator.add_robot(robot)
    return emulator


def print_banner(
    server: EmulatorServer, emulator: Emulator, *, urls_only: bool, out: TextIO
) -> None:
    """Print the base URL and every robot's webhook URL."""
    if urls_only:
        lines = [server.base_url]
        lines += [server.webhook_url(r.access_token) for r in emulator.robots]
    else:
        lines = [f"DingTalk emulator: {server.base_url}/ (chat page and /api)"]
        for robot in emulator.robots:
            security = ["signed"] if robot.secret is not None else []
            security += (
                [f"keywords={','.join(robot.keywords)}"] if robot.keywords else []
            )
            lines.append(
                f"  robot {robot.name or robot.fingerprint} "
                f"[{' '.join(security) or 'no security'}]: "
                f"{server.webhook_url(robot.access_token)}"
            )
        if not emulator.robots:
            lines.append("  no robots yet: use --robot or POST /api/robots")
        lines.append("Stop with Ctrl+C.")
    out.write("\n".join(lines) + "\n")
    out.flush()


async def run(
    args: argparse.Namespace, emulator: Emulator, *, out: TextIO = sys.stdout
) -> int:
    """Serve until SIGINT or SIGTERM; return the exit status."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        async with emulator.serve(args.host, args.port) as server:
            print_banner(server, emulator, urls_only=args.print_url, out=out)
            await stop.wait()
    except OSError as err:
        sys.stderr.write(f"cannot listen on {args.host}:{args.port}: {err}\n")
        return 1
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator from the command line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        emulator = build_emulator(args)
    except (OSError, TypeError, ValueError) as err:
        parser.error(str(err))
    return asyncio.run(run(args, emulator))
