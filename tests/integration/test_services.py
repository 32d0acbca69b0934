"""The dingtalk.send_message entity action."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.exceptions import ServiceValidationError
import pytest

from custom_components.dingtalk.const import DOMAIN, SERVICE_SEND_MESSAGE
from dingtalk_emulator import Fault, FaultKind

from .conftest import TOKEN, stable

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant, ServiceResponse
    from syrupy.assertion import SnapshotAssertion

    from dingtalk_emulator import Emulator

ENTITY_ID = "notify.ops_message"

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
        ({}, "A text message needs the field message"),
        ({"msgtype": "markdown"}, "A markdown message needs the field message"),
        ({"msgtype": "link", "message": "x"}, "A link message needs the field title"),
        (
            {"msgtype": "action_card", "button_title": "b", "button_url": "https://x"},
            "A action_card message needs the field message",
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
