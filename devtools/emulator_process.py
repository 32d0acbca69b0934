"""The DingTalk emulator as a child process, and a client for its JSON API."""

from __future__ import annotations

from dataclasses import dataclass
import secrets
import time
from typing import TYPE_CHECKING, Any, Final, Self
import urllib.parse

from .process_util import (
    LOOPBACK,
    REPO_ROOT,
    ChildProcess,
    HarnessError,
    child_env,
    free_port,
    http_request,
    python_executable,
    start_process,
    wait_for,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

START_TIMEOUT: Final = 20.0
STOP_TIMEOUT: Final = 10.0


class EmulatorStartError(HarnessError):
    """The emulator did not start."""


@dataclass(frozen=True, slots=True)
class Robot:
    """A robot the emulator knows: its access token, secret and keywords."""

    token: str
    secret: str | None = None
    keywords: tuple[str, ...] = ()
    name: str = ""

    @classmethod
    def generate(
        cls, *, signed: bool = True, keywords: Iterable[str] = (), name: str = ""
    ) -> Self:
        """Return a robot with a random 64-hex-digit token and a SEC… secret."""
        secret = f"SEC{secrets.token_hex(32)}" if signed else None
        return cls(secrets.token_hex(32), secret, tuple(keywords), name)

    def cli_argument(self) -> str:
        """Return the robot as the emulator's --robot TOKEN:SECRET[:kw1,kw2]."""
        value = f"{self.token}:{self.secret or ''}"
        if self.keywords:
            value += ":" + ",".join(self.keywords)
        return value

    def to_json(self) -> dict[str, object]:
        """Return the robot as the body of POST /api/robots."""
        return {
            "access_token": self.token,
            "secret": self.secret,
            "keywords": list(self.keywords),
            "name": self.name,
        }

    def __repr__(self) -> str:
        """Show the robot without its token or secret."""
        return f"Robot(token={self.token[:4]}…, signed={self.secret is not None})"


class EmulatorProcess(ChildProcess):
    """Start, drive and stop ``python -m dingtalk_emulator`` on 127.0.0.1."""

    def __init__(
        self,
        robots: Iterable[Robot] = (),
        *,
        port: int | None = None,
        log_path: Path | None,
        python: str | None = None,
    ) -> None:
        """Describe the process; nothing starts before ``start``.

        Output goes to ``log_path``, or to the terminal when it is None.
        """
        super().__init__()
        self.robots = list(robots)
        self.port = port or free_port()
        self.log_path = log_path
        self._python = python or python_executable()
        self.start_seconds: float | None = None
        self._started_at = 0.0

    # -- lifecycle ------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The emulator's base URL; its chat page is at "/"."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def page_url(self) -> str:
        """The chat page where delivered messages can be seen."""
        return f"{self.base_url}/"

    @property
    def _where(self) -> str:
        """Where the emulator's output went, for error messages."""
        return str(self.log_path) if self.log_path is not None else "its output above"

    def webhook_url(self, token: str) -> str:
        """Return the robot's webhook URL, as DingTalk shows it."""
        query = urllib.parse.urlencode({"access_token": token})
        return f"{self.base_url}/robot/send?{query}"

    def start(self) -> None:
        """Start the emulator; ``wait_until_up`` waits for it."""
        if self._process is not None:
            raise HarnessError("the emulator is already started")
        args = [
            self._python,
            "-m",
            "dingtalk_emulator",
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
        ]
        for robot in self.robots:
            args += ["--robot", robot.cli_argument()]
        self._started_at = time.monotonic()
        self._process, self._log = start_process(
            args,
            cwd=REPO_ROOT,
            env=child_env(extra_pythonpath=REPO_ROOT),
            log_path=self.log_path,
        )

    def _check_alive(self) -> None:
        """Raise EmulatorStartError if the process has exited."""
        if self._process is None:
            raise EmulatorStartError("the emulator is not started")
        code = self._process.poll()
        if code is not None:
            raise EmulatorStartError(
                f"the DingTalk emulator exited with code {code}; see {self._where}"
            )

    def wait_until_up(self, timeout: float = START_TIMEOUT) -> float:
        """Wait until the JSON API answers; return the seconds since start."""

        def probe() -> bool | None:
            try:
                http_request("GET", f"{self.base_url}/api/robots", timeout=2.0)
            except OSError:
                return None
            return True

        if wait_for(probe, timeout=timeout, alive=self._check_alive) is None:
            raise EmulatorStartError(
                f"the DingTalk emulator did not start within {timeout:.0f} s; "
                f"see {self._where}"
            )
        self.start_seconds = time.monotonic() - self._started_at
        return self.start_seconds

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Stop the emulator (SIGTERM, then SIGKILL after ``timeout``)."""
        return self._stop_child(timeout)

    def __enter__(self) -> Self:
        """Start the emulator and wait for it."""
        try:
            self.start()
            self.wait_until_up()
        except BaseException:
            self.stop()
            raise
        return self

    # -- JSON API ---------------------------------------------------------------

    def _get(
        self, path: str, params: Mapping[str, object] | None = None
    ) -> dict[str, Any]:
        """GET a JSON document from the API."""
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        url = f"{self.base_url}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return http_request("GET", url, timeout=10.0).json_object()

    def _send(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        """Send a JSON request to the API."""
        url = f"{self.base_url}{path}"
        return http_request(method, url, json_body=body, timeout=10.0).json_object()

    @staticmethod
    def _quote(token: str) -> str:
        """Quote a token for use in a path."""
        return urllib.parse.quote(token, safe="")

    def add_robot(self, robot: Robot) -> dict[str, Any]:
        """Add a robot to the running emulator."""
        self.robots.append(robot)
        return self._send("POST", "/api/robots", robot.to_json())

    def robot_info(self) -> list[dict[str, Any]]:
        """Return the robots as the API shows them (fingerprints, no secrets)."""
        return list(self._get("/api/robots")["robots"])

    def set_robot_state(self, token: str, state: str) -> None:
        """Set a robot's state: active, disabled, removed or dissolved."""
        self._send("POST", f"/api/robots/{self._quote(token)}/state", {"state": state})

    def inject_fault(self, token: str, kind: str, **fields: object) -> None:
        """Queue a fault (busy, delay, drop, http_5xx, non_json, rate) for a robot."""
        body = {"kind": kind, **fields}
        self._send("POST", f"/api/robots/{self._quote(token)}/faults", body)

    def clear_faults(self, token: str) -> None:
        """Drop a robot's pending faults."""
        self._send("DELETE", f"/api/robots/{self._quote(token)}/faults")

    def requests(
        self, token: str | None = None, *, since: int | None = None
    ) -> list[dict[str, Any]]:
        """Return recorded /robot/send requests, oldest first."""
        answer = self._get("/api/requests", {"token": token, "since": since})
        return list(answer["requests"])

    def messages(self, token: str | None = None) -> list[dict[str, Any]]:
        """Return delivered messages, oldest first."""
        return list(self._get("/api/messages", {"token": token})["messages"])

    def wait_for_messages(
        self, token: str | None, count: int, *, timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        """Wait until at least ``count`` messages were delivered; return them all."""

        def probe() -> list[dict[str, Any]] | None:
            found = self.messages(token)
            return found if len(found) >= count else None

        found = wait_for(probe, timeout=timeout, interval=0.1, alive=self._check_alive)
        if found is None:
            delivered = len(self.messages(token))
            raise HarnessError(
                f"{delivered} message(s) delivered after {timeout:.0f} s, "
                f"expected {count}"
            )
        return found

    def reset(self) -> None:
        """Forget history, rate state, msgUuids and faults."""
        self._send("POST", "/api/reset", {})

    def advance_clock(self, seconds: float) -> float:
        """Move a manual emulator clock forward; return the new time."""
        answer = self._send("POST", "/api/clock/advance", {"seconds": seconds})
        return float(answer["now"])


def masked_url(path: str, query: Mapping[str, str]) -> str:
    """Return a request URL with the token shortened and the signature hidden."""
    shown: dict[str, str] = {}
    for key, value in query.items():
        if key == "access_token":
            shown[key] = f"{value[:4]}…"
        elif key == "sign":
            shown[key] = "***"
        else:
            shown[key] = value
    pairs = "&".join(f"{key}={value}" for key, value in shown.items())
    return f"{path}?{pairs}" if pairs else path
