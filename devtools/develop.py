"""Development Home Assistant on config/ with the DingTalk emulator beside it.

Run it with ``scripts/develop``. Home Assistant loads custom_components/dingtalk
from the working tree through a symlink (config/custom_components/dingtalk,
gitignored); nothing is copied. Both processes write their output into files in
the config folder, so that the banner, printed last, says all that is needed:
where to log in, the demo robot, and where the logs are. Ctrl-C stops both.

On the first start it onboards a development user ("dev", password kept in
config/.dingtalk-dev-user.json) and logs in as it later, so that it can confirm
the HTTP config in time: Home Assistant 2026.10 moves the http: block of
configuration.yaml into .storage/http as a pending config and reverts to every
interface, port 8123, unless an administrator confirms it within five minutes.
Onboarding is finished completely but for what reaches the internet (see
devtools.onboarding): whoever opens Home Assistant gets the dashboard after login.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import json
from pathlib import Path
import secrets
import shutil
import signal
import sys
import textwrap
import time
from typing import TYPE_CHECKING, Any, Final

import yaml

from .emulator_process import EmulatorProcess, Robot
from .hass_process import (
    HTTP_STORE,
    HassProcess,
    HttpBinding,
    HttpStoreError,
    LoginError,
    check_http_store,
    stored_http_binding,
)
from .onboarding import finish_local_onboarding_steps
from .process_util import (
    LOOPBACK,
    REPO_ROOT,
    HarnessError,
    http_request,
    interrupt_on_signals,
    port_is_free,
    say,
    wait_for,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

CONFIG_DIR: Final = REPO_ROOT / "config"
HASS_PORT: Final = 8123  # config/configuration.yaml: http.server_port
EMULATOR_PORT: Final = 8765
ROBOT_FILE: Final = ".dingtalk-dev-robot.json"
ROBOT_NAME: Final = "Dev robot"
USER_FILE: Final = ".dingtalk-dev-user.json"
USERNAME: Final = "dev"
HASS_LOG: Final = "home-assistant.log"  # written by Home Assistant itself
HASS_OUTPUT: Final = "hass-output.log"  # its console: also what precedes logging
EMULATOR_LOG: Final = "dingtalk-emulator.log"
START_TIMEOUT: Final = 180.0
RESTART_EXIT_CODE: Final = 100  # homeassistant.const.RESTART_EXIT_CODE
# What --reset removes: Home Assistant's state, not configuration.yaml, the demo
# robot, the integration's symlink or the logs.
STATE: Final = (
    ".storage",
    ".HA_VERSION",
    "home-assistant_v2.db",
    "home-assistant_v2.db-shm",
    "home-assistant_v2.db-wal",
    USER_FILE,
)


class _YamlLoader(yaml.SafeLoader):
    """A safe loader that reads Home Assistant's tags (!secret, !include) as null."""


def _ignore_tag(_loader: yaml.SafeLoader, _suffix: str, _node: yaml.Node) -> None:
    """Read a tagged value as null."""


_YamlLoader.add_multi_constructor("!", _ignore_tag)


@dataclass(frozen=True, slots=True)
class DevUser:
    """The development user develop onboards and logs in as."""

    username: str
    password: str


@dataclass(frozen=True, slots=True)
class SignIn:
    """The development user develop logged in as, or why it did not."""

    user: DevUser | None
    reason: str = ""


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
    parser.add_argument(
        "--reset",
        action="store_true",
        help="start over: remove Home Assistant's state from the configuration "
        f"folder first (users, config entries, history, {HTTP_STORE})",
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


def load_user(config_dir: Path) -> DevUser | None:
    """Return the development user kept in the config, if any."""
    try:
        data = json.loads((config_dir / USER_FILE).read_text("utf-8"))
        return DevUser(str(data["username"]), str(data["password"]))
    except OSError, ValueError, KeyError, TypeError:
        return None


def create_user(config_dir: Path) -> DevUser:
    """Make up the development user and keep it (gitignored) in the config."""
    user = DevUser(USERNAME, secrets.token_urlsafe(12))
    path = config_dir / USER_FILE
    payload = {"username": user.username, "password": user.password}
    path.write_text(json.dumps(payload, indent=2) + "\n", "utf-8")
    path.chmod(0o600)
    return user


def wait_until_serving(hass: HassProcess, timeout: float = START_TIMEOUT) -> bool:
    """Wait until Home Assistant answers; return whether it still needs an owner.

    HassProcess.wait_until_up and needs_onboarding ask /api/onboarding, which
    Home Assistant serves only until onboarding is complete: once develop has
    finished it (devtools.onboarding), later starts answer 404 there. The login
    providers answer either way: 200, or 400 until the owner exists.
    """

    def probe() -> bool | None:
        try:
            onboarding = http_request(
                "GET", f"{hass.base_url}/api/onboarding", timeout=2.0, check=False
            )
            if onboarding.status == 200:  # noqa: PLR2004 - HTTP OK
                return any(
                    isinstance(step, dict)
                    and step.get("step") == "user"
                    and not step.get("done")
                    for step in onboarding.json_list()
                )
            providers = http_request(
                "GET", f"{hass.base_url}/auth/providers", timeout=2.0, check=False
            )
        except OSError:
            return None
        return False if providers.status == 200 else None  # noqa: PLR2004

    def alive() -> None:
        code = hass.poll()
        if code is not None:
            raise HarnessError(
                f"Home Assistant exited with code {code} during start-up; "
                f"see {hass.log_hint}"
            )

    needs_owner = wait_for(probe, timeout=timeout, interval=0.2, alive=alive)
    if needs_owner is None:
        raise HarnessError(
            f"Home Assistant did not start within {timeout:.0f} s; see {hass.log_hint}"
        )
    return needs_owner


def sign_in(hass: HassProcess, config_dir: Path, *, needs_owner: bool) -> SignIn:
    """Onboard as the development user on a first start, log in as it later."""
    user = load_user(config_dir)
    if needs_owner:
        user = user or create_user(config_dir)
        hass.onboard(username=user.username, password=user.password, name="Developer")
        return SignIn(user)
    if user is None:
        return SignIn(
            None,
            "somebody else onboarded this Home Assistant: there is no development "
            f"user ({USER_FILE}) to log in as",
        )
    try:
        hass.login(user.username, user.password)
    except LoginError as err:
        return SignIn(None, f"the development user of {USER_FILE} cannot log in: {err}")
    return SignIn(user)


def revert_target(config_dir: Path) -> HttpBinding | None:
    """Return what an HTTP config on trial would revert to; None: none on trial."""
    try:
        data = json.loads((config_dir / HTTP_STORE).read_text("utf-8"))["data"]
        pending, stable = data["pending"], data["stable"]
    except OSError, ValueError, KeyError, TypeError:
        return None
    if not isinstance(pending, dict) or pending.get("error") is not None:
        return None
    return HttpBinding.of(stable if isinstance(stable, dict) else {})


def confirm_http_config(hass: HassProcess, signed: SignIn) -> str | None:
    """Confirm the HTTP config if logged in; else return a notice if it has to be."""
    how = (
        f"Open {hass.base_url}/ now, log in as an administrator and press Confirm "
        'in the dialog "Confirm new HTTP server configuration". Or stop and run '
        "scripts/develop --reset to start over: develop then creates the user "
        f"{USERNAME!r} and confirms the config itself."
    )
    if signed.user is not None:
        try:
            hass.confirm_http_config()
        except HarnessError as err:
            return f"develop could not confirm the HTTP config: {err}. {how}"
        return None
    target = revert_target(hass.config_dir)
    if target is None:
        return None
    return (
        "Home Assistant is trying the http: block of configuration.yaml, which it "
        f"moved into {HTTP_STORE}, and goes back to its previous HTTP config "
        f"({target}) and restarts unless an administrator confirms it within five "
        f"minutes of this start. develop cannot: {signed.reason}. {how}"
    )


def wrap(text: str, indent: str = "  ") -> None:
    """Print a paragraph wrapped to the banner's width."""
    lines = textwrap.wrap(
        text, width=72 - len(indent), break_long_words=False, break_on_hyphens=False
    )
    for line in lines:
        say(f"{indent}{line}")


def banner(
    hass: HassProcess,
    emulator: EmulatorProcess,
    robot: Robot,
    user: DevUser | None,
    notice: str | None,
) -> None:
    """Print where everything is and how to add the demo robot."""
    say()
    say("=" * 72)
    say(f"Home Assistant:     {hass.base_url}/")
    say(f"  log:              {hass.config_dir / HASS_LOG}")
    if user is not None:
        say(f"  log in as:        {user.username} / {user.password}")
        say(f"                    (kept in {hass.config_dir / USER_FILE})")
    else:
        say("  log in as:        your own account")
    if notice is None:
        say(f"  HTTP config:      {LOOPBACK} alone, port {hass.port} (confirmed)")
    say(f"DingTalk emulator:  {emulator.page_url}  (chat page; JSON API under /api)")
    say(f"  log:              {emulator.log_path}")
    say()
    say(f"Demo robot {ROBOT_NAME!r} (Settings > Devices & services > Add integration")
    say("> DingTalk):")
    say(f"  Webhook:  {emulator.webhook_url(robot.token)}")
    say(f"  Secret:   {robot.secret}")
    say("  Keywords: (none)")
    say()
    say("Integration code is loaded from the working tree: restart (Ctrl-C, then")
    say("scripts/develop again) after changing it. Ctrl-C stops both processes.")
    if notice is not None:
        say()
        say("HTTP CONFIG NOT CONFIRMED:")
        wrap(notice)
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


def yaml_binding(config_dir: Path) -> HttpBinding | None:
    """Return the binding of configuration.yaml's http: block; None if unknown."""
    try:
        text = (config_dir / "configuration.yaml").read_text("utf-8")
        config: Any = yaml.load(text, Loader=_YamlLoader)  # noqa: S506 - safe loader
    except OSError, yaml.YAMLError:
        return None
    if not isinstance(config, dict):
        return None
    http = config.get("http", {})  # no http: block - the defaults
    return HttpBinding.of(http) if isinstance(http, dict) else None


def check_binding(config_dir: Path, port: int) -> None:
    """Fail unless Home Assistant is going to serve on 127.0.0.1:``port`` alone."""
    check_http_store(config_dir, port)  # once moved there, the store decides
    if stored_http_binding(config_dir) is not None:
        return
    binding = yaml_binding(config_dir)
    if binding is not None and not binding.is_loopback(port):
        raise HarnessError(
            f"{config_dir / 'configuration.yaml'} makes Home Assistant listen on "
            f"{binding}, not on {LOOPBACK} alone, port {port}: set http: server_host: "
            f"{LOOPBACK} and server_port: {port} there (or pass its port as --port)"
        )


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
                log = hass.log_path if name == "Home Assistant" else emulator.log_path
                say(
                    f"{name} exited with code {code} (see {log}); "
                    "stopping the other process."
                )
                if name == "Home Assistant" and code == RESTART_EXIT_CODE:
                    say("(it asked to be restarted: run scripts/develop again)")
                return 1


def reset(config_dir: Path) -> None:
    """Remove Home Assistant's state from the config folder (see STATE)."""
    for name in STATE:
        path = config_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        else:
            continue
        say(f"develop --reset: removed {path}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the development environment; return the exit code."""
    args = parse_args(argv)
    interrupt_on_signals()
    config_dir: Path = args.config.resolve()
    if not (config_dir / "configuration.yaml").is_file():
        say(f"develop: {config_dir}/configuration.yaml is missing")
        return 1
    robot = load_robot(config_dir)
    # The demo robot is added through the API: only that way does the emulator
    # know its name (its --robot option takes a token, secret and keywords).
    emulator = EmulatorProcess(
        port=args.emulator_port, log_path=config_dir / EMULATOR_LOG
    )
    hass = HassProcess(config_dir, port=args.port, log_path=config_dir / HASS_OUTPUT)
    code = 0
    try:
        check_ports(args.port, args.emulator_port)
        if args.reset:
            reset(config_dir)
        check_binding(config_dir, args.port)
        finish_local_onboarding_steps(config_dir)
        say(
            f"develop: starting the DingTalk emulator and Home Assistant (logs in "
            f"{config_dir}); the banner follows when both are ready…"
        )
        emulator.start()
        emulator.wait_until_up()
        emulator.add_robot(robot)
        hass.start()
        needs_owner = wait_until_serving(hass)
        signed = sign_in(hass, config_dir, needs_owner=needs_owner)
        wait_initialized(config_dir)
        notice = confirm_http_config(hass, signed)
        banner(hass, emulator, robot, signed.user, notice)
        code = wait_forever(hass, emulator)
    except KeyboardInterrupt:
        say()
        say("Stopping Home Assistant and the emulator…")
    except HttpStoreError as err:
        say(f"develop: {err}.")
        say(
            "Run scripts/develop --reset to start over from configuration.yaml (this "
            f"removes Home Assistant's state in {config_dir}) or, if the store names "
            f"{LOOPBACK} alone, pass its port as --port."
        )
        code = 1
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
