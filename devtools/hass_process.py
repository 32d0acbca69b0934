"""A real Home Assistant process with the integration from the working tree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
import json
import os
from pathlib import Path
import subprocess
import time
from typing import IO, TYPE_CHECKING, Any, Final, Self
import urllib.parse
import uuid

from .process_util import (
    LOOPBACK,
    REPO_ROOT,
    HarnessError,
    HTTPStatusError,
    Response,
    child_env,
    free_port,
    http_request,
    python_executable,
    start_process,
    stop_process,
    wait_for,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

DOMAIN: Final = "dingtalk"
START_TIMEOUT: Final = 60.0
STOP_TIMEOUT: Final = 30.0
USERNAME: Final = "demo"
PASSWORD: Final = "demo-password"  # noqa: S105 - a throw-away local test user
MARKETPLACE: Final = "marketplace"
CONFIG_ENTRIES_STORE: Final = ".storage/core.config_entries"

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


@dataclass(slots=True)
class HassTimings:
    """Seconds from start to each milestone."""

    http_up: float | None = None
    running: float | None = None


class HassProcess:
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
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
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
        """Write configuration.yaml (unless present) and link the integration."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
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
        """Start, wait for HTTP, onboard, wait for RUNNING; all within ``timeout``."""
        deadline = time.monotonic() + timeout

        def remaining() -> float:
            return max(deadline - time.monotonic(), 0.5)

        self.start()
        try:
            self.wait_until_up(remaining())
            self.onboard()
            self.wait_until_running(remaining())
        except HassStartError as err:
            if "did not" in str(err):
                raise HassStartError(
                    f"Home Assistant did not start within {timeout:.0f} s; "
                    f"see {self.log_hint}"
                ) from err
            raise

    def poll(self) -> int | None:
        """Return the exit code if the process has exited, else None."""
        return None if self._process is None else self._process.poll()

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Stop Home Assistant (SIGTERM, then SIGKILL after ``timeout``)."""
        code: int | None = None
        if self._process is not None:
            code = stop_process(self._process, timeout=timeout)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def restart(self, timeout: float = START_TIMEOUT) -> float:
        """Stop and start again on the same config; return seconds to RUNNING."""
        if self._token is None:
            raise HarnessError("restart needs a logged-in Home Assistant")
        self.stop()
        self.start()
        self.wait_until_up(timeout)
        return self.wait_until_running(timeout)

    def __enter__(self) -> Self:
        """Start Home Assistant and log in."""
        try:
            self.start_and_onboard()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop Home Assistant whatever happened."""
        self.stop()

    # -- authentication -------------------------------------------------------

    def onboard(self, *, username: str = USERNAME, password: str = PASSWORD) -> None:
        """Create the owner, log in, and finish the onboarding steps that stay local.

        ``core_config`` is skipped on purpose: finishing it starts the met,
        radio_browser and google_translate flows, which reach the internet.
        """
        response = http_request(
            "POST",
            f"{self.base_url}/api/onboarding/users",
            json_body={
                "client_id": self.client_id,
                "name": "Demo",
                "username": username,
                "password": password,
                "language": "en",
            },
        )
        code = str(response.json_object()["auth_code"])
        self._token = self._grant({"grant_type": "authorization_code", "code": code})
        self.post("/api/onboarding/analytics", {})

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
        self, data: Mapping[str, object], *, handler: str = DOMAIN
    ) -> dict[str, Any]:
        """Run the user flow with ``data``; return the new entry or raise FlowError."""
        step = self.start_flow(handler)
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
