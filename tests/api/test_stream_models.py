"""Parse Stream frames and robot messages; build ACKs (no sockets)."""

from __future__ import annotations

import json

import pytest

from custom_components.dingtalk.api.stream_models import (
    CALLBACK_ACK_DATA,
    EVENT_ACK_DATA,
    AtUser,
    ConversationType,
    Frame,
    RobotMessage,
    StreamEvent,
    ack,
    find_message_id,
    parse_frame,
)

from .stream_fakes import BOT_TOPIC, CLIENT_ID, SESSION_WEBHOOK, frame, robot_payload


def _message(**fields: object) -> RobotMessage:
    """Parse a robot payload with some fields replaced (None removes a field)."""
    payload = {**robot_payload(), **fields}
    payload = {key: value for key, value in payload.items() if value is not None}
    return RobotMessage.from_payload("mid-1", payload)


def test_parse_frame() -> None:
    """Read type, topic, messageId and the still-encoded data of a §7.2 frame."""
    data = '{"secret":1}'
    parsed = parse_frame(json.dumps(frame("CALLBACK", BOT_TOPIC, "mid-1", data)))
    assert parsed is not None
    assert (parsed.type, parsed.topic, parsed.message_id) == (
        "CALLBACK",
        BOT_TOPIC,
        "mid-1",
    )
    assert parsed.data == data
    assert parsed.headers["appId"] == "app-0001"
    assert parsed.data_object() == {"secret": 1}
    assert "secret" not in repr(parsed)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '"text"',
        "[" * 100_000,  # nesting that exhausts the parser
        json.dumps({"type": "CALLBACK", "data": "{}"}),  # no headers
        json.dumps({"type": "CALLBACK", "headers": {"topic": "t"}}),  # no messageId
        json.dumps({"type": "CALLBACK", "headers": {"topic": "t", "messageId": ""}}),
        json.dumps({"type": 1, "headers": {"topic": "t", "messageId": "m"}}),
        json.dumps({"type": "EVENT", "headers": {"topic": 2, "messageId": "m"}}),
        json.dumps({"type": "EVENT", "headers": {"topic": "t", "messageId": 3}}),
        json.dumps(
            {"type": "EVENT", "headers": {"topic": "t", "messageId": "m"}, "data": {}}
        ),
    ],
)
def test_parse_frame_refuses(text: str) -> None:
    """Return None for anything that is not a frame with type, topic and messageId."""
    assert parse_frame(text) is None


def test_parse_frame_without_data() -> None:
    """Treat a missing data field as empty; its data is then not an object."""
    parsed = parse_frame(
        json.dumps({"type": "SYSTEM", "headers": {"topic": "ping", "messageId": "m"}})
    )
    assert parsed is not None
    assert parsed.data == ""
    assert parsed.data_object() is None


def test_find_message_id() -> None:
    """Find the header's messageId, not one quoted inside the data string."""
    inner = json.dumps({"messageId": "inner"})
    text = json.dumps({"data": inner, "headers": {"messageId": "outer"}})
    assert find_message_id(text) == "outer"
    assert find_message_id(json.dumps({"data": inner})) is None


def test_ack_matches_the_reference() -> None:
    """Build the §7.3 ACK byte for byte in its data field."""
    assert json.loads(ack("mid-1", CALLBACK_ACK_DATA)) == {
        "code": 200,
        "headers": {"messageId": "mid-1", "contentType": "application/json"},
        "message": "OK",
        "data": '{"response": null}',
    }
    assert json.loads(EVENT_ACK_DATA) == {"status": "SUCCESS", "message": "OK"}
    error = json.loads(ack("m", "{}", code=500, message="bad"))
    assert (error["code"], error["message"], error["data"]) == (500, "bad", "{}")


def test_robot_message_fields() -> None:
    """Map every §7.5 field; strip the space left after the @-mention."""
    message = _message()
    assert message.message_id == "mid-1"
    assert message.msg_id == "msgA"
    assert message.conversation_id == "cidGroup0001=="
    assert message.conversation_type is ConversationType.GROUP
    assert message.conversation_title == "家"
    assert (message.sender_id, message.sender_nick) == ("$:LWCP_v1:$sender", "张三")
    assert (message.sender_staff_id, message.sender_corp_id) == ("user001", "dingcorp")
    assert message.is_admin is True
    assert message.chatbot_user_id == "$:LWCP_v1:$robot"
    assert message.robot_code == CLIENT_ID
    assert (message.msgtype, message.text, message.download_codes) == (
        "text",
        "开灯",
        (),
    )
    assert message.at_users == (AtUser(dingtalk_id="$:LWCP_v1:$robot"),)
    assert message.is_in_at_list is True
    assert message.created_at == 1690362102194
    assert message.session_webhook == SESSION_WEBHOOK
    assert message.session_webhook_expires_at == 1690367502425
    assert message.raw["chatbotCorpId"] == "dingcorp"
    assert message.dedupe_keys == ("m:mid-1", "p:msgA")


def test_robot_message_repr_hides_the_session_webhook() -> None:
    """Keep the sessionWebhook (a credential for the chat) and raw data out of repr."""
    text = repr(_message())
    assert "SESSION0001" not in text
    assert "sendBySession" not in text
    assert "开灯" in text


def test_robot_message_numbers_as_strings() -> None:
    """Accept numbers and booleans sent as strings, or of the other type."""
    message = _message(
        conversationType=1,
        createAt="1690362102194",
        sessionWebhookExpiredTime=1.690367502425e12,
        isAdmin="false",
        isInAtList="1",
        msgId=12345,
    )
    assert message.conversation_type is ConversationType.PRIVATE
    assert message.created_at == 1690362102194
    assert message.session_webhook_expires_at == 1690367502425
    assert message.is_admin is False
    assert message.is_in_at_list is True
    assert message.msg_id == "12345"


@pytest.mark.parametrize("value", ["soon", "nan", "1e400", True, None, [1]])
def test_robot_message_bad_number(value: object) -> None:
    """Turn a number that cannot be read into None."""
    assert _message(createAt=value).created_at is None


def test_robot_message_odd_fields() -> None:
    """Turn fields of a wrong type into empty values instead of failing."""
    message = _message(
        conversationType="9",
        text="plain",
        atUsers=[{"dingtalkId": "d1", "staffId": "s1"}, "junk", {"staffId": 7}],
        isAdmin=1,
        isInAtList=None,
        senderNick=["x"],
    )
    assert message.conversation_type is None
    assert message.text == ""
    assert message.at_users == (
        AtUser(dingtalk_id="d1", staff_id="s1"),
        AtUser(staff_id="7"),
    )
    assert (message.is_admin, message.is_in_at_list) == (True, False)
    assert message.sender_nick == ""
    assert _message(atUsers="nobody").at_users == ()


def test_robot_message_empty_payload() -> None:
    """Build a message even from an empty payload (e.g. an over-quota delivery)."""
    message = RobotMessage.from_payload("mid-2", {})
    assert message.msg_id == message.text == message.session_webhook == ""
    assert message.conversation_type is None
    assert (message.created_at, message.session_webhook_expires_at) == (None, None)
    assert message.dedupe_keys == ("m:mid-2", "")


def test_rich_text() -> None:
    """Join a richText's text parts and collect its pictures' download codes."""
    content = {
        "richText": [
            {"text": "看看"},
            {"type": "picture", "downloadCode": "dc1", "pictureDownloadCode": "p1"},
            {"type": "picture", "pictureDownloadCode": "p2"},
            {"text": " 这个 "},
            "junk",
        ]
    }
    message = _message(msgtype="richText", text=None, content=content)
    assert message.text == "看看 这个"
    assert message.download_codes == ("dc1", "p2")


@pytest.mark.parametrize(
    ("msgtype", "content", "text", "codes"),
    [
        ("picture", {"downloadCode": "dc", "pictureDownloadCode": "pc"}, "", ("dc",)),
        (
            "audio",
            {"downloadCode": "ac", "recognition": " 打开空调 "},
            "打开空调",
            ("ac",),
        ),
        ("video", {"downloadCode": "vc", "duration": "12"}, "", ("vc",)),
        (
            "file",
            {"downloadCode": "fc", "fileName": "report.pdf"},
            "report.pdf",
            ("fc",),
        ),
        ("unknownMsgType", "not an object", "", ()),
    ],
)
def test_media_messages(
    msgtype: str, content: object, text: str, codes: tuple[str, ...]
) -> None:
    """Give media messages a best-effort text and their download codes."""
    message = _message(msgtype=msgtype, text=None, content=content)
    assert (message.text, message.download_codes) == (text, codes)


def test_stream_event() -> None:
    """Read an EVENT frame's event headers and data."""
    headers = {
        "eventId": "ev-1",
        "eventType": "chat_update_title",
        "eventCorpId": "dingcorp",
        "eventBornTime": "1690362102194",
    }
    raw = frame("EVENT", "chat_update_title", "mid-3", '{"title":"x"}', **headers)
    parsed = parse_frame(json.dumps(raw))
    assert parsed is not None
    event = StreamEvent.from_frame(parsed, {"title": "x"})
    assert (event.event_id, event.event_type) == ("ev-1", "chat_update_title")
    assert (event.corp_id, event.born_at) == ("dingcorp", 1690362102194)
    assert event.data == {"title": "x"}
    assert event.dedupe_keys == ("m:mid-3", "e:ev-1")
    bare = StreamEvent.from_frame(Frame("EVENT", "t", "mid-4", {}, "{}"), {})
    assert bare.dedupe_keys == ("m:mid-4", "")
    assert bare.born_at is None
