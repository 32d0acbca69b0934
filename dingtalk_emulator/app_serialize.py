"""JSON views of apps, people, groups, messages, requests and Stream state.

Secrets never appear: no client_secret, no access token (the log masks them), and
listings mask the session of every sessionWebhook URL.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any, Final

from .serialize import HIDDEN_HEADERS

if TYPE_CHECKING:
    from .app_models import (
        AppConfig,
        AppFault,
        AppMessage,
        AppRequest,
        ChatMessage,
        Group,
        Person,
        StreamFault,
    )
    from .emulator import Emulator
    from .stream_models import ConnectionInfo, StreamPush, StreamStats

_SESSION: Final = re.compile(r"(session=)([^&\"]{6})[^&\"]*")


def mask_sessions(value: Any) -> Any:  # noqa: ANN401 - any JSON value
    """Return a JSON value with every ``session=`` token cut to 6 characters."""
    if isinstance(value, str):
        return _SESSION.sub(r"\1\2…", value)
    if isinstance(value, dict):
        return {k: mask_sessions(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_sessions(v) for v in value]
    return value


def app_fault_json(fault: AppFault) -> dict[str, object]:
    """Return an app fault as JSON."""
    return {
        "kind": fault.kind.value,
        "count": fault.count,
        "delay": fault.delay,
        "status": fault.status,
        "after_delivery": fault.after_delivery,
    }


def stream_fault_json(fault: StreamFault) -> dict[str, object]:
    """Return a Stream fault as JSON."""
    return {
        "kind": fault.kind.value,
        "count": fault.count,
        "delay": fault.delay,
        "status": fault.status,
        "connection": fault.connection,
    }


def app_json(emulator: Emulator, app: AppConfig) -> dict[str, object]:
    """Return an app as JSON: never its secret."""
    apps = emulator.apps
    client_id = app.client_id
    return {
        "client_id": client_id,
        "robot_code": app.robot_code,
        "name": app.name,
        "published": app.published,
        "permissions": sorted(app.permissions),
        "token_requests": apps.token_requests(client_id),
        "delivered": len(apps.messages(client_id)),
        "faults": [app_fault_json(f) for f in apps.pending_faults(client_id)],
        "stream_faults": [
            stream_fault_json(f) for f in emulator.stream.pending_faults(client_id)
        ],
        "connections_open": len(emulator.stream.connections(client_id)),
    }


def person_json(person: Person) -> dict[str, object]:
    """Return a person as JSON."""
    return {
        "user_id": person.user_id,
        "name": person.name,
        "mobile": person.mobile,
        "admin": person.admin,
    }


def group_json(group: Group) -> dict[str, object]:
    """Return a group as JSON."""
    return {
        "open_conversation_id": group.open_conversation_id,
        "title": group.title,
        "members": list(group.members),
        "robots": list(group.robots),
    }


def app_message_json(message: AppMessage) -> dict[str, object]:
    """Return a delivered robot message as JSON."""
    return {
        "seq": message.seq,
        "at": message.at,
        "client_id": message.client_id,
        "conversation_id": message.conversation_id,
        "conversation_type": message.conversation_type.value,
        "via": message.via.value,
        "user_id": message.user_id,
        "msg_key": message.msg_key,
        "msg_param": message.msg_param,
        "payload": message.payload,
        "process_query_key": message.process_query_key,
        "at_user_ids": list(message.at_user_ids),
        "notices": list(message.notices),
    }


def chat_json(chat: ChatMessage, *, reveal_session: bool = False) -> dict[str, object]:
    """Return a person's message as JSON (sessions masked unless revealed)."""
    callback = chat.callback if reveal_session else mask_sessions(chat.callback)
    return {
        "seq": chat.seq,
        "at": chat.at,
        "client_id": chat.client_id,
        "conversation_id": chat.conversation_id,
        "conversation_type": chat.conversation_type.value,
        "sender": chat.sender,
        "text": chat.text,
        "at_robot": chat.at_robot,
        "msg_id": chat.msg_id,
        "pushed": chat.callback is not None,
        "message_id": chat.message_id,
        "callback": callback,
    }


def app_request_json(record: AppRequest) -> dict[str, object]:
    """Return a recorded app API call as JSON (tokens and secrets masked)."""
    return {
        "seq": record.seq,
        "at": record.at,
        "api": record.api,
        "client_id": record.client_id,
        "path": record.path,
        "query": record.query,
        "headers": {
            name: value
            for name, value in record.headers.items()
            if name.lower() not in HIDDEN_HEADERS
        },
        "body": mask_sessions(record.body),
        "remote": record.remote,
        "http_status": record.http_status,
        "code": record.code,
        "message": record.message,
        "fault": None if record.fault is None else record.fault.value,
        "delivered": record.delivered,
        "ok": record.ok,
    }


def stats_json(stats: StreamStats) -> dict[str, object]:
    """Return an app's Stream counters as JSON."""
    return dataclasses.asdict(stats)


def connection_json(info: ConnectionInfo) -> dict[str, object]:
    """Return a Stream connection as JSON."""
    return {
        "connection_id": info.connection_id,
        "client_id": info.client_id,
        "opened_at": info.opened_at,
        "subscriptions": [
            {"type": t, "topic": topic} for t, topic in info.subscriptions
        ],
        "ua": info.ua,
        "local_ip": info.local_ip,
        "state": info.state,
        "silent": info.silent,
        "frames_sent": info.frames_sent,
        "frames_received": info.frames_received,
    }


def push_json(push: StreamPush) -> dict[str, object]:
    """Return a Stream callback and what became of it as JSON."""
    return {
        "message_id": push.message_id,
        "client_id": push.client_id,
        "topic": push.topic,
        "data": mask_sessions(push.data),
        "created_at": push.created_at,
        "attempts": [{"connection": a.connection, "at": a.at} for a in push.attempts],
        "state": push.state.value,
        "acked_by": push.acked_by,
        "ack": push.ack,
    }
