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


@dataclass(frozen=True, slots=True)
class App:
    """An enterprise app with a robot: its ClientID (AppKey), secret and robotCode."""

    client_id: str
    client_secret: str
    robot_code: str = ""  # "" = the client id
    name: str = ""

    @classmethod
    def generate(cls, *, name: str = "") -> Self:
        """Return an app with a random "ding…" client id and a 64-character secret."""
        return cls(f"ding{secrets.token_hex(8)}", secrets.token_hex(32), name=name)

    def cli_argument(self) -> str:
        """Return the app as the emulator's --app CLIENT_ID:SECRET[:ROBOT_CODE]."""
        value = f"{self.client_id}:{self.client_secret}"
        return f"{value}:{self.robot_code}" if self.robot_code else value

    def to_json(self) -> dict[str, object]:
        """Return the app as the body of POST /api/apps."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "robot_code": self.robot_code,
            "name": self.name,
        }

    def __repr__(self) -> str:
        """Show the app without its secret."""
        return f"App(client_id={self.client_id!r}, name={self.name!r})"


@dataclass(frozen=True, slots=True)
class User:
    """A person of the emulated organisation."""

    user_id: str
    name: str = ""
    mobile: str = ""

    def cli_argument(self) -> str:
        """Return the person as the emulator's --user USER_ID:NAME[:MOBILE]."""
        value = f"{self.user_id}:{self.name}"
        return f"{value}:{self.mobile}" if self.mobile else value


@dataclass(frozen=True, slots=True)
class Group:
    """A group chat: its openConversationId, title, members and robots."""

    open_conversation_id: str
    title: str
    members: tuple[str, ...]
    robots: tuple[str, ...] = ()  # client ids; () on the command line = every app

    def cli_argument(self) -> str:
        """Return the group as the emulator's --group CID:TITLE:users[:client_ids]."""
        value = f"{self.open_conversation_id}:{self.title}:{','.join(self.members)}"
        return f"{value}:{','.join(self.robots)}" if self.robots else value


class EmulatorProcess(ChildProcess):
    """Start, drive and stop ``python -m dingtalk_emulator`` on 127.0.0.1."""

    def __init__(  # noqa: PLR0913 - what the emulator starts with
        self,
        robots: Iterable[Robot] = (),
        *,
        apps: Iterable[App] = (),
        users: Iterable[User] = (),
        groups: Iterable[Group] = (),
        extra_args: Iterable[str] = (),
        port: int | None = None,
        log_path: Path | None,
        python: str | None = None,
    ) -> None:
        """Describe the process; nothing starts before ``start``.

        Output goes to ``log_path``, or to the terminal when it is None.
        ``extra_args`` are more emulator options (e.g. ``--ack-timeout 5``).
        """
        super().__init__()
        self.robots = list(robots)
        self.apps = list(apps)
        self.users = list(users)
        self.groups = list(groups)
        self.extra_args = list(extra_args)
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
        for app in self.apps:
            args += ["--app", app.cli_argument()]
        for user in self.users:
            args += ["--user", user.cli_argument()]
        for group in self.groups:
            args += ["--group", group.cli_argument()]
        args += self.extra_args
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

    # -- JSON API: app robots and Stream mode ---------------------------------------

    def _app_path(self, client_id: str, rest: str = "") -> str:
        """Return the API path of an app (and of something below it)."""
        return f"/api/apps/{self._quote(client_id)}{rest}"

    def add_app(self, app: App) -> dict[str, Any]:
        """Add an app to the running emulator; return it as the API shows it."""
        self.apps.append(app)
        return dict(self._send("POST", "/api/apps", app.to_json())["app"])

    def app_info(self) -> list[dict[str, Any]]:
        """Return the apps as the API shows them (no secrets)."""
        return list(self._get("/api/apps")["apps"])

    def add_user(self, user: User, *, admin: bool = False) -> dict[str, Any]:
        """Add a person to the organisation."""
        body = {
            "user_id": user.user_id,
            "name": user.name,
            "mobile": user.mobile,
            "admin": admin,
        }
        return dict(self._send("POST", "/api/users", body)["user"])

    def add_group(self, group: Group) -> dict[str, Any]:
        """Add a group (its members and robots must exist)."""
        body = {
            "open_conversation_id": group.open_conversation_id,
            "title": group.title,
            "members": list(group.members),
            "robots": list(group.robots),
        }
        return dict(self._send("POST", "/api/groups", body)["group"])

    def remove_user(self, user_id: str) -> None:
        """Let a person leave the organisation (and its groups)."""
        self._send("DELETE", f"/api/users/{self._quote(user_id)}")

    def leave_group(self, open_conversation_id: str, client_id: str) -> None:
        """Remove an app's robot from a group."""
        body = {"open_conversation_id": open_conversation_id, "client_id": client_id}
        self._send("POST", "/api/groups/leave", body)

    def set_published(self, client_id: str, *, published: bool) -> None:
        """Publish or unpublish an app's robot."""
        path = self._app_path(client_id, "/published")
        self._send("POST", path, {"published": published})

    def set_permissions(self, client_id: str, permissions: Iterable[str]) -> None:
        """Replace an app's permissions (e.g. without qyapi_robot_sendmsg)."""
        path = self._app_path(client_id, "/permissions")
        self._send("POST", path, {"permissions": list(permissions)})

    def expire_tokens(self, client_id: str) -> None:
        """Make every access token of the app invalid now."""
        self._send("DELETE", self._app_path(client_id, "/tokens"))

    def inject_app_fault(self, client_id: str, kind: str, **fields: object) -> None:
        """Queue an app-API fault (busy, delay, drop, non_json, qps)."""
        self._send(
            "POST", self._app_path(client_id, "/faults"), {"kind": kind, **fields}
        )

    def clear_app_faults(self, client_id: str) -> None:
        """Drop an app's pending app-API faults."""
        self._send("DELETE", self._app_path(client_id, "/faults"))

    def inject_stream_fault(self, client_id: str, kind: str, **fields: object) -> None:
        """Apply or queue a Stream fault (disconnect, silent, close; refuse_open,…)."""
        body = {"kind": kind, **fields}
        self._send("POST", self._app_path(client_id, "/stream/faults"), body)

    def clear_stream_faults(self, client_id: str) -> None:
        """Drop an app's queued Stream faults."""
        self._send("DELETE", self._app_path(client_id, "/stream/faults"))

    def chat(
        self,
        client_id: str,
        user_id: str,
        text: str,
        *,
        group: str | None = None,
        at_robot: bool = False,
    ) -> dict[str, Any]:
        """Write as a person (1:1, or in a group with or without @robot).

        Returns the message; its ``callback`` is the Stream payload pushed to the
        app (None in a group without @robot), with the full sessionWebhook.
        """
        body = {"user_id": user_id, "text": text, "group": group, "at_robot": at_robot}
        return dict(
            self._send("POST", self._app_path(client_id, "/chat"), body)["chat"]
        )

    def conversations(self, client_id: str) -> list[dict[str, Any]]:
        """Return the app's conversations: each person's 1:1 chat and its groups."""
        return list(
            self._get(self._app_path(client_id, "/conversations"))["conversations"]
        )

    def app_messages(
        self, client_id: str, conversation: str | None = None
    ) -> list[dict[str, Any]]:
        """Return the robot messages delivered for an app, oldest first."""
        path = self._app_path(client_id, "/messages")
        return list(self._get(path, {"conversation": conversation})["messages"])

    def chats(
        self, client_id: str, conversation: str | None = None
    ) -> list[dict[str, Any]]:
        """Return the messages people wrote to an app's robot, oldest first."""
        path = self._app_path(client_id, "/chats")
        return list(self._get(path, {"conversation": conversation})["chats"])

    def wait_for_app_messages(
        self,
        client_id: str,
        count: int,
        *,
        conversation: str | None = None,
        timeout: float = 15.0,
    ) -> list[dict[str, Any]]:
        """Wait until at least ``count`` robot messages were delivered; return them."""

        def probe() -> list[dict[str, Any]] | None:
            found = self.app_messages(client_id, conversation)
            return found if len(found) >= count else None

        found = wait_for(probe, timeout=timeout, interval=0.1, alive=self._check_alive)
        if found is None:
            delivered = len(self.app_messages(client_id, conversation))
            raise HarnessError(
                f"{delivered} app message(s) delivered after {timeout:.0f} s, "
                f"expected {count}"
            )
        return found

    def app_requests(
        self,
        client_id: str | None = None,
        *,
        api: str | None = None,
        since: int | None = None,
    ) -> list[dict[str, Any]]:
        """Return recorded app-API calls (tokens and secrets masked), oldest first."""
        params = {"client_id": client_id, "api": api, "since": since}
        return list(self._get("/api/app-requests", params)["requests"])

    def stream_stats(self, client_id: str) -> dict[str, Any]:
        """Return an app's Stream counters and open connections."""
        return self._get(self._app_path(client_id, "/stream"))

    def stream_pushes(self, client_id: str) -> list[dict[str, Any]]:
        """Return an app's Stream callbacks and what became of them."""
        return list(self._get(self._app_path(client_id, "/stream/pushes"))["pushes"])

    def media(self, media_id: str) -> bytes:
        """Return the bytes of an uploaded media_id."""
        url = f"{self.base_url}/api/media/{self._quote(media_id)}"
        return http_request("GET", url, timeout=10.0).body


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
