"""The app robot APIs without HTTP: token, sends, upload, lookup, sessionWebhook.

Each call runs through DingTalk's checks in order (the first failure answers), is
recorded in the app request log, and may deliver robot messages. A fault taken with
``AppRobots.take_fault`` replaces processing unless it is a DELAY or strikes
after_delivery; the HTTP server applies its wire behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
import hmac
from typing import TYPE_CHECKING, Any, Final

from . import app_checks, app_codes, app_oapi, checks, rules
from .app_codes import ApiError
from .app_models import AppFault, AppFaultKind, ConversationType, Via
from .app_oapi import ApiCall, AuthErrors, Result, authorize, oapi, v1
from .apps import new_process_query_key

if TYPE_CHECKING:
    from .app_models import AppConfig, AppRequest
    from .apps import AppRobots

TOKEN_HEADER: Final = "x-acs-dingtalk-access-token"  # noqa: S105 - a header name
#: APIs that answer in the v1.0 style (HTTP status + {"code", "message"}).
V1_APIS: Final = frozenset({"token", "batchSend", "groupMessages"})
#: What the v1.0 APIs answer to a missing/bad token, QPS and permission.
V1_AUTH_ERRORS: Final = AuthErrors(
    app_codes.MISSING_TOKEN,
    app_codes.INVALID_TOKEN,
    app_codes.QPS_LIMITED,
    app_codes.PERMISSION_DENIED,
)


@dataclass(frozen=True, slots=True)
class ApiAnswer:
    """What an app API answered: HTTP status and JSON (None: no JSON, a fault)."""

    status: int
    body: dict[str, Any] | None
    record: AppRequest


type _Handler = Callable[["AppRobots", ApiCall], Result]


def identify(apps: AppRobots, call: ApiCall) -> str | None:
    """Return the client_id a call is for (its faults strike it), if known."""
    if call.api == "token":
        key = (app_checks.json_object(call.body) or {}).get("appKey")
        client_id = key if isinstance(key, str) else None
    elif call.api == "sendBySession":
        session = apps.session(call.query.get("session"))
        client_id = None if session is None else session.client_id
    elif call.api in V1_APIS:
        client_id = apps.token_app(call.header(TOKEN_HEADER))
    else:
        client_id = apps.token_app(call.query.get("access_token"))
    return client_id if client_id in {app.client_id for app in apps.apps} else None


def handle(apps: AppRobots, call: ApiCall, fault: AppFault | None = None) -> ApiAnswer:
    """Run one call through its checks, record it and return the answer."""
    client_id = identify(apps, call)
    if fault is None or fault.after_delivery or fault.kind is AppFaultKind.DELAY:
        result: Result | None = HANDLERS[call.api](apps, call)
    else:
        result = _fault_result(call.api, fault)
    status = 200 if result is None else result.status
    body = None if result is None else result.body
    if fault is not None and fault.kind is AppFaultKind.DROP:
        status_recorded: int | None = None
    else:
        status_recorded = status
    code, message = _code_of(body, fault)
    record = apps.record_request(
        api=call.api,
        client_id=client_id,
        path=call.path,
        query={
            k: app_checks.mask(v) or "" if k in {"access_token", "session"} else v
            for k, v in call.query.items()
        },
        headers={
            k: app_checks.mask(v) or "" if k.lower() == TOKEN_HEADER else v
            for k, v in call.headers.items()
        },
        body=_body_text(call),
        remote=call.remote,
        http_status=status_recorded,
        code=code,
        message=message,
        fault=None if fault is None else fault.kind,
        delivered=0 if result is None else result.delivered,
    )
    return ApiAnswer(status, body, record)


def _fault_result(api: str, fault: AppFault) -> Result | None:
    """Return the answer of a fault that strikes instead of processing."""
    new_style = api in V1_APIS
    if fault.kind is AppFaultKind.BUSY:
        if not new_style:
            return oapi(app_codes.OAPI_BUSY)
        busy = ApiError(
            fault.status,
            app_codes.SERVICE_UNAVAILABLE_CODE,
            app_codes.SERVICE_UNAVAILABLE_TEXT,
        )
        return v1(busy)
    if fault.kind is AppFaultKind.QPS:
        if new_style:
            return v1(app_codes.QPS_LIMITED)
        return oapi(app_codes.OAPI_QPS_LIMITED)
    return None  # NON_JSON, DROP: no JSON at all


def _code_of(
    body: dict[str, Any] | None, fault: AppFault | None
) -> tuple[str | None, str]:
    """Return the error code and message to record for an answer."""
    if body is None:
        dropped = fault is not None and fault.kind is AppFaultKind.DROP
        return None, (
            "fault: connection dropped" if dropped else "fault: HTML instead of JSON"
        )
    if "errcode" in body:
        return str(body["errcode"]), str(body["errmsg"])
    if "code" in body:
        return str(body["code"]), str(body["message"])
    return None, "ok"


def _body_text(call: ApiCall) -> str:
    """Return the body for the log: secrets masked, uploads summarised."""
    if call.upload is not None:
        upload = call.upload
        return (
            f"multipart: media={upload.filename!r} ({len(upload.data)} bytes), "
            f"type={upload.form_type!r}"
        )
    return app_checks.mask_body(call.body)


# -- /v1.0/oauth2/accessToken ----------------------------------------------------------


def _token(apps: AppRobots, call: ApiCall) -> Result:
    """Answer a token request (JSON body only, I15)."""
    body = app_checks.json_object(call.body)
    if not checks.content_type_ok(call.content_type) or body is None:
        return v1(app_codes.MISSING_BODY)
    for name in ("appKey", "appSecret"):
        if not isinstance(body.get(name), str) or not body[name]:
            return v1(app_codes.missing_field(name))
    key, secret = str(body["appKey"]), str(body["appSecret"])
    config = next((a for a in apps.apps if a.client_id == key), None)
    if config is None or not hmac.compare_digest(
        config.client_secret.encode(), secret.encode()
    ):
        return v1(app_codes.INVALID_CLIENT)
    token, expire_in = apps.issue_token(key)
    return Result(200, {"accessToken": token, "expireIn": expire_in})


# -- v1.0 robot send APIs --------------------------------------------------------------


def _robot(
    apps: AppRobots, call: ApiCall, api: str
) -> tuple[AppConfig, dict[str, Any]] | ApiError:
    """Check the token, QPS, permission, body, robotCode and publication."""
    client_id = authorize(apps, call.header(TOKEN_HEADER), api, V1_AUTH_ERRORS)
    if isinstance(client_id, ApiError):
        return client_id
    payload = app_checks.json_object(call.body)
    if payload is None:
        return app_codes.PARAM_INVALID
    config = apps.app(client_id)
    robot_code = payload.get("robotCode")
    if not isinstance(robot_code, str) or not robot_code:
        return app_codes.ROBOT_CODE_EMPTY
    if robot_code != config.robot_code:
        return app_codes.ROBOT_CODE_AUTH
    if not config.published:
        return app_codes.ROBOT_NOT_FOUND
    return config, payload


def _message(payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | ApiError:
    """Check msgKey and msgParam (JSON string, size, required keys)."""
    msg_key = payload.get("msgKey")
    if not isinstance(msg_key, str) or not msg_key:
        return app_codes.MSG_KEY_EMPTY
    if msg_key not in rules.MSG_PARAM_KEYS:
        return app_codes.MSG_KEY_INVALID
    raw = payload.get("msgParam")
    if isinstance(raw, str) and len(raw.encode()) > rules.MAX_MSG_PARAM_BYTES:
        return app_codes.MSG_PARAM_TOO_LONG
    param = app_checks.parse_msg_param(raw)
    if param is None:
        return app_codes.MSG_PARAM_INVALID
    missing = app_checks.missing_param(msg_key, param)
    if missing is not None:
        return app_codes.missing_param(rules.MSG_KEY_FAMILIES[msg_key], missing)
    return msg_key, param


def _notices(apps: AppRobots, param: Mapping[str, Any]) -> tuple[str, ...]:
    """Return "unknown_media" notices for media_ids that were never uploaded."""
    refs = app_checks.media_refs(param)
    return tuple(f"unknown_media: {r}" for r in refs if not apps.has_media(r))


def _batch_send(apps: AppRobots, call: ApiCall) -> Result:
    """POST /v1.0/robot/oToMessages/batchSend (S6)."""
    checked = _robot(apps, call, "batchSend")
    if isinstance(checked, ApiError):
        return v1(checked)
    config, payload = checked
    user_ids = payload.get("userIds")
    if user_ids is None or user_ids == []:
        return v1(app_codes.USER_IDS_EMPTY)
    if not isinstance(user_ids, list) or not all(isinstance(u, str) for u in user_ids):
        return v1(app_codes.PARAM_INVALID)
    if len(user_ids) > rules.MAX_BATCH_USERS:
        return v1(app_codes.USER_IDS_OVER_MAX)
    message = _message(payload)
    if isinstance(message, ApiError):
        return v1(message)
    msg_key, param = message
    key = new_process_query_key()
    known = {person.user_id for person in apps.people}
    invalid: list[str] = []
    flow: list[str] = []
    delivered = 0
    for user_id in dict.fromkeys(user_ids):  # once each, in order
        if user_id not in known:
            invalid.append(user_id)
        elif not apps.admit_person(config.client_id, user_id):
            flow.append(user_id)
        else:
            apps.deliver(
                client_id=config.client_id,
                conversation_id=apps.conversation_id(config.client_id, user_id),
                conversation_type=ConversationType.SINGLE,
                via=Via.BATCH_SEND,
                user_id=user_id,
                msg_key=msg_key,
                msg_param=param,
                process_query_key=key,
                notices=_notices(apps, param),
            )
            delivered += 1
    answer = {
        "processQueryKey": key,
        "invalidStaffIdList": invalid,
        "flowControlledStaffIdList": flow,
    }
    return Result(200, answer, delivered)


def _group_send(apps: AppRobots, call: ApiCall) -> Result:
    """POST /v1.0/robot/groupMessages/send (S5)."""
    checked = _robot(apps, call, "groupMessages")
    if isinstance(checked, ApiError):
        return v1(checked)
    config, payload = checked
    cid = payload.get("openConversationId")
    group = next((g for g in apps.groups if g.open_conversation_id == cid), None)
    if group is None:
        return v1(app_codes.CONVERSATION_INVALID)
    if config.client_id not in group.robots:
        return v1(app_codes.ROBOT_NOT_IN_GROUP)
    if not isinstance(payload.get("coolAppCode", ""), str):
        return v1(app_codes.PARAM_INVALID)
    message = _message(payload)
    if isinstance(message, ApiError):
        return v1(message)
    msg_key, param = message
    key = new_process_query_key()
    apps.deliver(
        client_id=config.client_id,
        conversation_id=group.open_conversation_id,
        conversation_type=ConversationType.GROUP,
        via=Via.GROUP_SEND,
        msg_key=msg_key,
        msg_param=param,
        process_query_key=key,
        notices=_notices(apps, param),
    )
    return Result(200, {"processQueryKey": key}, 1)


HANDLERS: Final[Mapping[str, _Handler]] = {
    "token": _token,
    "batchSend": _batch_send,
    "groupMessages": _group_send,
    "media": app_oapi.upload,
    "getbymobile": app_oapi.get_by_mobile,
    "sendBySession": app_oapi.session_send,
}
