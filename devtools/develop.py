"""Development Home Assistant on config/ with the DingTalk emulator beside it.

Run it with ``scripts/develop``. Home Assistant loads custom_components/dingtalk
from the working tree through a symlink (config/custom_components/dingtalk,
gitignored); nothing is copied. Ctrl-C stops both processes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import signal
import sys
import time
from typing import TYPE_CHECKING, Final, NoReturn

from .emulator_process import EmulatorProcess, Robot
from .hass_process import HassProcess
from .process_util import (
    REPO_ROOT,
    HarnessError,
    http_request,
    port_is_free,
    wait_for,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

CONFIG_DIR: Final = REPO_ROOT / "config"
HASS_PORT: Final = 8123  # config/configuration.yaml: http.server_port
EMULATOR_PORT: Final = 8765
ROBOT_FILE: Final = ".dingtalk-dev-robot.json"
ROBOT_NAME: Final = "Dev robot"
START_TIMEOUT: Final = 180.0


def say(text: str = "") -> None:
    """Write one line to stdout at once."""
    sys.stdout.write(f"{text}\n")
    sys.stdout.flush()


def _raise_interrupt(signum: int, _frame: FrameType | None) -> NoReturn:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so that clean-up runs."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="scripts/develop",
        description=(
            "Run a development Home Assistant on the repository's config/ folder, "
            "with the DingTalk emulator and a demo robot beside it."
        ),
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=CONFIG_DIR,
        help="Home Assistant configuration folder (default: %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=HASS_PORT,
        help="Home Assistant's http.server_port in that folder's "
        "configuration.yaml (default: %(default)s)",
    )
    parser.add_argument(
        "--emulator-port",
        type=int,
        default=EMULATOR_PORT,
        help="port of the DingTalk emulator (default: %(default)s)",
    )
    return parser.parse_args(argv)


def load_robot(config_dir: Path) -> Robot:
    """Return the demo robot, created once and kept (gitignored) in the config."""
    path = config_dir / ROBOT_FILE
    try:
        data = json.loads(path.read_text("utf-8"))
        return Robot(str(data["token"]), str(data["secret"]), name=ROBOT_NAME)
    except OSError, ValueError, KeyError, TypeError:
        robot = Robot.generate(signed=True, name=ROBOT_NAME)
        payload = {"token": robot.token, "secret": robot.secret}
        path.write_text(json.dumps(payload, indent=2) + "\n", "utf-8")
        path.chmod(0o600)
        return robot


def needs_onboarding(hass: HassProcess) -> bool:
    """Return whether nobody has created the owner account yet."""
    steps = http_request("GET", f"{hass.base_url}/api/onboarding").json_list()
    return any(
        isinstance(step, dict) and step.get("step") == "user" and not step.get("done")
        for step in steps
    )


def banner(hass: HassProcess, emulator: EmulatorProcess, robot: Robot) -> None:
    """Print where everything is and how to add the demo robot."""
    say()
    say("=" * 72)
    say(f"Home Assistant:     {hass.base_url}/")
    if needs_onboarding(hass):
        say("                    first run: open it and create the owner account")
    say(f"DingTalk emulator:  {emulator.page_url}  (chat page; JSON API under /api)")
    say()
    say(f"Demo robot {ROBOT_NAME!r} (Settings > Devices & services > Add integration")
    say("> DingTalk):")
    say(f"  Webhook:  {emulator.webhook_url(robot.token)}")
    say(f"  Secret:   {robot.secret}")
    say("  Keywords: (none)")
    say()
    say("Integration code is loaded from the working tree: restart (Ctrl-C, then")
    say("scripts/develop again) after changing it. Ctrl-C stops both processes.")
    say("=" * 72)


def wait_initialized(config_dir: Path, timeout: float = 60.0) -> None:
    """Wait (bounded) until Home Assistant logs that it finished setting up.

    Without a token the API cannot tell; home-assistant.log can. The banner then
    comes after the start-up noise instead of scrolling away in it.
    """
    log = config_dir / "home-assistant.log"

    def probe() -> bool | None:
        try:
            text = log.read_text("utf-8", "replace")
        except OSError:
            return None
        return True if "Home Assistant initialized in" in text else None

    wait_for(probe, timeout=timeout, interval=0.5)


def check_ports(hass_port: int, emulator_port: int) -> None:
    """Fail early, and clearly, when a port is taken."""
    for port, what in ((hass_port, "Home Assistant"), (emulator_port, "emulator")):
        if not port_is_free(port):
            raise HarnessError(
                f"port {port} for the {what} is in use on 127.0.0.1; "
                "stop whatever uses it (another scripts/develop?) and retry"
            )


def wait_forever(hass: HassProcess, emulator: EmulatorProcess) -> int:
    """Sleep until Ctrl-C or until one of the processes exits."""
    while True:
        time.sleep(1.0)
        for name, code in (
            ("Home Assistant", hass.poll()),
            ("emulator", emulator.poll()),
        ):
            if code is not None:
                say(f"{name} exited with code {code}; stopping the other process.")
                return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the development environment; return the exit code."""
    args = parse_args(argv)
    # Ctrl-C even when started with SIGINT ignored (a background job of a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    config_dir: Path = args.config.resolve()
    if not (config_dir / "configuration.yaml").is_file():
        say(f"develop: {config_dir}/configuration.yaml is missing")
        return 1
    robot = load_robot(config_dir)
    emulator = EmulatorProcess([robot], port=args.emulator_port, log_path=None)
    hass = HassProcess(config_dir, port=args.port, console=True)
    code = 0
    try:
        check_ports(args.port, args.emulator_port)
        emulator.start()
        emulator.wait_until_up()
        hass.start()
        hass.wait_until_up(START_TIMEOUT)
        wait_initialized(config_dir)
        banner(hass, emulator, robot)
        code = wait_forever(hass, emulator)
    except KeyboardInterrupt:
        say()
        say("Stopping Home Assistant and the emulator…")
    except HarnessError as err:
        say(f"develop: {err}")
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not
        try:  # leave a process behind
            hass.stop()
        finally:
            emulator.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
