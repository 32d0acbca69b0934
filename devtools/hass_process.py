"""A real Home Assistant process with the integration from the working tree."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
import json
import os
from pathlib import Path
import subprocess
import time
from typing import TYPE_CHECKING, Any, Final, Self
import urllib.parse
import uuid

import aiohttp

from .process_util import (
    LOOPBACK,
    REPO_ROOT,
    ChildProcess,
    HarnessError,
    HTTPStatusError,
    Response,
    child_env,
    ensure_loopback,
    free_port,
    http_request,
    python_executable,
    start_process,
    wait_for,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

DOMAIN: Final = "dingtalk"
START_TIMEOUT: Final = 60.0
STOP_TIMEOUT: Final = 30.0
USERNAME: Final = "demo"
PASSWORD: Final = "demo-password"  # noqa: S105 - a throw-away local test user
MARKETPLACE: Final = "marketplace"
CONFIG_ENTRIES_STORE: Final = ".storage/core.config_entries"
HTTP_STORE: Final = ".storage/http"
WEBSOCKET_TIMEOUT: Final = 30.0
DEFAULT_HTTP_PORT: Final = 8123
UNKNOWN_COMMAND: Final = "unknown_command"

# Run by the interpreter Home Assistant will run with: its version, and whether it
# has the Marketplace (built in since 2026.11). Only homeassistant.const is imported.
_PROBE_INSTALL: Final = """\
import importlib.util, json, homeassistant.const as const
spec = importlib.util.find_spec("homeassistant.components.marketplace")
print(json.dumps([const.__version__, spec is not None]))
"""

CONFIGURATION_YAML: Final = """\
# Written by devtools/hass_process.py for a throw-away Home Assistant.
homeassistant:
  name: DingTalk demo
  latitude: 31.2304
  longitude: 121.4737
  elevation: 4
  unit_system: metric
  time_zone: Asia/Shanghai
  country: CN
  currency: CNY

http:
  server_host: {host}
  server_port: {port}

logger:
  default: warning
  logs:
    homeassistant.setup: info
    homeassistant.bootstrap: info
    homeassistant.loader: info
    custom_components.dingtalk: debug
"""


class HassStartError(HarnessError):
    """Home Assistant did not start (or not without recovery mode)."""


class ServiceCallError(HarnessError):
    """An action call answered with an HTTP error."""

    def __init__(self, domain: str, service: str, status: int, message: str) -> None:
        """Keep the status and Home Assistant's message."""
        self.domain = domain
        self.service = service
        self.status = status
        self.message = message
        super().__init__(f"{domain}.{service} failed (HTTP {status}): {message}")


class LoginError(HarnessError):
    """Home Assistant refused the username and password."""


class WebSocketError(HarnessError):
    """A WebSocket command answered with an error."""

    def __init__(self, command: str, code: str, message: str) -> None:
        """Keep Home Assistant's error code and message."""
        self.command = command
        self.code = code
        self.message = message
        super().__init__(f"WebSocket command {command} failed ({code}): {message}")


class HttpStoreError(HarnessError):
    """The stored HTTP config would not serve on 127.0.0.1 and the chosen port."""


class FlowError(HarnessError):
    """A config flow did not end the way the caller expected."""

    def __init__(self, message: str, result: Mapping[str, Any]) -> None:
        """Keep the flow's last answer."""
        self.result = dict(result)
        super().__init__(message)


@dataclass(slots=True)
class _Token:
    """The bearer token and what refreshes it."""

    access: str
    refresh: str
    expires_at: float


@dataclass(slots=True)
class ServiceResult:
    """What POST /api/services/<domain>/<service> answered."""

    changed_states: list[dict[str, Any]]
    response: dict[str, Any] | None = None
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class HassInstall:
    """The Home Assistant an interpreter has installed."""

    version: str
    has_marketplace: bool


@dataclass(frozen=True, slots=True)
class HttpBinding:
    """Where Home Assistant's HTTP server listens."""

    hosts: tuple[str, ...] | None  # None: every interface
    port: int

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> HttpBinding:
        """Read ``server_host`` and ``server_port`` of an HTTP config."""
        hosts = config.get("server_host")
        if isinstance(hosts, str):
            hosts = [hosts]
        port = config.get("server_port", DEFAULT_HTTP_PORT)
        return cls(tuple(str(host) for host in hosts) if hosts else None, int(port))

    def is_loopback(self, port: int) -> bool:
        """Return whether this is 127.0.0.1 alone, on ``port``."""
        return self.hosts == (LOOPBACK,) and self.port == port

    def __str__(self) -> str:
        """Say it as a person would, e.g. "127.0.0.1, port 8123"."""
        hosts = " and ".join(self.hosts) if self.hosts else "every interface"
        return f"{hosts}, port {self.port}"


@dataclass(slots=True)
class HassTimings:
    """Seconds from start to each milestone."""

    http_up: float | None = None
    running: float | None = None


class HassProcess(ChildProcess):
    """Start, drive and stop ``python -m homeassistant`` on 127.0.0.1."""

    def __init__(  # noqa: PLR0913 - every option is a keyword with a default
        self,
        config_dir: Path,
        *,
        port: int | None = None,
        log_path: Path | None = None,
        console: bool = False,
        configuration_yaml: str | None = None,
        link_integration: bool = True,
        python: str | None = None,
    ) -> None:
        """Describe the process; nothing starts before ``start``.

        Output goes to ``log_path`` (default: <config>/hass-output.log) or, with
        ``console``, to the terminal; Home Assistant also writes
        <config>/home-assistant.log itself.
        """
        super().__init__()
        self.config_dir = config_dir.resolve()
        self.port = port or free_port()
        self.log_path = log_path or self.config_dir / "hass-output.log"
        self._console = console
        self._configuration_yaml = configuration_yaml
        self._link_integration = link_integration
        self._python = python_executable()
        if python:
            # Absolute (not resolved: a venv's python is a symlink), as Home
            # Assistant runs in the config folder; a bare name goes by PATH.
            self._python = str(Path(python).absolute()) if os.sep in python else python
        self._install: HassInstall | None = None
        self._token: _Token | None = None
        self._started_at = 0.0
        self.timings = HassTimings()

    # -- lifecycle ------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The URL Home Assistant answers on."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def log_hint(self) -> str:
        """Where to look when something failed: the log file or the terminal."""
        return "the output above" if self._console else str(self.log_path)

    @property
    def websocket_url(self) -> str:
        """The URL of the WebSocket API."""
        return f"ws://{LOOPBACK}:{self.port}/api/websocket"

    @property
    def client_id(self) -> str:
        """The OAuth client id the harness logs in with."""
        return f"{self.base_url}/"

    @property
    def pid(self) -> int | None:
        """The process id, while it runs."""
        return None if self._process is None else self._process.pid

    @property
    def install(self) -> HassInstall:
        """The Home Assistant installed for ``python`` (asked once, then cached)."""
        if self._install is None:
            self._install = probe_install(self._python)
        return self._install

    def prepare(self) -> None:
        """Check .storage/http, write configuration.yaml (unless present), link."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        check_http_store(self.config_dir, self.port)
        yaml_path = self.config_dir / "configuration.yaml"
        if self._configuration_yaml is not None or not yaml_path.exists():
            text = self._configuration_yaml or CONFIGURATION_YAML
            yaml_path.write_text(text.format(host=LOOPBACK, port=self.port), "utf-8")
        if self._link_integration:
            link_integration(self.config_dir)
        # The harness never leaves 127.0.0.1: see disable_marketplace.
        if self.install.has_marketplace:
            disable_marketplace(self.config_dir)

    def start(self) -> None:
        """Start Home Assistant; ``wait_until_running`` waits for it."""
        if self._process is not None:
            raise HarnessError("Home Assistant is already started")
        self.prepare()
        args = [
            self._python,
            "-m",
            "homeassistant",
            "--config",
            str(self.config_dir),
            "--skip-pip",
        ]
        if not self._console:
            args.append("--log-no-color")
        self._started_at = time.monotonic()
        # cwd = config dir: `python -m` puts cwd first on sys.path, and the repo's
        # own custom_components/ must not shadow the linked one.
        self._process, self._log = start_process(
            args,
            cwd=self.config_dir,
            env=child_env(),
            log_path=None if self._console else self.log_path,
        )

    def _check_alive(self) -> None:
        """Raise HassStartError if the process has exited."""
        if self._process is None:
            raise HassStartError("Home Assistant is not started")
        code = self._process.poll()
        if code is not None:
            raise HassStartError(
                f"Home Assistant exited with code {code} during start-up; "
                f"see {self.log_hint}"
            )

    def wait_until_up(self, timeout: float = START_TIMEOUT) -> float:
        """Wait until the HTTP API answers; return the seconds since start."""

        def probe() -> bool | None:
            try:
                response = http_request(
                    "GET", f"{self.base_url}/api/onboarding", timeout=2.0, check=False
                )
            except OSError:
                return None
            return True if response.status == 200 else None  # noqa: PLR2004

        if wait_for(probe, timeout=timeout, alive=self._check_alive) is None:
            raise HassStartError(
                f"Home Assistant did not start within {timeout:.0f} s; "
                f"see {self.log_hint}"
            )
        self.timings.http_up = time.monotonic() - self._started_at
        return self.timings.http_up

    def wait_until_running(self, timeout: float = START_TIMEOUT) -> float:
        """Wait until the core state is RUNNING (needs a token); return seconds."""

        def probe() -> dict[str, Any] | None:
            try:
                config = self.get("/api/config", timeout=2.0)
            except OSError, HTTPStatusError:
                return None
            return config if config.get("state") == "RUNNING" else None

        config = wait_for(probe, timeout=timeout, alive=self._check_alive)
        if config is None:
            raise HassStartError(
                f"Home Assistant did not reach RUNNING within {timeout:.0f} s; "
                f"see {self.log_hint}"
            )
        if config.get("recovery_mode") or config.get("safe_mode"):
            raise HassStartError(
                "Home Assistant started in recovery/safe mode, which loads no custom "
                f"integrations; see {self.log_hint}"
            )
        if self._link_integration and DOMAIN not in self.flow_handlers():
            raise HassStartError(
                f"Home Assistant does not offer the {DOMAIN} integration; "
                f"see {self.log_hint}"
            )
        self.timings.running = time.monotonic() - self._started_at
        return self.timings.running

    def start_and_onboard(self, timeout: float = START_TIMEOUT) -> None:
        """Start, onboard, wait for RUNNING and confirm the HTTP config in time."""
        deadline = time.monotonic() + timeout

        def remaining() -> float:
            return max(deadline - time.monotonic(), 0.5)

        self.start()
        try:
            self.wait_until_up(remaining())
            self.onboard()
            self.wait_until_running(remaining())
            self.confirm_http_config()
        except HassStartError as err:
            if "did not" in str(err):
                raise HassStartError(
                    f"Home Assistant did not start within {timeout:.0f} s; "
                    f"see {self.log_hint}"
                ) from err
            raise

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Stop Home Assistant (SIGTERM, then SIGKILL after ``timeout``)."""
        return self._stop_child(timeout)

    def kill(self) -> int | None:
        """Kill Home Assistant at once (SIGKILL, like a power cut); return its code."""
        code: int | None = None
        if self._process is not None:
            self._process.kill()
            code = self._process.wait(timeout=STOP_TIMEOUT)
        self._stop_child(STOP_TIMEOUT)  # closes the log; the process is gone
        return code

    def restart(self, timeout: float = START_TIMEOUT, *, kill: bool = False) -> float:
        """Stop (or kill) and start again on the same config; seconds to RUNNING."""
        if self._token is None:
            raise HarnessError("restart needs a logged-in Home Assistant")
        if kill:
            self.kill()
        else:
            self.stop()
        self.start()
        self.wait_until_up(timeout)
        seconds = self.wait_until_running(timeout)
        self.confirm_http_config()
        return seconds

    def __enter__(self) -> Self:
        """Start Home Assistant and log in."""
        try:
            self.start_and_onboard()
        except BaseException:
            self.stop()
            raise
        return self

    # -- authentication -------------------------------------------------------

    def onboard(
        self, *, username: str = USERNAME, password: str = PASSWORD, name: str = "Demo"
    ) -> None:
        """Create the owner, log in, and finish the onboarding steps that stay local.

        ``core_config`` is skipped on purpose: finishing it starts the met,
        radio_browser and google_translate flows, which reach the internet.
        """
        response = http_request(
            "POST",
            f"{self.base_url}/api/onboarding/users",
            json_body={
                "client_id": self.client_id,
                "name": name,
                "username": username,
                "password": password,
                "language": "en",
            },
        )
        code = str(response.json_object()["auth_code"])
        self._token = self._grant({"grant_type": "authorization_code", "code": code})
        self.post("/api/onboarding/analytics", {})

    def needs_onboarding(self) -> bool:
        """Return whether nobody has created the owner account yet."""
        steps = http_request("GET", f"{self.base_url}/api/onboarding").json_list()
        return any(
            isinstance(step, dict)
            and step.get("step") == "user"
            and not step.get("done")
            for step in steps
        )

    def login(self, username: str, password: str) -> None:
        """Log in with a username and password, as the login page does."""
        flow = http_request(
            "POST",
            f"{self.base_url}/auth/login_flow",
            json_body={
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": self.client_id,
            },
        ).json_object()
        flow_id = urllib.parse.quote(str(flow.get("flow_id", "")), safe="")
        answer = http_request(
            "POST",
            f"{self.base_url}/auth/login_flow/{flow_id}",
            json_body={
                "client_id": self.client_id,
                "username": username,
                "password": password,
            },
        ).json_object()
        if answer.get("type") != "create_entry":
            errors = answer.get("errors") or answer.get("reason") or answer.get("type")
            raise LoginError(
                f"Home Assistant refused the login of {username!r}: {errors}"
            )
        self._token = self._grant(
            {"grant_type": "authorization_code", "code": str(answer["result"])}
        )

    def _grant(self, form: Mapping[str, str]) -> _Token:
        """Exchange an auth code or refresh token for an access token."""
        now = time.monotonic()
        answer = http_request(
            "POST",
            f"{self.base_url}/auth/token",
            form={**form, "client_id": self.client_id},
        ).json_object()
        refresh = str(answer.get("refresh_token") or form.get("refresh_token", ""))
        return _Token(
            access=str(answer["access_token"]),
            refresh=refresh,
            expires_at=now + float(answer.get("expires_in", 1800)),
        )

    def _auth_header(self) -> dict[str, str]:
        """Return the Authorization header, refreshing the token when due."""
        if self._token is None:
            raise HarnessError("not logged in: call onboard() first")
        if time.monotonic() > self._token.expires_at - 60:
            self._token = self._grant(
                {"grant_type": "refresh_token", "refresh_token": self._token.refresh}
            )
        return {"Authorization": f"Bearer {self._token.access}"}

    @property
    def access_token(self) -> str:
        """A currently valid bearer token (for callers with their own client)."""
        return self._auth_header()["Authorization"].removeprefix("Bearer ")

    # -- WebSocket API and the HTTP config -------------------------------------

    def websocket_command(
        self, message: Mapping[str, object], *, timeout: float = WEBSOCKET_TIMEOUT
    ) -> Any:  # noqa: ANN401 - a command's result is whatever JSON it answers
        """Send one command on a WebSocket of its own; return its result."""
        # Raises WebSocketError (Home Assistant's code and message) on an error.
        # Synchronous like the rest of the harness: not for a running event loop.
        ensure_loopback(self.base_url)
        command = str(message.get("type"))
        url, token = self.websocket_url, self.access_token

        async def call() -> dict[str, Any]:
            async with asyncio.timeout(timeout):
                return await _websocket_call(url, token, message)

        try:
            answer = asyncio.run(call())
        except (aiohttp.ClientError, TimeoutError) as err:
            raise HarnessError(
                f"WebSocket command {command} failed: {err!r}; see {self.log_hint}"
            ) from err
        if not answer.get("success"):
            error = answer.get("error")
            error = error if isinstance(error, dict) else {}
            raise WebSocketError(
                command, str(error.get("code")), str(error.get("message"))
            )
        return answer.get("result")

    def http_config(self) -> dict[str, Any] | None:
        """Return http/config (stable, pending, revert_at, ...); None before 2026.10."""
        try:
            state = self.websocket_command({"type": "http/config"})
        except WebSocketError as err:
            if err.code == UNKNOWN_COMMAND:
                return None
            raise
        if not isinstance(state, dict):
            raise HarnessError(f"http/config answered {state!r}")
        return state

    def http_binding(self) -> HttpBinding | None:
        """Return where the running server listens; None before 2026.10 (the YAML)."""
        state = self.http_config()
        if state is None:
            return None
        config = state.get(str(state.get("active_config_type"))) or state["default"]
        return HttpBinding.of(config)

    def confirm_http_config(self) -> bool:
        """Promote the pending HTTP config (its dialog's Confirm); True if one was."""
        # Home Assistant 2026.10 moves the http: block of configuration.yaml into
        # .storage/http as a pending config on the first start. Unless an
        # administrator confirms it within five minutes, it reverts to the stable
        # config (every interface, port 8123) and restarts (exit code 100).
        # Nothing pending (a later start, a release before 2026.10) answers False;
        # HassStartError if the server then does not serve on 127.0.0.1 alone.
        promoted = True
        try:
            self.websocket_command({"type": "http/config/promote"})
        except WebSocketError as err:
            if err.code != UNKNOWN_COMMAND:
                state = self.http_config()
                if state is not None and state.get("revert_at") is not None:
                    raise HarnessError(
                        f"cannot confirm the HTTP config: {err.message}; "
                        f"see {self.log_hint}"
                    ) from err
            promoted = False
        binding = self.http_binding()
        if binding is not None and not binding.is_loopback(self.port):
            raise HassStartError(
                f"Home Assistant listens on {binding}, not on {LOOPBACK} alone, "
                f"port {self.port}; see {self.config_dir / HTTP_STORE}"
            )
        return promoted

    # -- REST API ----------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        timeout: float = 60.0,
        check: bool = True,
    ) -> Response:
        """Send an authenticated request to the REST API."""
        return http_request(
            method,
            f"{self.base_url}{path}",
            json_body=body,
            headers=self._auth_header(),
            timeout=timeout,
            check=check,
        )

    def get(self, path: str, *, timeout: float = 30.0) -> dict[str, Any]:
        """GET a JSON object."""
        return self.request("GET", path, timeout=timeout).json_object()

    def post(self, path: str, body: object, *, timeout: float = 60.0) -> dict[str, Any]:
        """POST JSON and return the JSON object answered."""
        return self.request("POST", path, body, timeout=timeout).json_object()

    def components(self) -> list[str]:
        """Return the loaded integrations (and platforms, as domain.platform)."""
        return [
            str(item) for item in self.request("GET", "/api/components").json_list()
        ]

    def wait_for_component(self, domain: str, *, timeout: float = 10.0) -> None:
        """Wait until ``domain`` is loaded."""
        loaded = wait_for(
            lambda: True if domain in self.components() else None,
            timeout=timeout,
            interval=0.5,
            alive=self._check_alive,
        )
        if loaded is None:
            raise HassStartError(
                f"integration {domain!r} did not load; see {self.log_hint}"
            )

    def diagnostics(self, entry_id: str) -> dict[str, Any]:
        """Return the integration's diagnostics data for a config entry."""
        answer = self.get(f"/api/diagnostics/config_entry/{entry_id}")
        data = answer.get("data")
        if not isinstance(data, dict):
            raise HarnessError(f"no diagnostics data for entry {entry_id}")
        return data

    # -- config flows ---------------------------------------------------------

    def flow_handlers(self) -> list[str]:
        """Return the integrations the "Add integration" dialog offers."""
        answer = self.request("GET", "/api/config/config_entries/flow_handlers")
        return [str(item) for item in answer.json_list()]

    def start_flow(self, handler: str = DOMAIN) -> dict[str, Any]:
        """Start a config flow as the "Add integration" button does."""
        return self.post(
            "/api/config/config_entries/flow",
            {"handler": handler, "show_advanced_options": False},
        )

    def submit_flow(self, flow_id: str, data: Mapping[str, object]) -> dict[str, Any]:
        """Submit the current form of a flow; return the next step."""
        return self.post(f"/api/config/config_entries/flow/{flow_id}", dict(data))

    def abort_flow(self, flow_id: str) -> None:
        """Cancel a flow in progress (as closing the dialog does)."""
        self.request(
            "DELETE", f"/api/config/config_entries/flow/{flow_id}", check=False
        )

    def add_entry(
        self,
        data: Mapping[str, object],
        *,
        handler: str = DOMAIN,
        menu: str | None = "robot",
    ) -> dict[str, Any]:
        """Run the user flow with ``data``; return the new entry or raise FlowError.

        A flow that starts with a menu (DingTalk's: "robot" or "app") goes on
        with the ``menu`` choice first.
        """
        step = self.start_flow(handler)
        if step.get("type") == "menu" and menu is not None:
            step = self.submit_flow(str(step["flow_id"]), {"next_step_id": menu})
        if step.get("type") != "form":
            raise FlowError(f"the {handler} flow did not show a form: {step}", step)
        result = self.submit_flow(str(step["flow_id"]), data)
        if result.get("type") != "create_entry":
            self.abort_flow(str(step["flow_id"]))
            errors = result.get("errors") or result.get("reason") or result
            raise FlowError(
                f"the {handler} flow did not create an entry: {errors}", result
            )
        entry = result.get("result")
        if not isinstance(entry, dict):
            raise FlowError(f"no entry in the flow result: {result}", result)
        return entry

    def start_subentry_flow(self, entry_id: str, subentry_type: str) -> dict[str, Any]:
        """Start adding a subentry (an app's person or group) as the UI does."""
        return self.post(
            "/api/config/config_entries/subentries/flow",
            {"handler": [entry_id, subentry_type], "show_advanced_options": False},
        )

    def submit_subentry_flow(
        self, flow_id: str, data: Mapping[str, object]
    ) -> dict[str, Any]:
        """Submit the current form of a subentry flow; return the next step."""
        return self.post(
            f"/api/config/config_entries/subentries/flow/{flow_id}", dict(data)
        )

    def add_subentry(
        self, entry_id: str, subentry_type: str, data: Mapping[str, object]
    ) -> dict[str, Any]:
        """Add a subentry with ``data``, confirming a step without fields.

        Returns the flow's last answer (type "create_entry"), or raises FlowError.
        """
        step = self.start_subentry_flow(entry_id, subentry_type)
        flow_id = str(step.get("flow_id", ""))
        answer = self.submit_subentry_flow(flow_id, data) if flow_id else step
        if answer.get("type") == "form" and not answer.get("data_schema"):
            answer = self.submit_subentry_flow(flow_id, {})
        if answer.get("type") != "create_entry":
            if flow_id:
                self.request(
                    "DELETE",
                    f"/api/config/config_entries/subentries/flow/{flow_id}",
                    check=False,
                )
            errors = answer.get("errors") or answer.get("reason") or answer
            raise FlowError(f"the {subentry_type} was not added: {errors}", answer)
        return answer

    def start_options_flow(self, entry_id: str) -> dict[str, Any]:
        """Open an entry's options (its Configure button) as the UI does."""
        return self.post(
            "/api/config/config_entries/options/flow",
            {"handler": entry_id, "show_advanced_options": False},
        )

    def submit_options_flow(
        self, flow_id: str, data: Mapping[str, object]
    ) -> dict[str, Any]:
        """Submit the current form of an options flow; return the next step."""
        return self.post(
            f"/api/config/config_entries/options/flow/{flow_id}", dict(data)
        )

    def set_options(self, entry_id: str, data: Mapping[str, object]) -> dict[str, Any]:
        """Save an entry's options through its options flow; raise FlowError if refused.

        Returns the flow's last answer (type "create_entry").
        """
        step = self.start_options_flow(entry_id)
        flow_id = str(step.get("flow_id", ""))
        if step.get("type") != "form" or not flow_id:
            raise FlowError(f"the options of {entry_id} did not open: {step}", step)
        answer = self.submit_options_flow(flow_id, data)
        if answer.get("type") != "create_entry":
            self.request(
                "DELETE",
                f"/api/config/config_entries/options/flow/{flow_id}",
                check=False,
            )
            errors = answer.get("errors") or answer.get("reason") or answer
            raise FlowError(f"the options were not saved: {errors}", answer)
        return answer

    def config_entries(self, domain: str = DOMAIN) -> list[dict[str, Any]]:
        """Return the config entries of ``domain``."""
        query = urllib.parse.urlencode({"domain": domain})
        items = self.request(
            "GET", f"/api/config/config_entries/entry?{query}"
        ).json_list()
        return [item for item in items if isinstance(item, dict)]

    def reload_entry(self, entry_id: str) -> None:
        """Reload a config entry (unload, then set up again)."""
        self.post(f"/api/config/config_entries/entry/{entry_id}/reload", {})

    def delete_entry(self, entry_id: str) -> None:
        """Delete a config entry."""
        self.request("DELETE", f"/api/config/config_entries/entry/{entry_id}")

    def set_device_area(self, entity_id: str, area_id: str) -> None:
        """Put the device of ``entity_id`` in an area, as its device page does."""
        entity = self.websocket_command(
            {"type": "config/entity_registry/get", "entity_id": entity_id}
        )
        device_id = entity.get("device_id") if isinstance(entity, dict) else None
        if not device_id:
            raise HarnessError(f"{entity_id} has no device")
        self.websocket_command(
            {
                "type": "config/device_registry/update",
                "device_id": device_id,
                "area_id": area_id,
            }
        )

    # -- states and actions ---------------------------------------------------

    def states(self) -> list[dict[str, Any]]:
        """Return every state."""
        items = self.request("GET", "/api/states").json_list()
        return [item for item in items if isinstance(item, dict)]

    def state(self, entity_id: str) -> dict[str, Any] | None:
        """Return one state, or None if the entity does not exist."""
        response = self.request("GET", f"/api/states/{entity_id}", check=False)
        if response.status == 404:  # noqa: PLR2004 - HTTP Not Found
            return None
        if response.status >= 400:  # noqa: PLR2004 - HTTP's error range
            url = f"{self.base_url}/api/states/{entity_id}"
            raise HTTPStatusError("GET", url, response.status, response.body)
        return response.json_object()

    def entity_ids(self, domain: str, *, containing: str = "") -> list[str]:
        """Return the entity ids of ``domain`` whose id contains ``containing``."""
        return sorted(
            str(state["entity_id"])
            for state in self.states()
            if str(state.get("entity_id", "")).startswith(f"{domain}.")
            and containing in str(state["entity_id"])
        )

    def services(self, domain: str) -> list[str]:
        """Return the names of the actions of ``domain``."""
        for item in self.request("GET", "/api/services").json_list():
            if isinstance(item, dict) and item.get("domain") == domain:
                return sorted(str(name) for name in item.get("services", {}))
        return []

    def call_service(
        self,
        domain: str,
        service: str,
        data: Mapping[str, object] | None = None,
        *,
        return_response: bool = False,
        timeout: float = 60.0,
    ) -> ServiceResult:
        """Call an action; raise ServiceCallError with HA's message on failure."""
        path = f"/api/services/{domain}/{service}"
        if return_response:
            path += "?return_response"
        started = time.monotonic()
        answer = self.request(
            "POST", path, dict(data or {}), timeout=timeout, check=False
        )
        seconds = time.monotonic() - started
        if answer.status >= 400:  # noqa: PLR2004 - HTTP's error range
            error = HTTPStatusError("POST", path, answer.status, answer.body)
            raise ServiceCallError(domain, service, answer.status, error.message)
        if return_response:
            body = answer.json_object()
            response = body.get("service_response")
            return ServiceResult(
                changed_states=list(body.get("changed_states", [])),
                response=response if isinstance(response, dict) else None,
                seconds=seconds,
            )
        return ServiceResult(changed_states=list(answer.json_list()), seconds=seconds)


async def _websocket_call(
    url: str, token: str, message: Mapping[str, object]
) -> dict[str, Any]:
    """Log in on the WebSocket API, send one command, return its result message."""
    # trust_env=False (the default, said out loud): never through $http_proxy.
    async with (
        aiohttp.ClientSession(trust_env=False) as session,
        session.ws_connect(url) as socket,
    ):
        hello = await _receive(socket)
        if hello.get("type") != "auth_required":
            raise HarnessError(f"unexpected WebSocket greeting: {hello}")
        await socket.send_json({"type": "auth", "access_token": token})
        answer = await _receive(socket)
        if answer.get("type") != "auth_ok":
            raise HarnessError(
                f"the WebSocket API refused the token: {answer.get('message')}"
            )
        await socket.send_json({**message, "id": 1})
        while True:
            answer = await _receive(socket)
            if answer.get("id") == 1 and answer.get("type") == "result":
                return answer


async def _receive(socket: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """Return the next WebSocket message as a JSON object."""
    message = await socket.receive()
    if message.type is not aiohttp.WSMsgType.TEXT:
        raise HarnessError(f"the WebSocket closed unexpectedly ({message.type.name})")
    parsed: object = json.loads(message.data)
    if not isinstance(parsed, dict):
        raise HarnessError(f"unexpected WebSocket message: {message.data[:200]}")
    return parsed


def stored_http_binding(config_dir: Path) -> HttpBinding | None:
    """Return the binding the next start takes from .storage/http; None: the YAML's."""
    # As homeassistant.components.http.config.async_load_config (2026.10, 2026.11):
    # until the http: block is moved, it applies; afterwards Home Assistant
    # ignores it and uses the pending config on trial, else the stable one.
    try:
        store = json.loads((config_dir / HTTP_STORE).read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise HttpStoreError(f"cannot read {config_dir / HTTP_STORE}: {err}") from err
    data = store.get("data") if isinstance(store, dict) else None
    if not isinstance(data, dict) or not data.get("yaml_migration_done"):
        return None  # a store before 2026.10, or the block not migrated yet
    pending = data.get("pending")
    if isinstance(pending, dict) and pending.get("error") is None:
        return HttpBinding.of(pending)
    stable = data.get("stable")
    return HttpBinding.of(stable if isinstance(stable, dict) else {})


def check_http_store(config_dir: Path, port: int) -> None:
    """Raise HttpStoreError unless the next start serves on 127.0.0.1:``port`` alone."""
    binding = stored_http_binding(config_dir)
    if binding is None or binding.is_loopback(port):
        return
    raise HttpStoreError(
        f"{config_dir / HTTP_STORE} would make Home Assistant listen on {binding}, "
        f"not on {LOOPBACK} alone, port {port}: since 2026.10 Home Assistant keeps "
        "the HTTP config there and ignores the http: block of configuration.yaml "
        "once it has moved it (and reverts to every interface, port 8123, when "
        "nobody confirms the moved config within five minutes)"
    )


def probe_install(python: str) -> HassInstall:
    """Ask ``python`` which Home Assistant it has; HarnessError if it has none."""
    try:
        done = subprocess.run(  # noqa: S603 - a fixed script for a given interpreter
            [python, "-c", _PROBE_INSTALL],
            capture_output=True,
            check=False,
            env=child_env(),
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise HarnessError(f"cannot run {python}: {err}") from err
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    if done.returncode != 0:
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        raise HarnessError(f"{python} cannot import Home Assistant: {reason}")
    version, has_marketplace = json.loads(done.stdout)
    return HassInstall(version=str(version), has_marketplace=bool(has_marketplace))


def disable_marketplace(config_dir: Path) -> bool:
    """Add a Marketplace entry the user disabled, unless one exists; True if added."""
    # Home Assistant 2026.11 sets up its Marketplace (HACS, now built in) by
    # default: with no entry it creates one, and once started that fetches the
    # catalog from hacs.xyz and GitHub. An entry the user disabled is how the
    # Marketplace is turned off: it is then not set up, and none is created.
    # Only ever called before Home Assistant starts (it owns the file then).
    path = config_dir / CONFIG_ENTRIES_STORE
    store: dict[str, Any] = (
        json.loads(path.read_text("utf-8"))
        if path.exists()
        else {
            "version": 1,
            "minor_version": 5,
            "key": "core.config_entries",
            "data": {"entries": []},
        }
    )
    entries: list[dict[str, Any]] = store["data"]["entries"]
    if any(entry.get("domain") == MARKETPLACE for entry in entries):
        return False
    now = datetime.now(UTC).isoformat()
    entries.append(
        {
            "created_at": now,
            "data": {},
            "disabled_by": "user",
            "discovery_keys": {},
            "domain": MARKETPLACE,
            "entry_id": uuid.uuid4().hex,
            "minor_version": 1,
            "modified_at": now,
            "options": {},
            "pref_disable_new_entities": False,
            "pref_disable_polling": False,
            "source": "system",
            "subentries": [],
            "title": "",
            "unique_id": None,
            "version": 1,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(store, indent=2), "utf-8")
    return True


def link_integration(config_dir: Path) -> Path:
    """Symlink <config>/custom_components/dingtalk to the working tree's copy."""
    source = REPO_ROOT / "custom_components" / DOMAIN
    target_dir = config_dir / "custom_components"
    target_dir.mkdir(parents=True, exist_ok=True)
    link = target_dir / DOMAIN
    if link.is_symlink():
        if link.resolve() == source.resolve():
            return link
        link.unlink()
    elif link.exists():
        raise HarnessError(f"{link} exists and is not a symlink; remove it first")
    # Relative, so that a config folder inside the repository survives a move.
    link.symlink_to(os.path.relpath(source, target_dir), target_is_directory=True)
    return link
