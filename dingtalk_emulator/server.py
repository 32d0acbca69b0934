"""The emulator over HTTP: /robot/send, the JSON API, Server-Sent Events, the page."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import asynccontextmanager
import http
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

from aiohttp import hdrs, web

from . import app_admin, app_server, checks, rules, stream_server
from .app_admin import EMULATOR
from .app_render import app_sse_data
from .clock import ManualClock
from .models import Event, EventKind, Fault, FaultKind, RobotConfig, RobotState
from .page import render_page
from .render import render_message, render_request_row
from .serialize import fault_json, message_json, request_json, robot_json
from .web_util import (
    ApiError,
    api,
    drop_connection,
    dumps,
    html_page,
    int_param,
    json_response,
    read_limited,
    read_object,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from .apps import AppRobots
    from .emulator import Emulator

#: Seconds a shutdown waits for requests still being handled.
SHUTDOWN_TIMEOUT: Final = 2.0
#: Events queued per SSE client before it is cut off as too slow.
SSE_QUEUE_SIZE: Final = 1000
#: Seconds between SSE keep-alive comments.
SSE_KEEPALIVE: Final = 15.0
PAGE_SECURITY_POLICY: Final = (
    "default-src 'none'; img-src 'self' http: https: data:; "
    "style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'"
)


class _Hub:
    """Fans emulator events out to SSE clients; wakes DELAY faults at shutdown."""

    def __init__(self, apps: AppRobots | None = None) -> None:
        """Start with no clients; ``apps`` renders the app side's events."""
        self._apps = apps
        self._queues: set[asyncio.Queue[bytes | None]] = set()
        self._closing = asyncio.Event()

    def publish(self, event: Event) -> None:
        """Render an event once and queue it for every client."""
        if not self._queues:
            return
        frame = _sse_frame(event, self._apps)
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


def _sse_frame(event: Event, apps: AppRobots | None = None) -> bytes:
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
    elif apps is not None and (app_event := app_sse_data(apps, event)) is not None:
        name, data = app_event
    else:
        name, data = "reload", {"kind": event.kind.value}
    return f"event: {name}\ndata: {dumps(data)}\n\n".encode()


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
        server = EmulatorServer(emulator, str(bound_host), int(bound_port))
        emulator.apps.base_url = server.base_url  # sessionWebhook URLs
        yield server
    finally:
        await runner.cleanup()


def create_app(emulator: Emulator) -> web.Application:
    """Build the aiohttp application for ``emulator``."""
    # /robot/send and the app APIs limit their bodies themselves; uploads are larger.
    app = web.Application(client_max_size=rules.MAX_UPLOAD_HTTP_BYTES)
    hub = _Hub(emulator.apps)
    app[EMULATOR] = emulator
    app[HUB] = hub
    app[app_server.APPS] = emulator.apps
    app[app_server.SLEEPER] = hub
    app[stream_server.STREAM] = emulator.stream

    async def cleanup_ctx(_app: web.Application) -> AsyncIterator[None]:
        """Follow the emulator's events and run Stream timers while the app runs."""
        unsubscribe = emulator.subscribe(hub.publish)
        emulator.stream.attach(asyncio.get_running_loop())
        yield
        unsubscribe()

    async def on_shutdown(_app: web.Application) -> None:
        """End SSE streams, DELAY faults and Stream connections: a quick shutdown."""
        hub.close()
        emulator.stream.detach()

    app.cleanup_ctx.append(cleanup_ctx)
    app.on_shutdown.append(on_shutdown)
    app.router.add_post("/robot/send", _send)
    app.router.add_get("/", _page)
    app.router.add_get("/api/robots", api(_list_robots))
    app.router.add_post("/api/robots", api(_add_robot))
    app.router.add_delete("/api/robots/{token}", api(_remove_robot))
    app.router.add_post("/api/robots/{token}/state", api(_set_state))
    app.router.add_post("/api/robots/{token}/faults", api(_add_fault))
    app.router.add_delete("/api/robots/{token}/faults", api(_clear_faults))
    app.router.add_get("/api/requests", api(_requests))
    app.router.add_get("/api/messages", api(_messages))
    app.router.add_post("/api/reset", api(_reset))
    app.router.add_get("/api/clock", api(_clock))
    app.router.add_post("/api/clock/advance", api(_advance_clock))
    app.router.add_get("/api/events", _events)
    app_server.add_routes(app)
    stream_server.add_routes(app)
    app_admin.add_routes(app)
    return app


# -- /robot/send ---------------------------------------------------------------------


async def _send(request: web.Request) -> web.StreamResponse:
    """POST /robot/send: DingTalk's webhook, with injected faults applied."""
    emulator = request.app[EMULATOR]
    hub = request.app[HUB]
    raw_query = request.raw_path.partition("?")[2]
    body = await read_limited(request, rules.MAX_HTTP_BODY_BYTES)
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
        return web.json_response(result.response, dumps=dumps)
    if fault.kind is FaultKind.DELAY and fault.after_delivery:
        await hub.sleep(fault.delay)
    return _faulty_reply(request, fault, result.response)


def _faulty_reply(
    request: web.Request, fault: Fault, answer: dict[str, object]
) -> web.StreamResponse:
    """Shape the HTTP reply of a request that met a fault."""
    if fault.kind is FaultKind.DROP:
        return drop_connection(request)
    if fault.kind is FaultKind.HTTP_5XX:
        try:
            reason = http.HTTPStatus(fault.status).phrase
        except ValueError:
            reason = "Server Error"
        return web.Response(status=fault.status, text=f"{fault.status} {reason}")
    if fault.kind is FaultKind.NON_JSON:
        return html_page()
    return web.json_response(answer, dumps=dumps)  # BUSY, RATE, DELAY


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


async def _list_robots(request: web.Request) -> web.StreamResponse:
    """GET /api/robots."""
    emulator = request.app[EMULATOR]
    return json_response({"robots": [robot_json(emulator, r) for r in emulator.robots]})


async def _add_robot(request: web.Request) -> web.StreamResponse:
    """POST /api/robots: add a robot (RobotConfig fields as JSON)."""
    emulator = request.app[EMULATOR]
    robot = emulator.add_robot(RobotConfig.from_dict(await read_object(request)))
    webhook = request.url.with_path("/robot/send").with_query(
        access_token=robot.access_token
    )
    return json_response(
        {"robot": robot_json(emulator, robot), "webhook_url": str(webhook)},
        status=201,
    )


async def _remove_robot(request: web.Request) -> web.StreamResponse:
    """DELETE /api/robots/{token}: forget a robot."""
    emulator = request.app[EMULATOR]
    robot = emulator.robot(request.match_info["token"])
    emulator.remove_robot(robot.access_token)
    return json_response({"removed": robot.fingerprint})


async def _set_state(request: web.Request) -> web.StreamResponse:
    """POST /api/robots/{token}/state {"state": "disabled"|"removed"|…}."""
    emulator = request.app[EMULATOR]
    token = request.match_info["token"]
    state = (await read_object(request)).get("state")
    if not isinstance(state, str):
        raise ApiError(400, "state must be a string")
    emulator.set_robot_state(token, RobotState(state))
    return json_response({"robot": robot_json(emulator, emulator.robot(token))})


async def _add_fault(request: web.Request) -> web.StreamResponse:
    """POST /api/robots/{token}/faults: queue a fault (Fault fields as JSON)."""
    emulator = request.app[EMULATOR]
    token = request.match_info["token"]
    emulator.robot(token)  # 404 before 400
    emulator.inject_fault(token, Fault.from_dict(await read_object(request)))
    faults = [fault_json(fault) for fault in emulator.pending_faults(token)]
    return json_response({"faults": faults}, status=201)


async def _clear_faults(request: web.Request) -> web.StreamResponse:
    """DELETE /api/robots/{token}/faults: drop pending faults."""
    request.app[EMULATOR].clear_faults(request.match_info["token"])
    return json_response({"faults": []})


async def _requests(request: web.Request) -> web.StreamResponse:
    """GET /api/requests[?token=&since=SEQ&limit=N]: the request log, oldest first."""
    records = request.app[EMULATOR].requests
    token = request.query.get("token")
    since = int_param(request, "since")
    limit = int_param(request, "limit")
    if token is not None:
        records = [r for r in records if r.token == token]
    if since is not None:
        records = [r for r in records if r.seq > since]
    if limit is not None:
        records = records[-limit:] if limit > 0 else []
    return json_response({"requests": [request_json(r) for r in records]})


async def _messages(request: web.Request) -> web.StreamResponse:
    """GET /api/messages[?token=]: delivered messages, oldest first."""
    messages = request.app[EMULATOR].delivered(request.query.get("token"))
    return json_response({"messages": [message_json(m) for m in messages]})


async def _reset(request: web.Request) -> web.StreamResponse:
    """POST /api/reset: forget history, rate state, msgUuids and faults."""
    request.app[EMULATOR].reset()
    return json_response({"ok": True})


async def _clock(request: web.Request) -> web.StreamResponse:
    """GET /api/clock: the emulator's time and whether it is manual."""
    clock = request.app[EMULATOR].clock
    return json_response({"now": clock.now(), "manual": isinstance(clock, ManualClock)})


async def _advance_clock(request: web.Request) -> web.StreamResponse:
    """POST /api/clock/advance {"seconds": N}: move a manual clock forward."""
    emulator = request.app[EMULATOR]
    if not isinstance(emulator.clock, ManualClock):
        raise ApiError(409, "the emulator's clock is not manual")
    seconds = (await read_object(request)).get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ApiError(400, "seconds must be a number")
    return json_response({"now": emulator.advance_clock(seconds)})
