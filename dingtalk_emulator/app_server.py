"""The app robot APIs over HTTP, on the same server as the webhook.

A client points both ``https://api.dingtalk.com`` and ``https://oapi.dingtalk.com``
at the emulator's base URL: the paths do not overlap.
"""

from __future__ import annotations

import functools
from typing import Final

from aiohttp import hdrs, web

from . import app_api, checks, rules
from .app_models import AppFaultKind
from .app_oapi import ApiCall, Upload
from .apps import AppRobots
from .web_util import (
    Sleeper,
    drop_connection,
    html_page,
    json_response,
    read_limited,
)

APPS: Final = web.AppKey("apps", AppRobots)
SLEEPER: Final = web.AppKey("sleeper", Sleeper)

#: (path, api) of every app API DingTalk serves; all are POST.
ROUTES: Final = (
    ("/v1.0/oauth2/accessToken", "token"),
    ("/v1.0/robot/oToMessages/batchSend", "batchSend"),
    ("/v1.0/robot/groupMessages/send", "groupMessages"),
    ("/media/upload", "media"),
    ("/topapi/v2/user/getbymobile", "getbymobile"),
    ("/robot/sendBySession", "sendBySession"),
)


def add_routes(app: web.Application) -> None:
    """Serve the app APIs (app[APPS] and app[SLEEPER] must be set)."""
    for path, api in ROUTES:
        app.router.add_post(path, functools.partial(_serve, api=api))


async def _read_upload(request: web.Request) -> Upload:
    """Return the multipart file field "media" and the "type" field, if any."""
    form = await request.post()
    media = form.get("media")
    form_type = form.get("type")
    type_value = form_type if isinstance(form_type, str) else None
    if isinstance(media, web.FileField):
        return Upload(media.filename or "", media.file.read(), type_value)
    return Upload("", b"", type_value)


async def _serve(request: web.Request, *, api: str) -> web.StreamResponse:
    """Handle one app API call, with injected faults applied."""
    apps = request.app[APPS]
    sleeper = request.app[SLEEPER]
    upload: Upload | None = None
    body = b""
    if api == "media":
        upload = await _read_upload(request)
    else:
        body = await read_limited(request, rules.MAX_HTTP_BODY_BYTES)
    call = ApiCall(
        api=api,
        path=request.path,
        query=checks.parse_query(request.raw_path.partition("?")[2]),
        headers=dict(request.headers),
        content_type=request.headers.get(hdrs.CONTENT_TYPE),
        body=body,
        remote=request.remote,
        upload=upload,
    )
    fault = apps.take_fault(app_api.identify(apps, call))
    delayed = fault is not None and fault.kind is AppFaultKind.DELAY
    if fault is not None and delayed and not fault.after_delivery:
        await sleeper.sleep(fault.delay)
    answer = app_api.handle(apps, call, fault)
    if fault is not None and delayed and fault.after_delivery:
        await sleeper.sleep(fault.delay)
    if fault is not None and fault.kind is AppFaultKind.DROP:
        return drop_connection(request)
    if answer.body is None:
        return html_page()
    return json_response(answer.body, status=answer.status)
