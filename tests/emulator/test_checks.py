"""POST /robot/send: every check, its errcode and errmsg, and the order of checks."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from dingtalk_emulator import Emulator, RobotConfig, RobotState, Wording
from dingtalk_emulator.testing import TEST_SECRET, TEST_TOKEN, TEST_TOKENS

from .helpers import send, signed_query, text

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from dingtalk_emulator import ManualClock

    type MakeRobot = Callable[..., RobotConfig]

ZH_SIGN = "description:机器人发送签名不匹配;solution:请确认签名和生成签名的时间戳"
ZH_TIMESTAMP = "description:机器人发送签名过期;solution:签名生成时间和发送时间请保持在"
ZH_KEYWORDS = "description:关键词不匹配;solution:请联系群管理员查看此机器人的关键词"
ZH_IP = (
    "description:ip 不在白名单中;solution:请联系对应群的管理员，设置机器人安全ip地址段"
)
EN_MORE = ", more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"


def test_accepted_message_is_delivered(
    emulator: Emulator, make_robot: MakeRobot
) -> None:
    """A correct signed message is answered errcode 0 "ok" and delivered."""
    robot = make_robot()
    result = send(emulator, robot.access_token, text("disk full"))
    assert result.response == {"errcode": 0, "errmsg": "ok"}
    assert result.record.ok
    assert result.record.signature_verified is True
    assert result.record.delivered
    [message] = emulator.delivered(robot.access_token)
    assert message.payload == text("disk full")
    assert message is result.message


@pytest.mark.parametrize(
    "query",
    [
        "access_token=unknown",
        "",
        "access_token=",
        "foo=bar",
    ],
)
def test_unknown_or_missing_token(emulator: Emulator, query: str) -> None:
    """An unknown or missing token answers 300005 "token is not exist"."""
    result = send(emulator, TEST_TOKEN, query=query)
    assert result.response == {"errcode": 300005, "errmsg": "token is not exist"}
    assert not result.record.known_robot
    assert result.record.signature_verified is None


@pytest.mark.parametrize(
    ("code", "errmsg"),
    [(300001, "token is not exist"), (400101, "access_token不存在")],
)
def test_token_error_code_is_configurable(
    manual_clock: ManualClock, code: int, errmsg: str
) -> None:
    """The unknown-token errcode can be 300001, 300005 or 400101."""
    emulator = Emulator(manual_clock, token_error_code=code)
    result = send(emulator, TEST_TOKEN)
    assert result.response == {"errcode": code, "errmsg": errmsg}


def test_invalid_configuration_is_rejected() -> None:
    """Codes DingTalk never used, and empty limits, are refused."""
    with pytest.raises(ValueError, match="token_error_code"):
        Emulator(token_error_code=1)
    with pytest.raises(ValueError, match="rate_limit_code"):
        Emulator(rate_limit_code=1)
    with pytest.raises(ValueError, match="at least 1"):
        Emulator(rate_limit=0)


@pytest.mark.parametrize(
    ("state", "code", "errmsg"),
    [
        (RobotState.DISABLED, 400102, "机器人已停用"),
        (RobotState.REMOVED, 400106, "机器人不存在"),
        (RobotState.DISSOLVED, 400013, "群已被解散"),
    ],
)
def test_robot_states(
    emulator: Emulator,
    make_robot: MakeRobot,
    state: RobotState,
    code: int,
    errmsg: str,
) -> None:
    """Disabled, removed and dissolved robots answer their codes until reactivated."""
    robot = make_robot()
    emulator.set_robot_state(robot.access_token, state)
    assert emulator.robot(robot.access_token).state is state
    result = send(emulator, robot.access_token)
    assert result.response == {"errcode": code, "errmsg": errmsg}
    assert not emulator.delivered()
    emulator.set_robot_state(robot.access_token, "active")
    assert send(emulator, robot.access_token).record.ok


def test_removed_robot_is_unknown(emulator: Emulator, make_robot: MakeRobot) -> None:
    """remove_robot forgets the token entirely."""
    robot = make_robot()
    emulator.remove_robot(robot.access_token)
    assert send(emulator, robot.access_token).record.errcode == 300005
    with pytest.raises(KeyError, match="no robot"):
        emulator.robot(robot.access_token)


# -- signature ------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        f"access_token={TEST_TOKEN}",
        f"access_token={TEST_TOKEN}&timestamp=1700000000000",
        f"access_token={TEST_TOKEN}&sign=abc",
        f"access_token={TEST_TOKEN}&timestamp=&sign=",
        f"access_token={TEST_TOKEN}&timestamp=1700000000000&sign=wrong",
    ],
)
def test_missing_or_wrong_signature(
    emulator: Emulator, make_robot: MakeRobot, query: str
) -> None:
    """A signed robot needs timestamp and sign in the URL, and the right sign."""
    make_robot()
    result = send(emulator, TEST_TOKEN, query=query)
    assert result.record.errcode == 310000
    assert result.record.errmsg.startswith(ZH_SIGN)
    assert result.record.signature_verified is False
    assert not emulator.delivered()


def test_wrong_secret(emulator: Emulator, make_robot: MakeRobot) -> None:
    """A signature made with another secret does not match."""
    make_robot()
    result = send(emulator, TEST_TOKEN, secret="SEC" + "0" * 64)
    assert result.record.errcode == 310000
    assert result.record.errmsg.startswith(ZH_SIGN)


def test_unsigned_robot_ignores_signature(
    emulator: Emulator, make_robot: MakeRobot
) -> None:
    """A robot without a secret accepts requests with or without (any) sign."""
    make_robot(secret=None)
    plain = send(emulator, TEST_TOKEN, secret=None)
    junk = send(emulator, TEST_TOKEN, query=f"access_token={TEST_TOKEN}&sign=x")
    assert plain.record.ok
    assert junk.record.ok
    assert plain.record.signature_verified is None


def test_sign_is_masked_in_the_log(emulator: Emulator, make_robot: MakeRobot) -> None:
    """The request log keeps the query with the sign masked."""
    make_robot()
    record = send(emulator, TEST_TOKEN).record
    assert record.query["sign"] == "***"
    assert record.query["access_token"] == TEST_TOKEN
    assert record.query["timestamp"] == "1700000000000"


def test_english_wording(manual_clock: ManualClock) -> None:
    """The older English texts are available with wording="en"."""
    emulator = Emulator(manual_clock, wording=Wording.ENGLISH)
    emulator.add_robot(_config(TEST_TOKEN, secret=TEST_SECRET, keywords=("alarm",)))
    bad_sign = send(emulator, TEST_TOKEN, secret="SECother")
    assert bad_sign.record.errmsg == "sign not match" + EN_MORE
    no_keyword = send(emulator, TEST_TOKEN, text("hello"))
    assert no_keyword.record.errmsg == "keywords not in content" + EN_MORE
    manual_clock.advance(0.5)
    stale = send(
        emulator,
        TEST_TOKEN,
        query=signed_query(TEST_TOKEN, now=manual_clock.now() - 3601),
    )
    assert stale.record.errmsg == "invalid timestamp" + EN_MORE


def _config(token: str, **settings: object) -> RobotConfig:
    """Build a RobotConfig from JSON-like settings."""
    return RobotConfig.from_dict({"access_token": token, **settings})


# -- IP allowlist -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowlist", "remote", "allowed"),
    [
        (("127.0.0.1",), "127.0.0.1", True),
        (("127.0.0.0/8",), "127.1.2.3", True),
        (("10.0.0.0/8", "192.168.1.7"), "192.168.1.7", True),
        (("10.0.0.0/8",), "127.0.0.1", False),
        (("127.0.0.1",), "::ffff:127.0.0.1", True),
        (("::1",), "::1", True),
        (("::1",), "127.0.0.1", False),
        (("127.0.0.1",), None, False),
        (("127.0.0.1",), "not-an-ip", False),
    ],
)
def test_ip_allowlist(
    emulator: Emulator,
    make_robot: MakeRobot,
    allowlist: tuple[str, ...],
    remote: str | None,
    allowed: bool,
) -> None:
    """Only callers inside the allowlist's addresses and ranges are accepted."""
    make_robot(ip_allowlist=allowlist)
    result = send(emulator, TEST_TOKEN, remote=remote)
    if allowed:
        assert result.record.ok
    else:
        assert result.response == {"errcode": 310000, "errmsg": ZH_IP}


def test_ip_error_names_the_ip_in_english(manual_clock: ManualClock) -> None:
    """The English text names the caller's IP."""
    emulator = Emulator(manual_clock, wording="en")
    emulator.add_robot(_config(TEST_TOKEN, ip_allowlist=["10.0.0.0/8"]))
    result = send(emulator, TEST_TOKEN, secret=None, remote="127.0.0.1")
    assert result.record.errmsg == "ip 127.0.0.1 not in whitelist" + EN_MORE


def test_empty_allowlist_is_off(emulator: Emulator, make_robot: MakeRobot) -> None:
    """An empty allowlist accepts any caller."""
    make_robot(ip_allowlist=())
    assert send(emulator, TEST_TOKEN, remote="203.0.113.9").record.ok


# -- content type and JSON -------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("APPLICATION/JSON;charset=UTF-8", True),
        ('application/json; charset="utf8"', True),
        ("application/json; foo=bar", True),
        ("application/json; charset=gbk", False),
        ("text/plain", False),
        ("application/x-www-form-urlencoded", False),
        ("", False),
        (None, False),
    ],
)
def test_content_type(
    emulator: Emulator, make_robot: MakeRobot, content_type: str | None, ok: bool
) -> None:
    """JSON (no charset or UTF-8) passes; anything else is 43004."""
    make_robot()
    result = send(emulator, TEST_TOKEN, content_type=content_type)
    if ok:
        assert result.record.ok
    else:
        assert result.response == {
            "errcode": 43004,
            "errmsg": "无效的HTTP HEADER Content-Type",
        }


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'"text"', b"\xff\xfe{}", b'{"msgtype": "text"'],
)
def test_body_not_a_json_object(
    emulator: Emulator, make_robot: MakeRobot, body: bytes
) -> None:
    """A body that is not a UTF-8 JSON object answers 40035 "缺少参数 json"."""
    make_robot()
    result = send(emulator, TEST_TOKEN, body=body)
    assert result.response == {"errcode": 40035, "errmsg": "缺少参数 json"}
    assert result.record.signature_verified is True


# -- keywords ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        text("ALARM: disk alarm"),
        {"msgtype": "markdown", "markdown": {"title": "alarm", "text": "x"}},
        {"msgtype": "markdown", "markdown": {"title": "x", "text": "an alarm"}},
        {"msgtype": "link", "link": {"title": "alarm", "text": "x", "messageUrl": "u"}},
        {"msgtype": "link", "link": {"title": "x", "text": "alarm", "messageUrl": "u"}},
        {
            "msgtype": "actionCard",
            "actionCard": {
                "title": "alarm",
                "text": "x",
                "singleTitle": "go",
                "singleURL": "u",
            },
        },
        {
            "msgtype": "actionCard",
            "actionCard": {
                "title": "x",
                "text": "alarm",
                "singleTitle": "go",
                "singleURL": "u",
            },
        },
        {
            "msgtype": "feedCard",
            "feedCard": {
                "links": [
                    {"title": "x", "messageURL": "u", "picURL": "p"},
                    {"title": "alarm", "messageURL": "u", "picURL": "p"},
                ]
            },
        },
    ],
)
def test_keyword_found_in_text_fields(
    emulator: Emulator, make_robot: MakeRobot, payload: dict[str, object]
) -> None:
    """A keyword in any scanned text field (KEYWORD_FIELDS) is enough."""
    make_robot(keywords=("alarm", "告警"))
    assert send(emulator, TEST_TOKEN, payload).record.ok


@pytest.mark.parametrize(
    "payload",
    [
        text("all good"),
        text("Alarm"),  # case-sensitive
        text("x", at={"atUserIds": ["alarm"]}, msgUuid="alarm"),
        {
            "msgtype": "link",
            "link": {"title": "x", "text": "y", "messageUrl": "https://alarm"},
        },
        {
            "msgtype": "feedCard",
            "feedCard": {
                "links": [{"title": "x", "messageURL": "alarm", "picURL": "p"}]
            },
        },
        {"msgtype": "feedCard", "feedCard": {"links": "alarm"}},
        {
            "msgtype": "actionCard",
            "actionCard": {
                "title": "x",
                "text": "y",
                "singleTitle": "alarm",
                "singleURL": "u",
            },
        },
        {
            "msgtype": "actionCard",
            "actionCard": {
                "title": "x",
                "text": "y",
                "btns": [{"title": "alarm", "actionURL": "u"}],
            },
        },
        {"msgtype": "image", "image": {"picURL": "alarm"}},
        {"msgtype": 1, "text": {"content": "alarm"}},
    ],
)
def test_keyword_missing(
    emulator: Emulator, make_robot: MakeRobot, payload: dict[str, object]
) -> None:
    """Keywords elsewhere (URLs, buttons, at, msgUuid) or other case do not count."""
    make_robot(keywords=("alarm",))
    result = send(emulator, TEST_TOKEN, payload)
    assert result.record.errcode == 310000
    assert result.record.errmsg.startswith(ZH_KEYWORDS)


# -- size, msgtype, required fields ----------------------------------------------


def _padded(size: int) -> bytes:
    """Return a valid text message body of exactly ``size`` bytes."""
    empty = json.dumps(text(""), ensure_ascii=False).encode()
    body = json.dumps(text("x" * (size - len(empty))), ensure_ascii=False).encode()
    assert len(body) == size
    return body


def test_body_size_limit(emulator: Emulator, make_robot: MakeRobot) -> None:
    """20 000 bytes pass, 20 001 bytes answer 460101."""
    make_robot()
    assert send(emulator, TEST_TOKEN, body=_padded(20_000)).record.ok
    result = send(emulator, TEST_TOKEN, body=_padded(20_001))
    assert result.response == {
        "errcode": 460101,
        "errmsg": "description: body 大小不合法;solution:请保持大小在 20000bytes 以内;",
    }


def test_body_size_counts_bytes_not_characters(
    emulator: Emulator, make_robot: MakeRobot
) -> None:
    """7 000 Chinese characters are 21 000 UTF-8 bytes: too long."""
    make_robot()
    body = json.dumps(text("告" * 7000), ensure_ascii=False).encode()
    assert send(emulator, TEST_TOKEN, body=body).record.errcode == 460101


def test_body_size_english(manual_clock: ManualClock) -> None:
    """The English 460101 text."""
    emulator = Emulator(manual_clock, wording="en")
    emulator.add_robot(_config(TEST_TOKEN))
    result = send(emulator, TEST_TOKEN, secret=None, body=_padded(20_001))
    assert result.record.errmsg == "message too long, exceed 20000 bytes"


@pytest.mark.parametrize(
    "payload",
    [
        {"msgtype": "image", "image": {"picURL": "https://x/y.png"}},
        {"msgtype": "Text", "Text": {"content": "x"}},
        {"text": {"content": "x"}},
        {"msgtype": None},
    ],
)
def test_unsupported_msgtype(
    emulator: Emulator, make_robot: MakeRobot, payload: dict[str, object]
) -> None:
    """Unknown or missing msgtype answers 400105 "不支持的消息类型"."""
    make_robot()
    result = send(emulator, TEST_TOKEN, payload)
    assert result.response == {"errcode": 400105, "errmsg": "不支持的消息类型"}


_MD = {"title": "t", "text": "x"}
_LINK = {"title": "t", "text": "x", "messageUrl": "https://a"}
_CARD = {"title": "t", "text": "x"}
_FEED_LINK = {"title": "t", "messageURL": "https://a", "picURL": "https://p"}


def _without(obj: Mapping[str, object], key: str) -> dict[str, object]:
    """Return a copy of obj without key."""
    return {k: v for k, v in obj.items() if k != key}


@pytest.mark.parametrize(
    ("payload", "code", "path"),
    [
        ({"msgtype": "text"}, 400401, ["text", "content"]),
        ({"msgtype": "text", "text": "x"}, 400401, ["text", "content"]),
        ({"msgtype": "text", "text": {"content": " \n"}}, 400401, ["text", "content"]),
        ({"msgtype": "text", "text": {"content": 5}}, 400401, ["text", "content"]),
        (
            {"msgtype": "markdown", "markdown": _without(_MD, "title")},
            400402,
            ["markdown", "title"],
        ),
        (
            {"msgtype": "markdown", "markdown": _without(_MD, "text")},
            400403,
            ["markdown", "text"],
        ),
        (
            {"msgtype": "link", "link": _without(_LINK, "title")},
            400402,
            ["link", "title"],
        ),
        (
            {"msgtype": "link", "link": _without(_LINK, "text")},
            400403,
            ["link", "text"],
        ),
        (
            {"msgtype": "link", "link": _without(_LINK, "messageUrl")},
            400404,
            ["link", "messageUrl"],
        ),
        (
            {"msgtype": "actionCard", "actionCard": {"text": "x"}},
            400402,
            ["actionCard", "title"],
        ),
        (
            {"msgtype": "actionCard", "actionCard": _CARD},
            400408,
            ["actionCard", "btns"],
        ),
        (
            {"msgtype": "actionCard", "actionCard": {**_CARD, "btns": []}},
            400408,
            ["actionCard", "btns"],
        ),
        (
            {"msgtype": "actionCard", "actionCard": {**_CARD, "singleTitle": "go"}},
            400407,
            ["actionCard", "singleURL"],
        ),
        (
            {"msgtype": "actionCard", "actionCard": {**_CARD, "singleURL": "u"}},
            400406,
            ["actionCard", "singleTitle"],
        ),
        (
            {"msgtype": "actionCard", "actionCard": {**_CARD, "btns": ["x"]}},
            400402,
            ["actionCard", "btns[0]", "title"],
        ),
        (
            {
                "msgtype": "actionCard",
                "actionCard": {
                    **_CARD,
                    "btns": [{"title": "a", "actionURL": "u"}, {"title": "b"}],
                },
            },
            400409,
            ["actionCard", "btns[1]", "actionURL"],
        ),
        ({"msgtype": "feedCard", "feedCard": {}}, 400410, ["feedCard", "links"]),
        (
            {"msgtype": "feedCard", "feedCard": {"links": [1]}},
            400402,
            ["feedCard", "links[0]", "title"],
        ),
        (
            {
                "msgtype": "feedCard",
                "feedCard": {"links": [_without(_FEED_LINK, "messageURL")]},
            },
            400404,
            ["feedCard", "links[0]", "messageURL"],
        ),
        (
            {
                "msgtype": "feedCard",
                "feedCard": {"links": [_FEED_LINK, _without(_FEED_LINK, "picURL")]},
            },
            400405,
            ["feedCard", "links[1]", "picURL"],
        ),
    ],
)
@pytest.mark.parametrize("wording", list(Wording))
def test_missing_required_field(
    manual_clock: ManualClock,
    payload: dict[str, object],
    code: int,
    path: list[str],
    wording: Wording,
) -> None:
    """Each required field has its code; the text names the field's path."""
    emulator = Emulator(manual_clock, wording=wording)
    emulator.add_robot(_config(TEST_TOKEN))
    result = send(emulator, TEST_TOKEN, payload, secret=None)
    assert result.record.errcode == code
    if wording is Wording.CHINESE:
        expected = f"错误描述:参数 {' --》 '.join(path)} 缺失，或者参数格式不正确;"
        assert result.record.errmsg.startswith(expected)
    else:
        assert result.record.errmsg == f"miss param : {'->'.join(path)}"
    assert not emulator.delivered()


def test_markdown_title_missing_text(emulator: Emulator, make_robot: MakeRobot) -> None:
    """The brief's exact example: 400402 "参数 markdown --》 title 缺失"."""
    make_robot()
    payload = {"msgtype": "markdown", "markdown": {"text": "x"}}
    result = send(emulator, TEST_TOKEN, payload)
    assert result.record.errcode == 400402
    assert "参数 markdown --》 title 缺失" in result.record.errmsg


@pytest.mark.parametrize(
    "payload",
    [
        text("x"),
        {"msgtype": "markdown", "markdown": _MD},
        {"msgtype": "link", "link": _LINK},
        {"msgtype": "link", "link": {**_LINK, "picUrl": "https://p"}},
        {
            "msgtype": "actionCard",
            "actionCard": {**_CARD, "singleTitle": "go", "singleURL": "u"},
        },
        {
            "msgtype": "actionCard",
            "actionCard": {
                **_CARD,
                "singleTitle": "go",
                "singleURL": "u",
                "btns": "ignored",
            },
        },
        {
            "msgtype": "actionCard",
            "actionCard": {
                **_CARD,
                "btns": [{"title": "a", "actionURL": "u"}],
                "btnOrientation": 1,
                "hideAvatar": 0,
            },
        },
        {"msgtype": "feedCard", "feedCard": {"links": [_FEED_LINK, _FEED_LINK]}},
    ],
)
def test_valid_messages_of_every_type(
    emulator: Emulator, make_robot: MakeRobot, payload: dict[str, object]
) -> None:
    """Every documented shape of every type is accepted."""
    make_robot()
    result = send(emulator, TEST_TOKEN, payload)
    assert result.record.ok
    assert emulator.delivered()[-1].msgtype == payload["msgtype"]


# -- order of checks ---------------------------------------------------------------


def test_token_before_signature(emulator: Emulator, make_robot: MakeRobot) -> None:
    """Bad token and bad sign: the token error."""
    make_robot()
    query = f"access_token={TEST_TOKENS[5]}&timestamp=1&sign=bad"
    assert send(emulator, TEST_TOKEN, query=query).record.errcode == 300005


def test_state_before_signature(emulator: Emulator, make_robot: MakeRobot) -> None:
    """Disabled robot and bad sign: the state error."""
    make_robot(state=RobotState.DISABLED)
    assert send(emulator, TEST_TOKEN, secret="SECx").record.errcode == 400102


def test_signature_before_ip(emulator: Emulator, make_robot: MakeRobot) -> None:
    """Bad sign and IP not allowed: the sign error."""
    make_robot(ip_allowlist=("10.0.0.0/8",))
    result = send(emulator, TEST_TOKEN, secret="SECx")
    assert result.record.errmsg.startswith(ZH_SIGN)


def test_ip_before_content_type(emulator: Emulator, make_robot: MakeRobot) -> None:
    """IP not allowed and wrong content type: the IP error."""
    make_robot(ip_allowlist=("10.0.0.0/8",))
    result = send(emulator, TEST_TOKEN, content_type="text/plain")
    assert result.record.errmsg == ZH_IP
    assert result.record.signature_verified is True


def test_content_type_before_json(emulator: Emulator, make_robot: MakeRobot) -> None:
    """Wrong content type and a body that is not JSON: 43004."""
    make_robot()
    result = send(emulator, TEST_TOKEN, body=b"x=1", content_type="text/plain")
    assert result.record.errcode == 43004


def test_json_before_keywords(emulator: Emulator, make_robot: MakeRobot) -> None:
    """Body not JSON on a keyword robot: 40035."""
    make_robot(keywords=("alarm",))
    assert send(emulator, TEST_TOKEN, body=b"nope").record.errcode == 40035


def test_signature_before_keywords(emulator: Emulator, make_robot: MakeRobot) -> None:
    """Bad sign and missing keyword: the sign error."""
    make_robot(keywords=("alarm",))
    result = send(emulator, TEST_TOKEN, text("no keyword"), secret="SECx")
    assert result.record.errmsg.startswith(ZH_SIGN)


def test_keywords_before_size(emulator: Emulator, make_robot: MakeRobot) -> None:
    """Missing keyword and body too long: the keyword error."""
    make_robot(keywords=("alarm",))
    result = send(emulator, TEST_TOKEN, body=_padded(25_000))
    assert result.record.errcode == 310000
    assert result.record.errmsg.startswith(ZH_KEYWORDS)


def test_size_before_msgtype(emulator: Emulator, make_robot: MakeRobot) -> None:
    """Body too long and an unsupported msgtype: 460101."""
    make_robot()
    payload = {"msgtype": "image", "image": {"picURL": "x" * 21_000}}
    assert send(emulator, TEST_TOKEN, payload).record.errcode == 460101


def test_msgtype_before_fields(emulator: Emulator, make_robot: MakeRobot) -> None:
    """Unsupported msgtype without any fields: 400105."""
    make_robot()
    assert send(emulator, TEST_TOKEN, {"msgtype": "video"}).record.errcode == 400105


def test_fields_before_rate(
    emulator: Emulator, make_robot: MakeRobot, manual_clock: ManualClock
) -> None:
    """A throttled robot still answers validation errors first."""
    make_robot()
    for _ in range(21):
        send(emulator, TEST_TOKEN)
    assert emulator.throttled_until(TEST_TOKEN) == manual_clock.now() + 600
    result = send(emulator, TEST_TOKEN, {"msgtype": "markdown", "markdown": {}})
    assert result.record.errcode == 400402
    assert send(emulator, TEST_TOKEN).record.errcode == 410100
