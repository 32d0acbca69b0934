"""The app API call types and the old-style APIs: upload, getbymobile, sendBySession.

Old-style (oapi) APIs answer HTTP 200 with ``{"errcode": N, "errmsg": "…"}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import secrets
from typing import TYPE_CHECKING, Any, Final
import uuid

from . import app_checks, app_codes, checks, codes, rules
from .app_codes import ApiError, OapiError
from .app_models import Via
from .apps import Media

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .apps import AppRobots


@dataclass(frozen=True, slots=True)
class Upload:
    """The file part of a /media/upload request."""

    filename: str
    data: bytes = field(repr=False)
    form_type: str | None = None  # the multipart "type" field, if any


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiCall:
    """One request to an app API, as the checks see it."""

    api: str  # token, batchSend, groupMessages, media, getbymobile, sendBySession
    path: str = ""
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json"
    body: bytes = b""
    remote: str | None = "127.0.0.1"
    upload: Upload | None = None

    def header(self, name: str) -> str | None:
        """Return a header's value, case-insensitively."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


@dataclass(frozen=True, slots=True)
class Result:
    """A handler's answer before it is recorded."""

    status: int
    body: dict[str, Any]
    delivered: int = 0


def v1(error: ApiError) -> Result:
    """Answer a v1.0 error."""
    body = {"code": error.code, "message": error.message, "requestid": request_id()}
    return Result(error.status, body)


def oapi(error: OapiError, **extra: object) -> Result:
    """Answer an old-style errcode (HTTP 200)."""
    return Result(200, {"errcode": error.errcode, "errmsg": error.errmsg, **extra})


def request_id() -> str:
    """Return a request id like DingTalk's (an upper-case UUID)."""
    return str(uuid.uuid4()).upper()


# -- old-style APIs (oapi) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthErrors[E]:
    """The answers of ``authorize``'s checks, in one API style."""

    missing: E
    invalid: E
    qps: E
    permission: E


#: What the old-style APIs answer.
OAPI_AUTH_ERRORS: Final = AuthErrors(
    app_codes.OAPI_MISSING_TOKEN,
    app_codes.OAPI_INVALID_TOKEN,
    app_codes.OAPI_QPS_LIMITED,
    app_codes.OAPI_PERMISSION_DENIED,
)


def authorize[E](
    apps: AppRobots, token: str | None, api: str, errors: AuthErrors[E]
) -> str | E:
    """Check the access token, the app's QPS and the API's permission; client_id."""
    if not token:
        return errors.missing
    client_id = apps.token_app(token)
    if client_id is None:
        return errors.invalid
    if not apps.admit_call(client_id):
        return errors.qps
    if rules.API_PERMISSIONS[api] not in apps.app(client_id).permissions:
        return errors.permission
    return client_id


def _oapi_app(apps: AppRobots, call: ApiCall, api: str) -> str | OapiError:
    """Check the access_token query parameter, QPS and the permission."""
    return authorize(apps, call.query.get("access_token"), api, OAPI_AUTH_ERRORS)


def upload(apps: AppRobots, call: ApiCall) -> Result:
    """POST /media/upload?access_token=…&type=… (multipart, file field "media")."""
    client_id = _oapi_app(apps, call, "media")
    if isinstance(client_id, OapiError):
        return oapi(client_id)
    upload = call.upload or Upload("", b"")
    media_type = call.query.get("type") or upload.form_type or ""
    error = app_checks.check_media(media_type, upload.filename, upload.data)
    if error is not None:
        return oapi(error)
    file_format = app_checks.sniff(upload.data)
    now = apps.clock.now()
    media = apps.store_media(
        Media(
            media_id="@lA" + secrets.token_urlsafe(18),
            client_id=client_id,
            media_type=media_type,
            file_format=file_format,
            filename=upload.filename,
            content_type=app_checks.CONTENT_TYPES.get(
                file_format or "", "application/octet-stream"
            ),
            created_at=now,
            data=upload.data,
        )
    )
    return oapi(
        app_codes.OAPI_OK,
        media_id=media.media_id,
        type=media_type,
        created_at=round(now * 1000),
    )


def get_by_mobile(apps: AppRobots, call: ApiCall) -> Result:
    """POST /topapi/v2/user/getbymobile?access_token=… {"mobile": …} (§11.2)."""
    client_id = _oapi_app(apps, call, "getbymobile")
    if isinstance(client_id, OapiError):
        return oapi(client_id)
    body = app_checks.json_object(call.body)
    if body is None:
        return oapi(app_codes.OAPI_BAD_JSON)
    mobile = body.get("mobile")
    if not app_checks.valid_mobile(mobile):
        return oapi(app_codes.INVALID_MOBILE)
    person = apps.person_by_mobile(str(mobile))
    if person is None:
        return oapi(app_codes.USER_NOT_FOUND)
    result = {"userid": person.user_id, "exclusive_account_userid_list": []}
    return oapi(app_codes.OAPI_OK, result=result, request_id=request_id())


# -- /robot/sendBySession --------------------------------------------------------------


def session_send(apps: AppRobots, call: ApiCall) -> Result:
    """POST /robot/sendBySession?session=…: a robot answer in the conversation."""
    session = apps.session(call.query.get("session"))
    if session is None:
        return oapi(app_codes.SESSION_EXPIRED)
    texts = codes.TEXTS[codes.DEFAULT_WORDING]
    payload = app_checks.json_object(call.body)
    if not checks.content_type_ok(call.content_type):
        error = OapiError(codes.BAD_CONTENT_TYPE, codes.BAD_CONTENT_TYPE_TEXT)
    elif payload is None:
        error = OapiError(codes.BAD_JSON, codes.BAD_JSON_TEXT)
    elif len(call.body) > rules.MAX_BODY_BYTES:
        error = OapiError(codes.BODY_TOO_LONG, texts.body_too_long)
    elif payload.get("msgtype") not in rules.SUPPORTED_MSGTYPES:
        error = OapiError(codes.UNSUPPORTED_MSGTYPE, codes.UNSUPPORTED_MSGTYPE_TEXT)
    elif (missing := checks.missing_field(payload)) is not None:
        path = texts.path_separator.join(missing)
        error = OapiError(
            codes.MISSING_FIELD_CODES[missing[-1]],
            texts.missing_field.format(path=path),
        )
    else:
        at = payload.get("at")
        at_ids = at.get("atUserIds") if isinstance(at, dict) else None
        at_ids = at_ids if isinstance(at_ids, list) else []
        apps.deliver(
            client_id=session.client_id,
            conversation_id=session.conversation_id,
            conversation_type=session.conversation_type,
            via=Via.SESSION,
            user_id=session.user_id,
            payload=payload,
            at_user_ids=tuple(u for u in at_ids if isinstance(u, str)),
        )
        return Result(200, {"errcode": 0, "errmsg": "ok"}, 1)
    return oapi(error)
