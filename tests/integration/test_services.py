"""The dingtalk.send_message entity action."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.translation import async_get_translations
import pytest

from custom_components.dingtalk.const import DOMAIN, SERVICE_SEND_MESSAGE
from dingtalk_emulator import Fault, FaultKind

from .conftest import TOKEN, stable

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant, ServiceResponse
    from syrupy.assertion import SnapshotAssertion

    from dingtalk_emulator import Emulator

ENTITY_ID = "notify.ops"

pytestmark = pytest.mark.usefixtures("loaded_entry")


async def send(hass: HomeAssistant, **data: object) -> ServiceResponse:
    """Call dingtalk.send_message on the Ops robot and return its response."""
    return await hass.services.async_call(
        DOMAIN,
        SERVICE_SEND_MESSAGE,
        {ATTR_ENTITY_ID: ENTITY_ID, **data},
        blocking=True,
        return_response=True,
    )


@pytest.mark.parametrize(
    "data",
    [
        {"message": "Plain", "msgtype": "text", "title": "Heads up"},
        {"message": "Plain", "at_mobiles": ["+86-13800000000"], "at_all": True},
        {"message": "**Bold**", "title": "Report", "at_user_ids": ["u1", "", "u2"]},
        {"title": "Only a title", "at_mobiles": ["", "13800000000"]},
        {
            "msgtype": "link",
            "title": "Camera",
            "message": "Motion in the garden",
            "url": "https://example.org/cam",
            "picture": "https://example.org/cam.jpg",
        },
        {
            "msgtype": "action_card",
            "title": "Leak",
            "message": "Water under the sink",
            "button_title": "Details",
            "button_url": "https://example.org/leak",
        },
        {
            "title": "Leak",
            "message": "Water under the sink",
            "buttons": [
                {"title": "Valve off", "url": "https://example.org/off"},
                {"title": "Ignore", "url": "https://example.org/ignore"},
            ],
            "orientation": "vertical",
        },
        {
            "msgtype": "feed_card",
            "links": [
                {
                    "title": "Front",
                    "url": "https://example.org/front",
                    "picture": "https://example.org/front.jpg",
                },
                {
                    "title": "Back",
                    "url": "https://example.org/back",
                    "picture": "https://example.org/back.jpg",
                },
            ],
        },
    ],
    ids=[
        "text",
        "text_mentions",
        "markdown",
        "markdown_title_only",
        "link",
        "action_card_single",
        "action_card_buttons",
        "feed_card",
    ],
)
async def test_every_message_type(
    hass: HomeAssistant,
    robot_emulator: Emulator,
    snapshot: SnapshotAssertion,
    data: dict[str, Any],
) -> None:
    """Every message type reaches DingTalk with its exact fields."""
    response = await send(hass, **data)
    assert response == {ENTITY_ID: {"status": "sent", "parts": 1}}
    [message] = robot_emulator.delivered(TOKEN)
    assert stable(message) == snapshot
    state = hass.states.get(ENTITY_ID)
    assert state is not None
    assert state.state != "unknown"


async def test_long_message_is_split(
    hass: HomeAssistant, robot_emulator: Emulator
) -> None:
    """A message over 20 000 bytes goes out in numbered parts."""
    text = "\n".join(f"line {index} " + "x" * 90 for index in range(400))
    response = await send(hass, message=text)
    assert response == {ENTITY_ID: {"status": "sent", "parts": 3}}
    contents = [m.payload["text"]["content"] for m in robot_emulator.delivered(TOKEN)]
    assert [content.splitlines()[0] for content in contents] == [
        "(1/3)",
        "(2/3)",
        "(3/3)",
    ]


async def test_throttled_robot_queues(
    hass: HomeAssistant, robot_emulator: Emulator
) -> None:
    """A throttled robot keeps the message and the action says it is queued."""
    robot_emulator.inject_fault(TOKEN, Fault(FaultKind.RATE))
    response = await send(hass, message="later")
    assert response == {ENTITY_ID: {"status": "queued", "parts": 1}}
    assert robot_emulator.delivered(TOKEN) == []


async def test_without_response(hass: HomeAssistant, robot_emulator: Emulator) -> None:
    """The action works without asking for a response."""
    await hass.services.async_call(
        DOMAIN,
        SERVICE_SEND_MESSAGE,
        {ATTR_ENTITY_ID: ENTITY_ID, "message": "fire and forget"},
        blocking=True,
    )
    assert len(robot_emulator.delivered(TOKEN)) == 1


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "A text message needs a Message or a Title"),
        ({"msgtype": "markdown"}, "A markdown message needs a Message or a"),
        ({"msgtype": "link", "message": "x"}, "A link message needs a Title"),
        (
            {"msgtype": "action_card", "button_title": "b", "button_url": "https://x"},
            "An action card needs a Message",
        ),
        ({"message": "x", "at_mobiles": ["123"]}, "123 is not a valid mobile"),
    ],
)
async def test_invalid_fields(
    hass: HomeAssistant, robot_emulator: Emulator, data: dict[str, Any], error: str
) -> None:
    """Incomplete or wrong fields are refused before anything is sent."""
    with pytest.raises(ServiceValidationError, match=error):
        await send(hass, **data)
    assert robot_emulator.requests == []


FIELD_NAME = "component.dingtalk.services.send_message.fields.{}.name"
TYPE_NAME = "component.dingtalk.selector.msgtype.options.{}"
SECTION_NAME = "component.dingtalk.services.send_message.sections.{}.name"
BUTTONS = [{"title": "Open", "url": "https://example.org/open"}]
LINKS = [{"title": "a", "url": "https://a.example", "picture": "https://a.example/p"}]


async def localized_error(
    hass: HomeAssistant, language: str, data: dict[str, Any]
) -> tuple[str, dict[str, str]]:
    """Return an action's error as the frontend shows it, and the texts it uses.

    The frontend translates the error's key in the user's language and inserts
    its placeholders as they are.
    """
    with pytest.raises(ServiceValidationError) as caught:
        await send(hass, **data)
    error = caught.value
    assert error.translation_domain == DOMAIN
    texts = {
        key: value
        for category in ("exceptions", "services", "selector")
        for key, value in (
            await async_get_translations(hass, language, category, {DOMAIN})
        ).items()
    }
    message = texts[f"component.{DOMAIN}.exceptions.{error.translation_key}.message"]
    return message.format(**(error.translation_placeholders or {})), texts


@pytest.mark.parametrize("language", ["en", "zh-Hans"])
@pytest.mark.parametrize(
    ("data", "fields", "msgtype"),
    [
        ({"message": "x", "button_title": "Open"}, ["button_url"], "action_card"),
        ({"message": "x", "button_url": "https://x.org"}, ["button_title"], None),
        ({"msgtype": "action_card", "message": "x"}, ["buttons"], "action_card"),
        ({"msgtype": "action_card", "buttons": BUTTONS}, ["message"], "action_card"),
        ({"msgtype": "feed_card"}, ["links"], "feed_card"),
        ({"msgtype": "link", "message": "x"}, ["title"], "link"),
        ({"msgtype": "link", "title": "x", "message": "x"}, ["url"], "link"),
        ({}, ["message", "title"], "text"),
        ({"msgtype": "markdown"}, ["message", "title"], "markdown"),
        ({"msgtype": "text", "message": "x", "url": "https://x.org"}, ["url"], "link"),
        (
            {"msgtype": "text", "message": "x", "picture": "https://x"},
            ["picture"],
            None,
        ),
        (
            {"msgtype": "text", "message": "x", "button_title": "b"},
            ["button_title"],
            None,
        ),
        (
            {"msgtype": "text", "message": "x", "orientation": "vertical"},
            ["orientation"],
            None,
        ),
        ({"msgtype": "text", "message": "x", "buttons": BUTTONS}, ["buttons"], None),
        (
            {"message": "x", "links": LINKS, "button_url": "https://x"},
            ["button_url"],
            None,
        ),
        (
            {"msgtype": "markdown", "message": "x", "links": LINKS},
            ["links"],
            "feed_card",
        ),
        (
            {
                "message": "x",
                "button_title": "b",
                "button_url": "b",
                "buttons": BUTTONS,
            },
            ["button_title", "button_url", "buttons"],
            "action_card",
        ),
        ({"message": "x", "url": "ftp://x.org", "title": "t"}, ["url"], None),
        (
            {"message": "x", "url": "https://x.org", "title": "t", "picture": "p"},
            ["picture"],
            None,
        ),
        (
            {"message": "x", "button_title": "b", "button_url": "b"},
            ["button_url"],
            None,
        ),
        ({"message": "x", "buttons": [{"title": "b", "url": "b"}]}, ["buttons"], None),
        ({"links": [{"title": "a", "url": "u", "picture": "p"}]}, ["links"], None),
    ],
)
async def test_errors_use_the_form_labels(
    hass: HomeAssistant,
    language: str,
    data: dict[str, Any],
    fields: list[str],
    msgtype: str | None,
) -> None:
    """Errors name fields and message types as the action's form does, never keys."""
    message, texts = await localized_error(hass, language, data)
    for field in fields:
        assert texts[FIELD_NAME.format(field)] in message, (field, message)
    if msgtype is not None:
        type_name = texts[TYPE_NAME.format(msgtype)]
        assert type_name.casefold() in message.casefold(), (msgtype, message)
    assert "{" not in message
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", message), message  # no field keys
    assert "actionCard" not in message
    assert "feedCard" not in message


@pytest.mark.parametrize(
    ("language", "data", "expected"),
    [
        (
            "en",
            {"message": "x", "button_title": "Open"},
            "An action card with a Button text also needs a Button URL.",
        ),
        (
            "zh-Hans",
            {"message": "x", "button_title": "Open"},
            "填写了“按钮文字”的 ActionCard 卡片还需要填写“按钮链接”。",
        ),
        (
            "en",
            {"msgtype": "feed_card"},
            "A feed card needs at least one entry in Feed links.",
        ),
        (
            "zh-Hans",
            {"msgtype": "feed_card"},
            "FeedCard 卡片至少需要一个“FeedCard 条目”。",
        ),
        (
            "en",
            {
                "msgtype": "action_card",
                "message": "x",
                "at_all": True,
                "buttons": BUTTONS,
            },
            (
                "An action card cannot mention anyone: clear the fields under "
                "Mentions, or choose Text or Markdown as the Message type."
            ),
        ),
        (
            "zh-Hans",
            {
                "msgtype": "action_card",
                "message": "x",
                "at_all": True,
                "buttons": BUTTONS,
            },
            (
                "ActionCard 卡片不能 @ 任何人：请清空“@ 提醒”中的字段，"
                "或将“消息类型”选为“文本”或“Markdown”。"
            ),
        ),
    ],
)
async def test_errors_read_well(
    hass: HomeAssistant, language: str, data: dict[str, Any], expected: str
) -> None:
    """The reported errors, word for word: grammatical, with the form's labels."""
    message, texts = await localized_error(hass, language, data)
    assert message == expected
    if "@" in expected:  # the section holding the mention fields
        assert texts[SECTION_NAME.format("mentions")] in message
