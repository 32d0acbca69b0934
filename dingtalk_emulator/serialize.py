"""JSON views of robots, requests and messages for the /api endpoints.

Tokens are secrets: the JSON API shows a fingerprint (first 6 characters and "…") and
a robot id (a hash), never a full token or secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .models import (
    DeliveredMessage,
    Fault,
    Notice,
    RecordedRequest,
    RobotConfig,
    fingerprint,
    robot_id,
)

if TYPE_CHECKING:
    from .emulator import Emulator

#: Request headers the JSON API never shows.
HIDDEN_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


def notice_json(notice: Notice) -> dict[str, object]:
    """Return a notice as JSON."""
    return {"code": notice.code, "detail": notice.detail}


def fault_json(fault: Fault) -> dict[str, object]:
    """Return a fault as JSON."""
    return {
        "kind": fault.kind.value,
        "count": fault.count,
        "delay": fault.delay,
        "status": fault.status,
        "errcode": fault.errcode,
        "after_delivery": fault.after_delivery,
    }


def robot_json(emulator: Emulator, robot: RobotConfig) -> dict[str, object]:
    """Return a robot as JSON: its fingerprint, never its token or secret."""
    token = robot.access_token
    return {
        "id": robot_id(token),
        "fingerprint": robot.fingerprint,
        "name": robot.name,
        "state": robot.state.value,
        "signed": robot.secret is not None,
        "keywords": list(robot.keywords),
        "ip_allowlist": list(robot.ip_allowlist),
        "throttled_until": emulator.throttled_until(token),
        "delivered": len(emulator.delivered(token)),
        "faults": [fault_json(fault) for fault in emulator.pending_faults(token)],
    }


def request_json(record: RecordedRequest) -> dict[str, object]:
    """Return a recorded request as JSON (token fingerprinted, sign masked)."""
    query = dict(record.query)
    if "access_token" in query:
        query["access_token"] = fingerprint(query["access_token"])
    return {
        "seq": record.seq,
        "at": record.at,
        "robot": None if record.token is None else robot_id(record.token),
        "fingerprint": record.fingerprint,
        "known_robot": record.known_robot,
        "query": query,
        "headers": {
            name: value
            for name, value in record.headers.items()
            if name.lower() not in HIDDEN_HEADERS
        },
        "remote": record.remote,
        "body": record.body.decode("utf-8", "replace"),
        "http_status": record.http_status,
        "errcode": record.errcode,
        "errmsg": record.errmsg,
        "signature_verified": record.signature_verified,
        "delivered": record.delivered,
        "duplicate": record.duplicate,
        "msg_uuid": record.msg_uuid,
        "fault": None if record.fault is None else record.fault.value,
        "notices": [notice_json(notice) for notice in record.notices],
    }


def message_json(message: DeliveredMessage) -> dict[str, object]:
    """Return a delivered message as JSON, with who its mentions notify."""
    return {
        "seq": message.seq,
        "at": message.at,
        "robot": robot_id(message.token),
        "fingerprint": message.fingerprint,
        "msgtype": message.msgtype,
        "msg_uuid": message.msg_uuid,
        "payload": message.payload,
        "rang": list(message.rang),
        "silent": list(message.silent),
        "at_all": message.at_all,
        "notices": [notice_json(notice) for notice in message.mentions.notices],
    }
