"""Map message models onto the app robot's msgKey templates, exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from custom_components.dingtalk.api.app_messages import to_app_message
from custom_components.dingtalk.api.app_models import (
    MAX_MSG_PARAM_BYTES,
    MSG_KEYS,
    AppMessage,
    AppOnlyMessage,
    File,
    Image,
)
from custom_components.dingtalk.api.errors import InvalidMessageError, Problem
from custom_components.dingtalk.api.models import (
    ActionButton,
    ActionCard,
    ButtonOrientation,
    FeedCard,
    FeedLink,
    Link,
    Markdown,
    Mentions,
    Message,
    Text,
)

URL = "https://example.com/"


def _buttons(count: int) -> tuple[ActionButton, ...]:
    """Return ``count`` buttons titled B1… linking to URL1…."""
    return tuple(
        ActionButton(title=f"B{n}", action_url=f"{URL}{n}") for n in range(1, count + 1)
    )


def _card(count: int, orientation: ButtonOrientation | None = None) -> ActionCard:
    """Return an action card with ``count`` buttons."""
    return ActionCard(
        title="T", text="X", buttons=_buttons(count), orientation=orientation
    )


def _vertical(count: int) -> dict[str, str]:
    """Return the expected msgParam of a vertical card with ``count`` buttons."""
    param = {"title": "T", "text": "X"}
    for n in range(1, count + 1):
        param |= {f"actionTitle{n}": f"B{n}", f"actionURL{n}": f"{URL}{n}"}
    return param


SINGLE = {"title": "T", "text": "X", "singleTitle": "B1", "singleURL": f"{URL}1"}


@pytest.mark.parametrize(
    ("message", "msg_key", "msg_param"),
    [
        (Text(content="告警 disk"), "sampleText", {"content": "告警 disk"}),
        (
            Markdown(title="标题", text="# h\n\n**b**"),
            "sampleMarkdown",
            {"title": "标题", "text": "# h\n\n**b**"},
        ),
        (
            Link(title="T", text="X", message_url=URL, pic_url=f"{URL}p.png"),
            "sampleLink",
            {"text": "X", "title": "T", "picUrl": f"{URL}p.png", "messageUrl": URL},
        ),
        (
            Link(title="T", text="X", message_url=URL),
            "sampleLink",
            {"text": "X", "title": "T", "messageUrl": URL},
        ),
        (
            ActionCard(title="T", text="X", single_title="B1", single_url=f"{URL}1"),
            "sampleActionCard",
            SINGLE,
        ),
        (_card(1), "sampleActionCard", SINGLE),
        (_card(1, ButtonOrientation.HORIZONTAL), "sampleActionCard", SINGLE),
        (_card(2), "sampleActionCard2", _vertical(2)),
        (_card(2, ButtonOrientation.VERTICAL), "sampleActionCard2", _vertical(2)),
        (_card(3), "sampleActionCard3", _vertical(3)),
        (_card(4), "sampleActionCard4", _vertical(4)),
        (_card(5), "sampleActionCard5", _vertical(5)),
        (_card(3, ButtonOrientation.HORIZONTAL), "sampleActionCard3", _vertical(3)),
        (_card(5, ButtonOrientation.HORIZONTAL), "sampleActionCard5", _vertical(5)),
        (
            _card(2, ButtonOrientation.HORIZONTAL),
            "sampleActionCard6",
            {
                "title": "T",
                "text": "X",
                "buttonTitle1": "B1",
                "buttonUrl1": f"{URL}1",
                "buttonTitle2": "B2",
                "buttonUrl2": f"{URL}2",
            },
        ),
        (
            Image(photo_url="https://example.com/cam.jpg"),
            "sampleImageMsg",
            {"photoURL": "https://example.com/cam.jpg"},
        ),
        (Image(photo_url="@lADPD1"), "sampleImageMsg", {"photoURL": "@lADPD1"}),
        (
            File(media_id="@lAz", file_name="报告.pdf", file_type="PDF"),
            "sampleFile",
            {"mediaId": "@lAz", "fileName": "报告.pdf", "fileType": "pdf"},
        ),
    ],
)
def test_mapping(
    message: Message | AppOnlyMessage, msg_key: str, msg_param: dict[str, str]
) -> None:
    """Map each model onto its msgKey and the exact msgParam JSON."""
    app_message = to_app_message(message)
    assert app_message.msg_key == msg_key
    assert dict(app_message.msg_param) == msg_param
    assert app_message.msg_param_json == json.dumps(
        msg_param, ensure_ascii=False, separators=(",", ":")
    )
    assert msg_key in MSG_KEYS


def test_app_message_passes_through() -> None:
    """Return an AppMessage as it is."""
    message = AppMessage("sampleText", {"content": "x"})
    assert to_app_message(message) is message


def test_mentions_are_dropped_text_is_kept() -> None:
    """Keep '@name' in the text, drop the at-list (the v1.0 APIs ring nobody)."""
    mentions = Mentions(mobiles=("13800000000",), user_ids=("u1",), at_all=True)
    text = to_app_message(Text(content="@u1 看一下", mentions=mentions))
    assert dict(text.msg_param) == {"content": "@u1 看一下"}
    markdown = to_app_message(Markdown(title="t", text="hi", mentions=mentions))
    assert dict(markdown.msg_param) == {"title": "t", "text": "hi"}


def test_six_buttons_are_too_many() -> None:
    """Refuse an action card with more than 5 buttons, whatever its layout."""
    for orientation in (None, ButtonOrientation.HORIZONTAL):
        with pytest.raises(InvalidMessageError) as excinfo:
            to_app_message(_card(6, orientation))
        assert excinfo.value.problem is Problem.TOO_MANY_BUTTONS
        assert excinfo.value.params == {"limit": 5}


def test_feed_card_is_not_supported() -> None:
    """Refuse a feed card: no app robot template shows one."""
    card = FeedCard(links=(FeedLink(title="t", message_url=URL, pic_url=URL),))
    with pytest.raises(InvalidMessageError) as excinfo:
        to_app_message(card)
    assert excinfo.value.problem is Problem.NOT_SUPPORTED
    assert excinfo.value.params == {"msgtype": "feedCard"}


def test_unknown_object_is_refused() -> None:
    """Refuse anything that is not a message model."""
    with pytest.raises(InvalidMessageError) as excinfo:
        to_app_message({"msgtype": "text"})  # type: ignore[arg-type]  # on purpose
    assert excinfo.value.problem is Problem.INVALID_VALUE
    assert excinfo.value.field == "message"


def test_msg_param_size_cap() -> None:
    """Accept msgParam of exactly 15 000 UTF-8 bytes, refuse one byte more."""
    overhead = len('{"content":""}')
    fitting = "钉" * ((MAX_MSG_PARAM_BYTES - overhead) // 3)
    fitting += "a" * (MAX_MSG_PARAM_BYTES - overhead - len(fitting.encode()))
    message = to_app_message(Text(content=fitting))
    assert message.size == MAX_MSG_PARAM_BYTES == 15_000
    assert len(message.msg_param_json.encode()) == MAX_MSG_PARAM_BYTES
    with pytest.raises(InvalidMessageError) as excinfo:
        to_app_message(Text(content=fitting + "a"))
    assert excinfo.value.problem is Problem.TOO_LONG
    assert excinfo.value.params == {"limit": 15_000}


def test_msg_param_is_measured_as_sent() -> None:
    """Measure escapes as JSON writes them (a quote is two bytes, 中 three)."""
    message = AppMessage("sampleText", {"content": '"中\n'})
    assert message.msg_param_json == '{"content":"\\"中\\n"}'
    assert message.size == len(message.msg_param_json.encode())


def test_app_message_is_frozen_and_copies_its_param() -> None:
    """Copy msg_param, so changing the caller's dict changes nothing."""
    param = {"content": "x"}
    message = AppMessage("sampleText", param)
    param["content"] = "changed"
    assert message.msg_param["content"] == "x"
    with pytest.raises(TypeError):
        message.msg_param["content"] = "y"  # type: ignore[index]  # read-only on purpose


def test_payload_round_trip() -> None:
    """Store as JSON and read back the same message (msgParam as object or string)."""
    message = to_app_message(_card(2, ButtonOrientation.HORIZONTAL))
    payload = message.to_payload()
    assert payload == {
        "msgKey": "sampleActionCard6",
        "msgParam": dict(message.msg_param),
    }
    restored = AppMessage.from_payload(json.loads(json.dumps(payload)))
    assert restored == message
    as_string = {"msgKey": message.msg_key, "msgParam": message.msg_param_json}
    assert AppMessage.from_payload(as_string) == message


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"msgKey": "sampleNope", "msgParam": {}}, "msg_key"),
        ({"msgKey": "sampleActionCard1", "msgParam": {}}, "msg_key"),
        ({"msgKey": ["x"], "msgParam": {}}, "msg_key"),
        ({"msgParam": {"content": "x"}}, "msg_key"),
        ({"msgKey": "sampleText", "msgParam": "{not json"}, "msg_param"),
        ({"msgKey": "sampleText", "msgParam": ["x"]}, "msg_param"),
        ({"msgKey": "sampleText", "msgParam": {"content": 5}}, "msg_param"),
        ({"msgKey": "sampleText"}, "msg_param"),
    ],
)
def test_from_payload_refuses(payload: dict[str, object], field: str) -> None:
    """Refuse a stored message that is not a valid AppMessage."""
    with pytest.raises(InvalidMessageError) as excinfo:
        AppMessage.from_payload(payload)
    assert excinfo.value.problem is Problem.INVALID_VALUE
    assert excinfo.value.field == field


def test_from_payload_refuses_a_non_mapping() -> None:
    """Refuse a stored message that is not a JSON object."""
    with pytest.raises(InvalidMessageError) as excinfo:
        AppMessage.from_payload("sampleText")  # type: ignore[arg-type]  # on purpose
    assert excinfo.value.field == "payload"


_FILE = {"media_id": "@a", "file_name": "a", "file_type": "pdf"}


@pytest.mark.parametrize(
    ("cls", "kwargs", "problem", "field"),
    [
        (Image, {"photo_url": ""}, Problem.REQUIRED, "photo_url"),
        (Image, {"photo_url": None}, Problem.REQUIRED, "photo_url"),
        (Image, {"photo_url": "@l A"}, Problem.INVALID_VALUE, "photo_url"),
        (Image, {"photo_url": "ftp://example.com/a"}, Problem.INVALID_URL, "photo_url"),
        (Image, {"photo_url": "https://"}, Problem.INVALID_URL, "photo_url"),
        (File, _FILE | {"media_id": ""}, Problem.REQUIRED, "media_id"),
        (File, _FILE | {"file_name": " "}, Problem.REQUIRED, "file_name"),
        (File, _FILE | {"file_type": ""}, Problem.REQUIRED, "file_type"),
        (File, _FILE | {"file_type": "p-d"}, Problem.INVALID_VALUE, "file_type"),
        (File, _FILE | {"file_type": "."}, Problem.INVALID_VALUE, "file_type"),
    ],
)
def test_app_only_models_refuse(
    cls: type[Image | File], kwargs: dict[str, Any], problem: Problem, field: str
) -> None:
    """Refuse an image without URL or media id, a file without id, name or type."""
    with pytest.raises(InvalidMessageError) as excinfo:
        cls(**kwargs)
    assert excinfo.value.problem is problem
    assert excinfo.value.field == field


def test_file_type_is_normalised() -> None:
    """Lower-case the type and drop a leading dot."""
    assert File(media_id="@a", file_name="a", file_type=".XLSX").file_type == "xlsx"
