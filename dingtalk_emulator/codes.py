"""DingTalk's errcodes and errmsg texts, as reported in dingtalk-api.md §4 and §10.

Every text here was seen in a real DingTalk answer (see the doc's sources) unless the
comment says *modelled*. Changing what the emulator answers is a one-line change here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

OK: Final = 0
BUSY: Final = -1
BAD_CONTENT_TYPE: Final = 43004
BAD_JSON: Final = 40035
SECURITY: Final = 310000
GROUP_DISSOLVED: Final = 400013
ROBOT_DISABLED: Final = 400102
UNSUPPORTED_MSGTYPE: Final = 400105
ROBOT_REMOVED: Final = 400106
BODY_TOO_LONG: Final = 460101

OK_TEXT: Final = "ok"
BUSY_TEXT: Final = "系统繁忙"
BAD_CONTENT_TYPE_TEXT: Final = "无效的HTTP HEADER Content-Type"
BAD_JSON_TEXT: Final = "缺少参数 json"
UNSUPPORTED_MSGTYPE_TEXT: Final = "不支持的消息类型"

#: Codes DingTalk has used for an unknown access_token (300005 is today's, §4).
TOKEN_ERRORS: Final = MappingProxyType(
    {
        300001: "token is not exist",
        300005: "token is not exist",
        400101: "access_token不存在",
    }
)
DEFAULT_TOKEN_ERROR: Final = 300005

#: Codes DingTalk has used for "throttled" (§3: which one is current is UNCONFIRMED).
RATE_LIMIT_ERRORS: Final = MappingProxyType(
    {
        410100: "发送速度太快而限流",
        130101: "send too fast, exceed 20 times per minute",
        660026: "sending too many messages per minute",
    }
)
DEFAULT_RATE_LIMIT_ERROR: Final = 410100

#: Robot states other than active, as (errcode, errmsg).
STATE_ERRORS: Final = MappingProxyType(
    {
        "disabled": (ROBOT_DISABLED, "机器人已停用"),
        "removed": (ROBOT_REMOVED, "机器人不存在"),
        "dissolved": (GROUP_DISSOLVED, "群已被解散"),
    }
)

#: errcode for a missing required field, by the field's name. 400402 (title) and
#: 400403 (text) were seen for markdown (I5, I6); every other code is *modelled*.
MISSING_FIELD_CODES: Final = MappingProxyType(
    {
        "content": 400401,
        "title": 400402,
        "text": 400403,
        "messageUrl": 400404,
        "messageURL": 400404,
        "picURL": 400405,
        "singleTitle": 400406,
        "singleURL": 400407,
        "btns": 400408,
        "actionURL": 400409,
        "links": 400410,
    }
)


class Wording(StrEnum):
    """Which of DingTalk's two errmsg styles the emulator answers with."""

    #: The newer ``description:…;solution:…`` texts (seen 2022–2026). The default.
    CHINESE = "zh"
    #: The older English texts ``…, more: [https://ding-doc…]`` (seen 2019–2022).
    ENGLISH = "en"


DEFAULT_WORDING: Final = Wording.CHINESE


@dataclass(frozen=True, slots=True)
class Texts:
    """The errmsg texts that differ between the two wordings."""

    sign_mismatch: str
    invalid_timestamp: str
    keywords_missing: str
    ip_not_allowed: str  # str.format field: {ip}
    body_too_long: str
    missing_field: str  # str.format fields: {path}, path parts joined by {sep}
    path_separator: str


_MORE: Final = ", more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"

TEXTS: Final = MappingProxyType(
    {
        Wording.CHINESE: Texts(
            sign_mismatch=(
                "description:机器人发送签名不匹配;"
                "solution:请确认签名和生成签名的时间戳必须都放在调用的网址中，"
                "请确认机器人的密钥加密和填写正确;"
                "link:请参考本接口对应文档获得具体要求，"
                "或者在https://open.dingtalk.com/document/  搜索相关文档;"
            ),
            invalid_timestamp=(
                "description:机器人发送签名过期;solution:签名生成时间和发送时间请保持在"
                " timestampms 以内;"
            ),
            keywords_missing=(
                "description:关键词不匹配;solution:请联系群管理员查看此机器人的关键词，"
                "并在发送的信息中包含此关键词;"
            ),
            # The Chinese text names no IP (I9); the request log has the caller's IP.
            ip_not_allowed=(
                "description:ip 不在白名单中;solution:请联系对应群的管理员，"
                "设置机器人安全ip地址段"
            ),
            body_too_long=(
                "description: body 大小不合法;solution:请保持大小在 20000bytes 以内;"
            ),
            missing_field=(
                "错误描述:参数 {path} 缺失，或者参数格式不正确; "
                "解决方案:请填充上对应参数;"
                "参考链接:请参考本接口对应文档查看参数获取方式，"
                "或者在https://open.dingtalk.com/document/  搜索对应文档;"
            ),
            path_separator=" --》 ",
        ),
        Wording.ENGLISH: Texts(
            sign_mismatch="sign not match" + _MORE,
            invalid_timestamp="invalid timestamp" + _MORE,
            keywords_missing="keywords not in content" + _MORE,
            ip_not_allowed="ip {ip} not in whitelist" + _MORE,
            body_too_long="message too long, exceed 20000 bytes",
            missing_field="miss param : {path}",
            path_separator="->",
        ),
    }
)
