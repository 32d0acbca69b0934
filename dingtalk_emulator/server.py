"""The emulator over HTTP: /robot/send, the JSON API, Server-Sent Events, the page."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from contextlib import asynccontextmanager
import functools
import http
import json
from typing import Final
from urllib.parse import quote

from aiohttp import hdrs, web

from . import checks, rules
from .clock import ManualClock
from .emulator import Emulator
from .models import Event, EventKind, Fault, FaultKind, RobotConfig, RobotState
from .render import render_message, render_page, render_request_row
from .serialize import fault_json, message_json, request_json, robot_json

#: Seconds a shutdown waits for requests still being handled.
SHUTDOWN_TIMEOUT: Final = 2.0
#: Events queued per SSE client before it is cut off as too slow.
SSE_QUEUE_SIZE: Final = 1000
#: Seconds between SSE keep-alive comments.
SSE_KEEPALIVE: Final = 15.0
NON_JSON_BODY: Final = (
    "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center></body></html>"
)
PAGE_SECURITY_POLICY: Final = (
    "default-src 'none'; img-src http: https: data:; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'"
)

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _dumps(value: object) -> str:
    """Serialise JSON compactly, keeping Chinese text readable."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _Hub:
    """Fans emulator events out to SSE clients; wakes DELAY faults at shutdown."""

    def __init__(self) -> None:
        """Start with no clients."""
        self._queues: set[asyncio.Queue[bytes | None]] = set()
        self._closing = asyncio.Event()

    def publish(self, event: Event) -> None:
        """Render an event once and queue it for every client."""
        if not self._queues:
            return
        frame = _sse_frame(event)
        for queue in tuple(self._queues):
            if queue.full():  # a client that stopped reading: cut it off
                self._queues.discard(queue)
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(None)
            else:
                queue.put_nowait(frame)

    def subscribe(self) -> asyncio.Queue[bytes | None]:
        """Add a client."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(SSE_QUEUE_SIZE)
        if self._closing.is_set():
            queue.put_nowait(None)
        else:
            self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[bytes | None]) -> None:
        """Remove a client."""
        self._queues.discard(queue)

    def close(self) -> None:
        """End every SSE stream and wake every sleeping DELAY fault."""
        self._closing.set()
        for queue in self._queues:
            queue.put_nowait(None)  # publish keeps one slot free for this
        self._queues.clear()

    async def sleep(self, seconds: float) -> None:
        """Sleep (real time), but wake at once when the server shuts down."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)


def _sse_frame(event: Event) -> bytes:
    """Return an event as one Server-Sent Events frame."""
    if event.kind is EventKind.DELIVERED and event.message is not None:
        message = event.message
        name = "delivered"
        data = message_json(message)
        data["robot_id"] = data["robot"]
        data["html"] = render_message(message)
    elif event.kind is EventKind.REQUEST and event.request is not None:
        name = "request"
        data = request_json(event.request)
        data["html"] = render_request_row(event.request)
    else:
        name, data = "reload", {"kind": event.kind.value}
    return f"event: {name}\ndata: {_dumps(data)}\n\n".encode()


EMULATOR: Final = web.AppKey("emulator", Emulator)
HUB: Final = web.AppKey("hub", _Hub)


class EmulatorServer:
    """A running emulator HTTP server."""

    def __init__(self, emulator: Emulator, host: str, port: int) -> None:
        """Describe a server listening on ``host``:``port``."""
        self.emulator = emulator
        self.host = host
        self.port = port
        netloc = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{netloc}:{port}"

    def url(self, path: str) -> str:
        """Return the absolute URL of ``path`` (which starts with "/")."""
        return f"{self.base_url}{path}"

    def webhook_url(self, token: str) -> str:
        """Return the robot's webhook URL, as DingTalk shows it (unsigned)."""
        return self.url(f"/robot/send?access_token={quote(token, safe='')}")

    def __repr__(self) -> str:
        """Show where the server listens."""
        return f"EmulatorServer({self.base_url!r})"


@asynccontextmanager
async def serve(
    emulator: Emulator, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[EmulatorServer]:
    """Serve ``emulator`` on host:port (0 = any free port) while the context is open."""
    runner = web.AppRunner(
        create_app(emulator), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        yield EmulatorServer(emulator, str(bound_host), int(bound_port))
    finally:
        await runner.cleanup()


def create_app(emulator: Emulator) -> web.Application:
    """Build the aiohttp application for ``emulator``."""
    app = web.Application(client_max_size=rules.MAX_HTTP_BODY_BYTES)
    hub = _Hub()
    app[EMULATOR] = emulator
    app[HUB] = hub

    async def cleanup_ctx(_app: web.Application) -> AsyncIterator[None]:
        """Follow the emulator's events while the app runs."""
        unsubscribe = emulator.subscribe(hub.publish)
        yield
        unsubscribe()

    async def on_shutdown(_app: web.Application) -> None:
        """End SSE streams and DELAY faults so that shutdown is quick."""
        hub.close()

    app.cleanup_ctx.append(cleanup_ctx)
    app.on_shutdown.append(on_shutdown)
    app.router.add_post("/robot/send", _send)
    app.router.add_get("/", _page)
    app.router.add_get("/api/robots", _api(_list_robots))
    app.router.add_post("/api/robots", _api(_add_robot))
    app.router.add_delete("/api/robots/{token}", _api(_remove_robot))
    app.router.add_post("/api/robots/{token}/state", _api(_set_state))
    app.router.add_post("/api/robots/{token}/faults", _api(_add_fault))
    app.router.add_delete("/api/robots/{token}/faults", _api(_clear_faults))
    app.router.add_get("/api/requests", _api(_requests))
    app.router.add_get("/api/messages", _api(_messages))
    app.router.add_post("/api/reset", _api(_reset))
    app.router.add_get("/api/clock", _api(_clock))
    app.router.add_post("/api/clock/advance", _api(_advance_clock))
    app.router.add_get("/api/events", _events)
    return app


# -- /robot/send ---------------------------------------------------------------------


async def _send(request: web.Request) -> web.StreamResponse:
    """POST /robot/send: DingTalk's webhook, with injected faults applied."""
    emulator = request.app[EMULATOR]
    hub = request.app[HUB]
    raw_query = request.raw_path.partition("?")[2]
    body = await request.read()
    token = checks.parse_query(raw_query).get("access_token") or None
    fault = emulator.take_fault(token)
    delay_first = fault is not None and fault.kind is FaultKind.DELAY
    if fault is not None and delay_first and not fault.after_delivery:
        await hub.sleep(fault.delay)
    result = emulator.handle_send(
        raw_query,
        content_type=request.headers.get(hdrs.CONTENT_TYPE),
        body=body,
        remote=request.remote,
        headers=request.headers,
        fault=fault,
    )
    if fault is None:
        return web.json_response(result.response, dumps=_dumps)
    if fault.kind is FaultKind.DELAY and fault.after_delivery:
        await hub.sleep(fault.delay)
    return _faulty_reply(request, fault, result.response)


def _faulty_reply(
    request: web.Request, fault: Fault, answer: dict[str, object]
) -> web.StreamResponse:
    """Shape the HTTP reply of a request that met a fault."""
    if fault.kind is FaultKind.DROP:
        if request.transport is not None:
            request.transport.close()
        return web.Response()  # never reaches the client: the connection is gone
    if fault.kind is FaultKind.HTTP_5XX:
        try:
            reason = http.HTTPStatus(fault.status).phrase
        except ValueError:
            reason = "Server Error"
        return web.Response(status=fault.status, text=f"{fault.status} {reason}")
    if fault.kind is FaultKind.NON_JSON:
        return web.Response(text=NON_JSON_BODY, content_type="text/html")
    return web.json_response(answer, dumps=_dumps)  # BUSY, RATE, DELAY


# -- the page and events -------------------------------------------------------------


async def _page(request: web.Request) -> web.StreamResponse:
    """GET /: every robot's group chat as DingTalk renders it, and the request log."""
    return web.Response(
        text=render_page(request.app[EMULATOR]),
        content_type="text/html",
        headers={
            "Content-Security-Policy": PAGE_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


async def _events(request: web.Request) -> web.StreamResponse:
    """GET /api/events: a Server-Sent Events stream of requests and deliveries."""
    hub = request.app[HUB]
    response = web.StreamResponse(
        headers={
            hdrs.CONTENT_TYPE: "text/event-stream; charset=utf-8",
            hdrs.CACHE_CONTROL: "no-cache",
        }
    )
    queue = hub.subscribe()
    try:
        await response.prepare(request)
        await response.write(b"retry: 2000\n: connected\n\n")
        while True:
            try:
                frame = await asyncio.wait_for(queue.get(), timeout=SSE_KEEPALIVE)
            except TimeoutError:
                frame = b": keep-alive\n\n"
            if frame is None:
                break
            await response.write(frame)
    except ConnectionError:
        pass  # the client went away
    finally:
        hub.unsubscribe(queue)
    return response


# -- the JSON API --------------------------------------------------------------------


class _ApiError(Exception):
    """An error answered as {"error": …} with an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        """Remember the status and the message."""
        super().__init__(message)
        self.status = status


def _api(handler: Handler) -> Handler:
    """Answer bad input with 400, unknown robots with 404, as JSON."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        """Call the handler and turn its errors into JSON answers."""
        try:
            return await handler(request)
        except _ApiError as err:
            return _json({"error": str(err)}, status=err.status)
        except KeyError as err:
            return _json({"error": str(err.args[0])}, status=404)
        except (TypeError, ValueError) as err:
            return _json({"error": str(err)}, status=400)

    return wrapper


def _json(value: object, status: int = 200) -> web.Response:
    """Return a JSON answer."""
    return web.json_response(value, status=status, dumps=_dumps)


async def _body(request: web.Request) -> dict[str, object]:
    """Return the request body as a JSON object (400 otherwise)."""
    try:
        value = json.loads(await request.read() or b"{}")
    except ValueError:
        raise _ApiError(400, "the body must be a JSON object") from None
    if not isinstance(value, dict):
        raise _ApiError(400, "the body must be a JSON object")
    return value


async def _list_robots(request: web.Request) -> web.StreamResponse:
    """GET /api/robots."""
    emulator = request.app[EMULATOR]
    return _json({"robots": [robot_json(emulator, r) for r in emulator.robots]})


async def _add_robot(request: web.Request) -> web.StreamResponse:
    """POST /api/robots: add a robot (RobotConfig fields as JSON)."""
    emulator = request.app[EMULATOR]
    robot = emulator.add_robot(RobotConfig.from_dict(await _body(request)))
    webhook = request.url.with_path("/robot/send").with_query(
        access_token=robot.access_token
    )
    return _json(
        {"robot": robot_json(emulator, robot), "webhook_url": str(webhook)},
        status=201,
    )


async def _remove_robot(request: web.Request) -> web.StreamResponse:
    """DELETE /api/robots/{token}: forget a robot."""
    emulator = request.app[EMULATOR]
    robot = emulator.robot(request.match_info["token"])
    emulator.remove_robot(robot.access_token)
    return _json({"removed": robot.fingerprint})


async def _set_state(request: web.Request) -> web.StreamResponse:
    """POST /api/robots/{token}/state {"state": "disabled"|"removed"|…}."""
    emulator = request.app[EMULATOR]
    token = request.match_info["token"]
    state = (await _body(request)).get("state")
    if not isinstance(state, str):
        raise _ApiError(400, "state must be a string")
    emulator.set_robot_state(token, RobotState(state))
    return _json({"robot": robot_json(emulator, emulator.robot(token))})


async def _add_fault(request: web.Request) -> web.StreamResponse:
    """POST /api/robots/{token}/faults: queue a fault (Fault fields as JSON)."""
    emulator = request.app[EMULATOR]
    token = request.match_info["token"]
    emulator.robot(token)  # 404 before 400
    emulator.inject_fault(token, Fault.from_dict(await _body(request)))
    faults = [fault_json(fault) for fault in emulator.pending_faults(token)]
    return _json({"faults": faults}, status=201)


async def _clear_faults(request: web.Request) -> web.StreamResponse:
    """DELETE /api/robots/{token}/faults: drop pending faults."""
    request.app[EMULATOR].clear_faults(request.match_info["token"])
    return _json({"faults": []})


def _int_param(request: web.Request, name: str) -> int | None:
    """Return an integer query parameter, if given."""
    value = request.query.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise _ApiError(400, f"{name} must be an integer") from None


async def _requests(request: web.Request) -> web.StreamResponse:
    """GET /api/requests[?token=&since=SEQ&limit=N]: the request log, oldest first."""
    records = request.app[EMULATOR].requests
    token = request.query.get("token")
    since = _int_param(request, "since")
    limit = _int_param(request, "limit")
    if token is not None:
        records = [r for r in records if r.token == token]
    if since is not None:
        records = [r for r in records if r.seq > since]
    if limit is not None:
        records = records[-limit:] if limit > 0 else []
    return _json({"requests": [request_json(r) for r in records]})


async def _messages(request: web.Request) -> web.StreamResponse:
    """GET /api/messages[?token=]: delivered messages, oldest first."""
    messages = request.app[EMULATOR].delivered(request.query.get("token"))
    return _json({"messages": [message_json(m) for m in messages]})


async def _reset(request: web.Request) -> web.StreamResponse:
    """POST /api/reset: forget history, rate state, msgUuids and faults."""
    request.app[EMULATOR].reset()
    return _json({"ok": True})


async def _clock(request: web.Request) -> web.StreamResponse:
    """GET /api/clock: the emulator's time and whether it is manual."""
    clock = request.app[EMULATOR].clock
    return _json({"now": clock.now(), "manual": isinstance(clock, ManualClock)})


async def _advance_clock(request: web.Request) -> web.StreamResponse:
    """POST /api/clock/advance {"seconds": N}: move a manual clock forward."""
    emulator = request.app[EMULATOR]
    if not isinstance(emulator.clock, ManualClock):
        raise _ApiError(409, "the emulator's clock is not manual")
    seconds = (await _body(request)).get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise _ApiError(400, "seconds must be a number")
    return _json({"now": emulator.advance_clock(seconds)})
