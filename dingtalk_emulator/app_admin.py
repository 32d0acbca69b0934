"""The JSON API for apps, people, groups, faults, chats and Stream state (/api/…)."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from .app_models import AppConfig, AppFault, Group, Person, StreamFault
from .app_serialize import (
    app_fault_json,
    app_json,
    app_message_json,
    app_request_json,
    chat_json,
    connection_json,
    group_json,
    person_json,
    push_json,
    stats_json,
    stream_fault_json,
)
from .emulator import Emulator
from .web_util import ApiError, api, int_param, json_response, read_object

EMULATOR: Final = web.AppKey("emulator", Emulator)
#: Headers of GET /api/media: never sniffed, never scripts, files downloaded.
MEDIA_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "no-store",
}


def add_routes(app: web.Application) -> None:
    """Serve the app side's JSON API (app[EMULATOR] must be set)."""
    add = app.router.add_route
    add("GET", "/api/apps", api(_list_apps))
    add("POST", "/api/apps", api(_add_app))
    add("GET", "/api/apps/{client_id}", api(_get_app))
    add("POST", "/api/apps/{client_id}/published", api(_set_published))
    add("POST", "/api/apps/{client_id}/permissions", api(_set_permissions))
    add("POST", "/api/apps/{client_id}/tokens", api(_shorten_next_token))
    add("DELETE", "/api/apps/{client_id}/tokens", api(_expire_tokens))
    add("POST", "/api/apps/{client_id}/faults", api(_add_fault))
    add("DELETE", "/api/apps/{client_id}/faults", api(_clear_faults))
    add("POST", "/api/apps/{client_id}/stream/faults", api(_add_stream_fault))
    add("DELETE", "/api/apps/{client_id}/stream/faults", api(_clear_stream_faults))
    add("GET", "/api/apps/{client_id}/stream", api(_stream))
    add("GET", "/api/apps/{client_id}/stream/pushes", api(_pushes))
    add("GET", "/api/apps/{client_id}/conversations", api(_conversations))
    add("POST", "/api/apps/{client_id}/chat", api(_chat))
    add("GET", "/api/apps/{client_id}/messages", api(_messages))
    add("GET", "/api/apps/{client_id}/chats", api(_chats))
    add("GET", "/api/app-requests", api(_requests))
    add("GET", "/api/users", api(_list_users))
    add("POST", "/api/users", api(_add_user))
    add("DELETE", "/api/users/{user_id}", api(_remove_user))
    add("GET", "/api/groups", api(_list_groups))
    add("POST", "/api/groups", api(_add_group))
    add("POST", "/api/groups/leave", api(_leave_group))
    add("GET", "/api/media/{media_id}", api(_media))


def _app_answer(request: web.Request, status: int = 200) -> web.Response:
    """Answer {"app": …} for the app in the path."""
    emulator = request.app[EMULATOR]
    app = emulator.apps.app(request.match_info["client_id"])
    return json_response({"app": app_json(emulator, app)}, status=status)


async def _list_apps(request: web.Request) -> web.StreamResponse:
    """GET /api/apps: every app, without secrets."""
    emulator = request.app[EMULATOR]
    apps = [app_json(emulator, app) for app in emulator.apps.apps]
    return json_response({"apps": apps})


async def _add_app(request: web.Request) -> web.StreamResponse:
    """POST /api/apps: add an app (AppConfig fields as JSON)."""
    emulator = request.app[EMULATOR]
    app = emulator.apps.add_app(AppConfig.from_dict(await read_object(request)))
    return json_response({"app": app_json(emulator, app)}, status=201)


async def _get_app(request: web.Request) -> web.StreamResponse:
    """GET /api/apps/{client_id}."""
    return _app_answer(request)


async def _set_published(request: web.Request) -> web.StreamResponse:
    """POST /api/apps/{client_id}/published {"published": true|false}."""
    apps = request.app[EMULATOR].apps
    client_id = request.match_info["client_id"]
    apps.app(client_id)  # 404 before 400
    published = (await read_object(request)).get("published")
    if not isinstance(published, bool):
        raise ApiError(400, "published must be a bool")
    apps.set_published(client_id, published)
    return _app_answer(request)


async def _set_permissions(request: web.Request) -> web.StreamResponse:
    """POST /api/apps/{client_id}/permissions {"permissions": […]}."""
    apps = request.app[EMULATOR].apps
    client_id = request.match_info["client_id"]
    apps.app(client_id)
    permissions = (await read_object(request)).get("permissions")
    if not isinstance(permissions, list) or not all(
        isinstance(p, str) for p in permissions
    ):
        raise ApiError(400, "permissions must be a list of strings")
    apps.set_permissions(client_id, frozenset(permissions))
    return _app_answer(request)


async def _shorten_next_token(request: web.Request) -> web.StreamResponse:
    """POST /api/apps/{client_id}/tokens {"expire_in": N}: the next token lives N s."""
    apps = request.app[EMULATOR].apps
    client_id = request.match_info["client_id"]
    apps.app(client_id)  # 404 before 400
    expire_in = (await read_object(request)).get("expire_in")
    if isinstance(expire_in, bool) or not isinstance(expire_in, int):
        raise ApiError(400, "expire_in must be an int")
    apps.shorten_next_token(client_id, expire_in)
    return _app_answer(request)


async def _expire_tokens(request: web.Request) -> web.StreamResponse:
    """DELETE /api/apps/{client_id}/tokens: every token of the app is invalid now."""
    request.app[EMULATOR].apps.expire_tokens(request.match_info["client_id"])
    return _app_answer(request)


async def _add_fault(request: web.Request) -> web.StreamResponse:
    """POST /api/apps/{client_id}/faults: queue an app fault (AppFault fields)."""
    apps = request.app[EMULATOR].apps
    client_id = request.match_info["client_id"]
    apps.app(client_id)
    apps.inject_fault(client_id, AppFault.from_dict(await read_object(request)))
    faults = [app_fault_json(f) for f in apps.pending_faults(client_id)]
    return json_response({"faults": faults}, status=201)


async def _clear_faults(request: web.Request) -> web.StreamResponse:
    """DELETE /api/apps/{client_id}/faults: drop pending app faults."""
    request.app[EMULATOR].apps.clear_faults(request.match_info["client_id"])
    return json_response({"faults": []})


async def _add_stream_fault(request: web.Request) -> web.StreamResponse:
    """POST /api/apps/{client_id}/stream/faults: apply or queue a Stream fault."""
    stream = request.app[EMULATOR].stream
    client_id = request.match_info["client_id"]
    stream.pending_faults(client_id)  # 404 before 400
    stream.inject_fault(client_id, StreamFault.from_dict(await read_object(request)))
    faults = [stream_fault_json(f) for f in stream.pending_faults(client_id)]
    return json_response({"faults": faults}, status=201)


async def _clear_stream_faults(request: web.Request) -> web.StreamResponse:
    """DELETE /api/apps/{client_id}/stream/faults: drop queued Stream faults."""
    request.app[EMULATOR].stream.clear_faults(request.match_info["client_id"])
    return json_response({"faults": []})


async def _stream(request: web.Request) -> web.StreamResponse:
    """GET /api/apps/{client_id}/stream: counters and open connections."""
    stream = request.app[EMULATOR].stream
    client_id = request.match_info["client_id"]
    stats = stats_json(stream.stats(client_id))
    connections = [connection_json(c) for c in stream.connections(client_id)]
    return json_response({"stats": stats, "connections": connections})


async def _pushes(request: web.Request) -> web.StreamResponse:
    """GET /api/apps/{client_id}/stream/pushes: callbacks and their fate."""
    emulator = request.app[EMULATOR]
    client_id = request.match_info["client_id"]
    emulator.apps.app(client_id)
    pushes = [push_json(p) for p in emulator.stream.pushes(client_id)]
    return json_response({"pushes": pushes})


async def _conversations(request: web.Request) -> web.StreamResponse:
    """GET /api/apps/{client_id}/conversations: its 1:1 chats and its groups."""
    apps = request.app[EMULATOR].apps
    client_id = request.match_info["client_id"]
    apps.app(client_id)
    found: list[dict[str, object]] = [
        {
            "conversation_id": apps.conversation_id(client_id, person.user_id),
            "conversation_type": "1",
            "title": person.nick,
            "user_id": person.user_id,
        }
        for person in apps.people
    ]
    found += [
        {
            "conversation_id": group.open_conversation_id,
            "conversation_type": "2",
            "title": group.title,
            "user_id": None,
        }
        for group in apps.groups
        if client_id in group.robots
    ]
    return json_response({"conversations": found})


async def _chat(request: web.Request) -> web.StreamResponse:
    """POST /api/apps/{client_id}/chat: write as a person (pushes a callback)."""
    apps = request.app[EMULATOR].apps
    client_id = request.match_info["client_id"]
    apps.app(client_id)
    body = await read_object(request)
    user_id, text = body.get("user_id"), body.get("text")
    group, at_robot = body.get("group"), body.get("at_robot", False)
    if not isinstance(user_id, str) or not isinstance(text, str):
        raise ApiError(400, "user_id and text must be strings")
    if group is not None and not isinstance(group, str):
        raise ApiError(400, "group must be a string or null")
    if not isinstance(at_robot, bool):
        raise ApiError(400, "at_robot must be a bool")
    chat = apps.chat(client_id, user_id, text, group=group, at_robot=at_robot)
    return json_response({"chat": chat_json(chat, reveal_session=True)}, status=201)


async def _messages(request: web.Request) -> web.StreamResponse:
    """GET /api/apps/{client_id}/messages[?conversation=]: robot messages."""
    apps = request.app[EMULATOR].apps
    client_id = request.match_info["client_id"]
    apps.app(client_id)
    found = apps.messages(client_id, request.query.get("conversation"))
    return json_response({"messages": [app_message_json(m) for m in found]})


async def _chats(request: web.Request) -> web.StreamResponse:
    """GET /api/apps/{client_id}/chats[?conversation=]: what people wrote."""
    apps = request.app[EMULATOR].apps
    client_id = request.match_info["client_id"]
    apps.app(client_id)
    found = apps.chats(client_id, request.query.get("conversation"))
    return json_response({"chats": [chat_json(c) for c in found]})


async def _requests(request: web.Request) -> web.StreamResponse:
    """GET /api/app-requests[?client_id=&api=&since=SEQ&limit=N]: the call log."""
    records = request.app[EMULATOR].apps.requests
    client_id = request.query.get("client_id")
    name = request.query.get("api")
    since = int_param(request, "since")
    limit = int_param(request, "limit")
    records = [
        r
        for r in records
        if client_id in {None, r.client_id}
        and name in {None, r.api}
        and (since is None or r.seq > since)
    ]
    if limit is not None:
        records = records[-limit:] if limit > 0 else []
    return json_response({"requests": [app_request_json(r) for r in records]})


async def _list_users(request: web.Request) -> web.StreamResponse:
    """GET /api/users: everyone in the organisation."""
    people = request.app[EMULATOR].apps.people
    return json_response({"users": [person_json(p) for p in people]})


async def _add_user(request: web.Request) -> web.StreamResponse:
    """POST /api/users: add a person (Person fields as JSON)."""
    apps = request.app[EMULATOR].apps
    person = apps.add_person(Person.from_dict(await read_object(request)))
    return json_response({"user": person_json(person)}, status=201)


async def _remove_user(request: web.Request) -> web.StreamResponse:
    """DELETE /api/users/{user_id}: the person leaves the organisation."""
    apps = request.app[EMULATOR].apps
    person = apps.remove_person(request.match_info["user_id"])
    return json_response({"user": person_json(person)})


async def _leave_group(request: web.Request) -> web.StreamResponse:
    """POST /api/groups/leave {open_conversation_id, client_id}: a robot leaves.

    The ids go in the body: an openConversationId may hold "/" and "+".
    """
    apps = request.app[EMULATOR].apps
    body = await read_object(request)
    cid, client_id = body.get("open_conversation_id"), body.get("client_id")
    if not isinstance(cid, str) or not isinstance(client_id, str):
        raise TypeError("open_conversation_id and client_id must be strings")
    group = apps.leave_group(cid, client_id)
    return json_response({"group": group_json(group)})


async def _list_groups(request: web.Request) -> web.StreamResponse:
    """GET /api/groups: every group."""
    groups = request.app[EMULATOR].apps.groups
    return json_response({"groups": [group_json(g) for g in groups]})


async def _add_group(request: web.Request) -> web.StreamResponse:
    """POST /api/groups: add a group (Group fields as JSON)."""
    apps = request.app[EMULATOR].apps
    group = apps.add_group(Group.from_dict(await read_object(request)))
    return json_response({"group": group_json(group)}, status=201)


async def _media(request: web.Request) -> web.StreamResponse:
    """GET /api/media/{media_id}: the uploaded bytes, as they were uploaded."""
    media = request.app[EMULATOR].apps.media(request.match_info["media_id"])
    headers = dict(MEDIA_HEADERS)
    if not media.content_type.startswith("image/"):
        headers["Content-Disposition"] = "attachment"
    return web.Response(
        body=media.data, content_type=media.content_type, headers=headers
    )
