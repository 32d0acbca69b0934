"""Errors of the app robot APIs, Stream mode and sessionWebhook (§6.5, §11).

Sections are those of dingtalk-api.md. v1.0 APIs (api.dingtalk.com) answer a
non-2xx HTTP status with ``{"code": "<string>", "message": "…", "requestid": "…"}``;
the old-style APIs (oapi.dingtalk.com) answer HTTP 200 with
``{"errcode": N, "errmsg": "…"}``.
Comments say where a code was seen; everything marked UNCONFIRMED is modelled.
Changing what the emulator answers is a one-line change here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class ApiError:
    """A v1.0 error: the HTTP status and the JSON ``code`` and ``message``."""

    status: int
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class OapiError:
    """An old-style error: HTTP 200 with ``errcode`` and ``errmsg``."""

    errcode: int
    errmsg: str


# -- /v1.0/oauth2/accessToken --------------------------------------------------------

#: A form-encoded (or empty) body (seen: I15 "[Missingbody] body is mandatory").
MISSING_BODY: Final = ApiError(400, "Missingbody", "body is mandatory for this action.")


def missing_field(name: str) -> ApiError:
    """Return the error for a JSON body without ``name`` (appKey, appSecret, …).

    Modelled on the seen ``Missingbody`` answer of the same gateway. UNCONFIRMED.
    """
    return ApiError(400, f"Missing{name}", f"{name} is mandatory for this action.")


#: Unknown appKey or wrong appSecret. UNCONFIRMED code and text.
INVALID_CLIENT: Final = ApiError(
    400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret"
)

# -- every v1.0 API ------------------------------------------------------------------

#: No x-acs-dingtalk-access-token header. UNCONFIRMED wording (§11.2).
MISSING_TOKEN: Final = ApiError(
    400,
    "AuthenticationFailed.MissingParameter",
    "缺少参数 x-acs-dingtalk-access-token",
)
#: Unknown or expired token: HTTP 400, not 401 (seen: I14).
INVALID_TOKEN: Final = ApiError(400, "InvalidAuthentication", "不合法的access_token")
#: Over the app's QPS: HTTP 403 (seen: I17). UNCONFIRMED code and text.
QPS_LIMITED: Final = ApiError(
    403, "Forbidden.AccessDenied.QpsLimitForApi", "请求频率超出限制，请稍后重试"
)
#: The app lacks the API's permission. UNCONFIRMED code and text.
PERMISSION_DENIED: Final = ApiError(
    403,
    "Forbidden.AccessDenied.AccessTokenPermissionDenied",
    "没有调用该接口的权限，接口权限申请参考："
    "https://open.dingtalk.com/document/orgapp-server/add-api-permission",
)
#: FaultKind BUSY on a v1.0 API (the status comes from the fault). UNCONFIRMED.
SERVICE_UNAVAILABLE_CODE: Final = "ServiceUnavailable"
SERVICE_UNAVAILABLE_TEXT: Final = "服务暂不可用，请稍后重试"

# -- robot send APIs (S10 table; §6.5) -----------------------------------------------

#: The body is not a JSON object or a field has the wrong type (S10).
PARAM_INVALID: Final = ApiError(400, "invalidParameter.param.invalid", "参数不合法")
ROBOT_CODE_EMPTY: Final = ApiError(
    400, "invalidParameter.robotCode.empty", "robotCode 不能为空"
)
#: robotCode is not the token's app's robot (S10: "appkey/robotCode mismatch").
ROBOT_CODE_AUTH: Final = ApiError(
    400, "invalidParameter.robotCode.auth", "robotCode 与 access_token 的应用不匹配"
)
#: The app is not published yet (§11.2: "robot not found"-style; the code is the
#: one an apifox copy of a related API lists, sic "notExsit"). UNCONFIRMED.
ROBOT_NOT_FOUND: Final = ApiError(
    400, "invalidParameter.robotCode.notExsit", "机器人不存在"
)
USER_IDS_EMPTY: Final = ApiError(
    400, "invalidParameter.userIds.empty", "userIds 不能为空"
)
USER_IDS_OVER_MAX: Final = ApiError(
    400, "invalidParameter.userIds.overMax", "userIds 超过最大数量 20"
)
MSG_KEY_EMPTY: Final = ApiError(400, "invalidParameter.msgKey.empty", "msgKey 不能为空")
MSG_KEY_INVALID: Final = ApiError(
    400, "invalidParameter.msgKey.invalid", "msgKey 不合法"
)
#: msgParam is not a JSON object in a string (S10).
MSG_PARAM_INVALID: Final = ApiError(
    400, "invalidParameter.msgParam.invalid", "msgParam 必须是 JSON 格式"
)
#: msgParam over MAX_MSG_PARAM_BYTES: same code, own text. UNCONFIRMED.
MSG_PARAM_TOO_LONG: Final = ApiError(
    400, "invalidParameter.msgParam.invalid", "msgParam 长度超过 15000 字节"
)
#: Unknown (or empty) openConversationId (code from a related API, §6.5).
CONVERSATION_INVALID: Final = ApiError(
    400, "invalid.openConversationId", "openConversationId 不合法"
)
#: The robot is not in the group. UNCONFIRMED code and text.
ROBOT_NOT_IN_GROUP: Final = ApiError(
    400, "invalidParameter.robotCode.notInGroup", "机器人不在该群中"
)


def missing_param(family: str, field: str) -> ApiError:
    """Return the error for a msgParam without a required key (§11.2).

    Seen: ``miss.param.markdownTotitle``; the pattern for other keys is UNCONFIRMED.
    """
    return ApiError(400, f"miss.param.{family}To{field}", f"缺少参数 {field}")


# -- Stream mode ---------------------------------------------------------------------

#: connections/open with a wrong clientId/clientSecret (seen: I13).
AUTH_FAILED: Final = ApiError(401, "authFailed", "鉴权失败")
#: WebSocket /connect with an unknown, used or expired ticket. UNCONFIRMED.
INVALID_TICKET: Final = ApiError(401, "invalidTicket", "ticket 无效或已过期")

# -- old-style APIs (oapi): /media/upload, /topapi/v2/user/getbymobile -------------

OAPI_OK: Final = OapiError(0, "ok")
OAPI_BUSY: Final = OapiError(-1, "系统繁忙")
#: Missing access_token. UNCONFIRMED (DingTalk's global code list).
OAPI_MISSING_TOKEN: Final = OapiError(41001, "缺少access_token参数")
#: Unknown or expired access_token. UNCONFIRMED (DingTalk's global code list).
OAPI_INVALID_TOKEN: Final = OapiError(40014, "不合法的access_token")
#: The app lacks the permission. UNCONFIRMED.
OAPI_PERMISSION_DENIED: Final = OapiError(60011, "没有调用该接口的权限")
#: Over the app's QPS (§11.2: 90002 for a per-API rate limit).
OAPI_QPS_LIMITED: Final = OapiError(90002, "服务器请求过于频繁，请稍后重试")
#: A body that is not a JSON object. UNCONFIRMED for these APIs.
OAPI_BAD_JSON: Final = OapiError(40035, "缺少参数 json")
#: getbymobile (§11.2: 60121 not found, 40104 invalid mobile; texts UNCONFIRMED).
USER_NOT_FOUND: Final = OapiError(60121, "找不到该用户")
INVALID_MOBILE: Final = OapiError(40104, "无效的手机号")
#: /media/upload: codes of DingTalk's global list, all UNCONFIRMED for this API.
MEDIA_BAD_TYPE: Final = OapiError(40004, "不合法的媒体文件类型")
MEDIA_BAD_FORMAT: Final = OapiError(40005, "不合法的文件类型")
MEDIA_BAD_SIZE: Final = OapiError(40006, "不合法的文件大小")
MEDIA_MISSING: Final = OapiError(41005, "缺少多媒体文件数据")

# -- /robot/sendBySession ------------------------------------------------------------

#: Unknown or expired session. UNCONFIRMED code and text.
SESSION_EXPIRED: Final = OapiError(300005, "session 不存在或已过期")
