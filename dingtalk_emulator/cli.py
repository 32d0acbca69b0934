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
from .app_models import AppConfig, AppSettings, Group, Person
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


def parse_app(spec: str) -> AppConfig:
    """Parse CLIENT_ID:SECRET[:ROBOT_CODE] (robotCode defaults to the client id)."""
    client_id, _, rest = spec.partition(":")
    secret, _, robot_code = rest.partition(":")
    return AppConfig(client_id=client_id, client_secret=secret, robot_code=robot_code)


def parse_user(spec: str) -> Person:
    """Parse USER_ID:NAME[:MOBILE]."""
    user_id, _, rest = spec.partition(":")
    name, _, mobile = rest.partition(":")
    return Person(user_id=user_id, name=name, mobile=mobile)


def parse_group(spec: str, all_apps: Sequence[str]) -> Group:
    """Parse CID:TITLE:user1,user2[:client_id,…] (no client ids: every app's robot)."""
    parts = spec.split(":", 3)
    if len(parts) < 3:  # noqa: PLR2004 - CID, TITLE and members are required
        raise ValueError(f"--group {spec!r}: expected CID:TITLE:user1,user2")
    robots = [r for r in parts[3].split(",") if r] if len(parts) > 3 else all_apps  # noqa: PLR2004
    return Group(
        open_conversation_id=parts[0],
        title=parts[1],
        members=tuple(u for u in parts[2].split(",") if u),
        robots=tuple(robots),
    )


def load_apps_file(path: Path) -> tuple[list[AppConfig], list[Person], list[Group]]:
    """Read {"apps": [...], "users": [...], "groups": [...]} (each optional)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise TypeError('expected {"apps": [...], "users": [...], "groups": [...]}')
    lists = [data.get(key, []) for key in ("apps", "users", "groups")]
    if not all(
        isinstance(v, list) and all(isinstance(i, dict) for i in v) for v in lists
    ):
        raise TypeError("apps, users and groups must be lists of objects")
    apps, users, groups = lists
    return (
        [AppConfig.from_dict(a) for a in apps],
        [Person.from_dict(u) for u in users],
        [Group.from_dict(g) for g in groups],
    )


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m dingtalk_emulator",
        description="A local DingTalk (custom-robot webhook, app robots, Stream mode) "
        "for tests and demos.",
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
        "--app",
        action="append",
        default=[],
        metavar="CLIENT_ID:SECRET[:ROBOT_CODE]",
        help="add an enterprise app with a robot (repeatable)",
    )
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="USER_ID:NAME[:MOBILE]",
        help="add a person to the organisation (repeatable)",
    )
    parser.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="CID:TITLE:user1,user2[:client_id,…]",
        help="add a group (repeatable); without client ids every app's robot is in it",
    )
    parser.add_argument(
        "--apps-file",
        type=Path,
        help='JSON: {"apps": [{"client_id", "client_secret", "robot_code", "name", '
        '"published", "permissions"}], "users": [{"user_id", "name", "mobile", '
        '"admin"}], "groups": [{"open_conversation_id", "title", "members", '
        '"robots"}]}',
    )
    parser.add_argument(
        "--app-qps",
        type=int,
        default=AppSettings().qps_limit,
        help="app API calls per app per second before HTTP 403; 0 = no limit "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--person-flow-limit",
        type=int,
        default=AppSettings().flow_limit,
        help="messages an app may send one person per window before DingTalk puts "
        "them in flowControlledStaffIdList; 0 = no limit (default: %(default)s)",
    )
    parser.add_argument(
        "--person-flow-window",
        type=float,
        default=AppSettings().flow_window,
        help="seconds of that per-person window (default: %(default)s)",
    )
    parser.add_argument(
        "--ack-timeout",
        type=float,
        default=AppSettings().ack_timeout,
        help="seconds before an un-ACKed Stream callback is pushed again "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--ping-interval",
        type=float,
        default=AppSettings().ping_interval,
        help="seconds between Stream SYSTEM pings; 0 = none (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, help="seed of the RNG that picks a Stream connection"
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
    settings = AppSettings(
        qps_limit=args.app_qps or None,
        flow_limit=args.person_flow_limit or None,
        flow_window=args.person_flow_window,
        ack_timeout=args.ack_timeout,
        ping_interval=args.ping_interval or None,
        seed=args.seed,
    )
    emulator = Emulator(
        clock,
        wording=args.wording,
        token_error_code=args.token_error_code,
        rate_limit_code=args.rate_limit_code,
        app_settings=settings,
    )
    robots = [parse_robot(spec) for spec in args.robot]
    if args.robots_file is not None:
        robots.extend(load_robots_file(args.robots_file))
    for robot in robots:
        emulator.add_robot(robot)
    apps = [parse_app(spec) for spec in args.app]
    users = [parse_user(spec) for spec in args.user]
    groups: list[Group] = []
    if args.apps_file is not None:
        more_apps, more_users, groups = load_apps_file(args.apps_file)
        apps += more_apps
        users += more_users
    for app in apps:
        emulator.apps.add_app(app)
    for user in users:
        emulator.apps.add_person(user)
    client_ids = [app.client_id for app in apps]
    groups += [parse_group(spec, client_ids) for spec in args.group]
    for group in groups:
        emulator.apps.add_group(group)
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
        lines += _app_lines(server, emulator)
        lines.append("Stop with Ctrl+C.")
    out.write("\n".join(lines) + "\n")
    out.flush()


def _app_lines(server: EmulatorServer, emulator: Emulator) -> list[str]:
    """Describe the apps, people and groups for the banner (no secrets)."""
    apps = emulator.apps
    if not apps.apps:
        return []
    lines = [
        f"  app {app.name or app.client_id} (client id {app.client_id}, robotCode "
        f"{app.robot_code}{'' if app.published else ', unpublished'})"
        for app in apps.apps
    ]
    lines.append(
        f"  app APIs (api. and oapi.dingtalk.com): {server.base_url}; Stream: "
        f"{server.base_url}/v1.0/gateway/connections/open; "
        f"{len(apps.people)} user(s), {len(apps.groups)} group(s)"
    )
    return lines


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
    except KeyError as err:  # an unknown person or app in a group
        parser.error(str(err.args[0]))
    except (OSError, TypeError, ValueError) as err:
        parser.error(str(err))
    return asyncio.run(run(args, emulator))
