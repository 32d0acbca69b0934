"""Shared helpers of the process harness: ports, loopback HTTP, child processes."""

from __future__ import annotations

from dataclasses import dataclass
import json
import os
from pathlib import Path
import signal
import socket
import subprocess
import sys
import time
from typing import IO, TYPE_CHECKING, Any, Final, NoReturn
import urllib.error
import urllib.parse
import urllib.request

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import FrameType, TracebackType

LOOPBACK: Final = "127.0.0.1"
REPO_ROOT: Final = Path(__file__).resolve().parent.parent

# No proxy handler: loopback traffic must never be routed through $http_proxy.
_OPENER: Final = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class HarnessError(RuntimeError):
    """A process of the harness did not start, answer or stop as expected."""


class HTTPStatusError(HarnessError):
    """An HTTP answer with a status of 400 or more."""

    def __init__(self, method: str, url: str, status: int, body: bytes) -> None:
        """Keep the status and the body; the message is the server's own if any."""
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        self.message = _server_message(body)
        super().__init__(
            f"{method} {_path_of(url)} answered HTTP {status}: {self.message}"
        )


def _path_of(url: str) -> str:
    """Return the path of ``url``, without its query (which may hold secrets)."""
    return urllib.parse.urlsplit(url).path


def _server_message(body: bytes) -> str:
    """Return the ``message`` of a JSON error body, or the body as text."""
    text = body.decode("utf-8", "replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        return str(parsed["message"])
    return text[:500]


@dataclass(frozen=True, slots=True)
class Response:
    """A complete HTTP answer."""

    status: int
    body: bytes

    def json_object(self) -> dict[str, Any]:
        """Return the body as a JSON object, or raise HarnessError."""
        parsed = self._parse()
        if not isinstance(parsed, dict):
            raise HarnessError(f"expected a JSON object, got: {self.body[:200]!r}")
        return parsed

    def json_list(self) -> list[Any]:
        """Return the body as a JSON array, or raise HarnessError."""
        parsed = self._parse()
        if not isinstance(parsed, list):
            raise HarnessError(f"expected a JSON array, got: {self.body[:200]!r}")
        return parsed

    def _parse(self) -> object:
        """Decode the body as JSON."""
        try:
            parsed: object = json.loads(self.body)
        except ValueError as err:
            raise HarnessError(f"not JSON: {self.body[:200]!r}") from err
        return parsed


def ensure_loopback(url: str) -> None:
    """Raise ValueError unless ``url`` is plain HTTP to 127.0.0.1."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or parts.hostname != LOOPBACK:
        raise ValueError(f"the harness only talks to http://{LOOPBACK}, not {url!r}")


def http_request(  # noqa: PLR0913 - one keyword per HTTP feature the harness uses
    method: str,
    url: str,
    *,
    json_body: object = None,
    form: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    check: bool = True,
) -> Response:
    """Send one request to 127.0.0.1; raise HTTPStatusError on >= 400 if check."""
    ensure_loopback(url)
    all_headers = dict(headers or {})
    data: bytes | None = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif json_body is not None:
        data = json.dumps(json_body).encode()
        all_headers["Content-Type"] = "application/json"
    request = urllib.request.Request(  # noqa: S310 - ensure_loopback checked the URL
        url, data=data, headers=all_headers, method=method
    )
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            response = Response(answer.status, answer.read())
    except urllib.error.HTTPError as err:
        response = Response(err.code, err.read())
        err.close()
    if check and response.status >= 400:  # noqa: PLR2004 - HTTP's error range
        raise HTTPStatusError(method, url, response.status, response.body)
    return response


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port


def port_is_free(port: int) -> bool:
    """Return whether a TCP port on 127.0.0.1 can be bound (as servers do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR: connections in TIME_WAIT do not block them.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def wait_for[T](
    probe: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.2,
    alive: Callable[[], None] | None = None,
) -> T | None:
    """Call ``probe`` until it returns non-None or ``timeout`` passes (then None).

    ``alive`` is called before each probe and may raise to stop waiting early
    (for example when the process being waited for has exited).
    """
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None:
            alive()
        result = probe()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def child_env(extra_pythonpath: Path | None = None) -> dict[str, str]:
    """Return the environment for a child process: unbuffered, no proxies."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in {"http_proxy", "https_proxy", "all_proxy"}
    }
    env["PYTHONUNBUFFERED"] = "1"
    env["NO_PROXY"] = env["no_proxy"] = LOOPBACK
    if extra_pythonpath is not None:
        parts = [str(extra_pythonpath), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(part for part in parts if part)
    return env


def start_process(
    args: list[str], *, cwd: Path, env: Mapping[str, str], log_path: Path | None
) -> tuple[subprocess.Popen[bytes], IO[bytes] | None]:
    """Start ``args`` in a new session, output appended to ``log_path``.

    With ``log_path`` None the child writes to the harness's own stdout and
    stderr. A new session keeps the terminal's Ctrl-C away from the child: the
    harness decides when and how its children stop.
    """
    log: IO[bytes] | None = None
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("ab")
    try:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed args
            args,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT if log is not None else None,
            start_new_session=True,
        )
    except BaseException:
        if log is not None:
            log.close()
        raise
    return process, log


def stop_process(
    process: subprocess.Popen[bytes], *, timeout: float = 20.0
) -> int | None:
    """Terminate ``process``, kill it after ``timeout`` s; return its exit code."""
    if process.poll() is None:
        try:
            process.terminate()
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            try:
                process.wait(timeout=10.0)
            except subprocess.TimeoutExpired:
                return None
        except ProcessLookupError:
            pass
    return process.returncode


def tail(path: Path, lines: int = 30) -> str:
    """Return the last ``lines`` lines of a text file ("" if it does not exist)."""
    try:
        text = path.read_text("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def python_executable() -> str:
    """Return the interpreter children run with: the one running the harness."""
    return sys.executable


class ChildProcess:
    """Own one child process and its log file; stop them together."""

    def __init__(self) -> None:
        """Start with no process and no log file."""
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def poll(self) -> int | None:
        """Return the exit code if the process has exited, else None."""
        return None if self._process is None else self._process.poll()

    def _stop_child(self, timeout: float) -> int | None:
        """Terminate the process (kill it after ``timeout`` s) and close its log."""
        code: int | None = None
        if self._process is not None:
            code = stop_process(self._process, timeout=timeout)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def stop(self) -> int | None:
        """Stop the process; subclasses choose the time limit."""
        raise NotImplementedError

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the process whatever happened."""
        self.stop()


def say(text: str = "") -> None:
    """Write one line to stdout at once."""
    sys.stdout.write(f"{text}\n")
    sys.stdout.flush()


def _raise_interrupt(signum: int, _frame: FrameType | None) -> NoReturn:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so that clean-up runs."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def interrupt_on_signals() -> None:
    """Make Ctrl-C, SIGTERM and SIGHUP raise KeyboardInterrupt.

    Ctrl-C works even when the script was started with SIGINT ignored (a
    background job of a shell script).
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
