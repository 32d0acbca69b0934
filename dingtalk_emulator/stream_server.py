"""Stream mode over HTTP: POST /v1.0/gateway/connections/open and the WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final
from xml.sax.saxutils import escape

from aiohttp import WSMsgType, hdrs, web

from . import app_checks, rules
from .app_codes import ApiError
from .app_oapi import request_id
from .app_server import APPS
from .stream import StreamHub
from .web_util import json_response, read_limited

STREAM: Final = web.AppKey("stream", StreamHub)
#: Seconds a WebSocket close waits for the client's close frame.
WS_CLOSE_TIMEOUT: Final = 2.0


def add_routes(app: web.Application) -> None:
    """Serve Stream mode (app[APPS] and app[STREAM] must be set)."""
    app.router.add_post("/v1.0/gateway/connections/open", _open)
    app.router.add_get("/connect", _connect)


def _xml(root: str, values: dict[str, str]) -> str:
    """Return a flat XML document (the gateway's answer without Accept: JSON)."""
    inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in values.items())
    return f'<?xml version="1.0" encoding="UTF-8"?><{root}>{inner}</{root}>'


async def _open(request: web.Request) -> web.StreamResponse:
    """POST /v1.0/gateway/connections/open: a ticket and the WebSocket endpoint."""
    hub = request.app[STREAM]
    raw = await read_limited(request, rules.MAX_HTTP_BODY_BYTES)
    body = app_checks.json_object(raw)
    result = hub.open_connection(body)
    if isinstance(result, ApiError):
        status, root = result.status, "Error"
        answer = {
            "code": result.code,
            "message": result.message,
            "requestid": request_id(),
        }
        client_id = (body or {}).get("clientId")
    else:
        status, root = 200, "OpenConnectionResponse"
        answer = {"endpoint": f"ws://{request.host}/connect", "ticket": result.ticket}
        client_id = result.client_id
    known = {app.client_id for app in hub.apps.apps}
    request.app[APPS].record_request(
        api="connections/open",
        client_id=client_id if client_id in known else None,
        path=request.path,
        query=dict(request.query),
        headers=dict(request.headers),
        body=app_checks.mask_body(raw),
        remote=request.remote,
        http_status=status,
        code=answer.get("code"),
        message=answer.get("message", "ok"),
    )
    # Without Accept: application/json the gateway answers XML (N1, §11.1).
    if "application/json" in request.headers.get(hdrs.ACCEPT, ""):
        return json_response(answer, status=status)
    return web.Response(
        text=_xml(root, answer), status=status, content_type="application/xml"
    )


async def _write(ws: web.WebSocketResponse, queue: asyncio.Queue[str | None]) -> None:
    """Send queued frames; a None closes the WebSocket."""
    with contextlib.suppress(ConnectionError):
        while (frame := await queue.get()) is not None:
            await ws.send_str(frame)
    await ws.close()


async def _connect(request: web.Request) -> web.StreamResponse:
    """GET /connect?ticket=…: the Stream WebSocket (frames of §7.2-§7.4)."""
    hub = request.app[STREAM]
    ticket = hub.take_ticket(request.query.get("ticket"))
    if isinstance(ticket, ApiError):
        answer = {"code": ticket.code, "message": ticket.message}
        return json_response({**answer, "requestid": request_id()}, ticket.status)
    ws = web.WebSocketResponse(autoping=False, timeout=WS_CLOSE_TIMEOUT)
    await ws.prepare(request)
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    transport = request.transport  # set: prepare() succeeded
    abort = transport.close if transport is not None else ws.force_close  # no frame
    connection = hub.connect(
        ticket, queue.put_nowait, lambda: queue.put_nowait(None), abort
    )
    writer = asyncio.create_task(_write(ws, queue))
    try:
        async for message in ws:
            if connection.silent:
                continue  # a silent connection answers nothing, not even pings
            if message.type is WSMsgType.TEXT:
                hub.receive(connection, message.data)
            elif message.type is WSMsgType.PING:
                await ws.pong(message.data)
    finally:
        hub.closed(connection)
        queue.put_nowait(None)
        await writer
    return ws
