"""Pictures in messages: uploaded for apps, served by Home Assistant for robots."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.notify.const import DOMAIN as NOTIFY_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.exceptions import ServiceValidationError
import pytest

from custom_components.dingtalk.compose import DingTalkRequest
from custom_components.dingtalk.const import DOMAIN, DingTalkFormat

from .conftest import GARDEN_CID, KEYWORD, TOKEN, setup_entry
from .test_images import CAMERA_ID, JPEG, FakeCamera, set_up_entity

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from dingtalk_emulator import Emulator

ALICE_ENTITY: Final = "notify.alice"
GARDEN_ENTITY: Final = "notify.garden"
ROBOT_ENTITY: Final = "notify.ops"
EXTERNAL: Final = "https://home.example.com"


@pytest.fixture
async def camera(hass: HomeAssistant) -> FakeCamera:
    """Set up camera.front_door (its snapshot: JPEG)."""
    await set_up_entity(hass, entity := FakeCamera())
    return entity


async def send(hass: HomeAssistant, entity_id: str, **data: Any) -> dict[str, Any]:  # noqa: ANN401 - action data
    """Call dingtalk.send_message; return the entity's response."""
    response = await hass.services.async_call(
        DOMAIN,
        "send_message",
        {ATTR_ENTITY_ID: entity_id, **data},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    return dict(response[entity_id])  # type: ignore[arg-type]  # a mapping per entity


def uploaded(emulator: Emulator, media_id: str) -> bytes:
    """Return the bytes the app uploaded as ``media_id``."""
    return emulator.apps.media(media_id).data


@pytest.mark.usefixtures("camera")
async def test_snapshot_alone_is_an_image_message(
    hass: HomeAssistant, app_emulator: Emulator, loaded_app: MockConfigEntry
) -> None:
    """A picture alone goes to an app's person as sampleImageMsg, bytes intact."""
    del loaded_app
    assert await send(hass, ALICE_ENTITY, image=CAMERA_ID) == {
        "status": "sent",
        "parts": 1,
    }
    [message] = app_emulator.apps.messages()
    assert message.msg_key == "sampleImageMsg"
    assert uploaded(app_emulator, message.msg_param["photoURL"]) == JPEG


@pytest.mark.usefixtures("camera")
async def test_snapshot_with_text_is_inline_markdown(
    hass: HomeAssistant, app_emulator: Emulator, loaded_app: MockConfigEntry
) -> None:
    """With a title and message the picture ends a markdown message in the group."""
    del loaded_app
    await send(hass, GARDEN_ENTITY, title="Door", message="Motion", image=CAMERA_ID)
    [message] = app_emulator.apps.messages()
    assert message.conversation_id == GARDEN_CID
    assert message.msg_key == "sampleMarkdown"
    text = message.msg_param["text"]
    assert text.startswith("### Door\n\nMotion\n\n![](")
    media_id = text.removeprefix("### Door\n\nMotion\n\n![](").removesuffix(")")
    assert uploaded(app_emulator, media_id) == JPEG


@pytest.mark.usefixtures("camera")
async def test_action_card_and_link_show_the_picture(
    hass: HomeAssistant, app_emulator: Emulator, loaded_app: MockConfigEntry
) -> None:
    """An action card shows it in its text; a link card uses it as its picture."""
    del loaded_app
    await send(
        hass,
        ALICE_ENTITY,
        message="Garage open",
        image=CAMERA_ID,
        button_title="Close",
        button_url="https://example.com/close",
    )
    [card] = app_emulator.apps.messages()
    assert card.msg_key == "sampleActionCard"
    media_id = card.msg_param["text"].removeprefix("Garage open\n\n![](")[:-1]
    assert uploaded(app_emulator, media_id) == JPEG


@pytest.mark.usefixtures("camera")
async def test_robot_link_card_uses_the_picture(
    hass: HomeAssistant, robot_emulator: Emulator, loaded_entry: MockConfigEntry
) -> None:
    """A robot's link card gets the served picture as its picUrl."""
    del loaded_entry
    hass.config.external_url = EXTERNAL
    await send(
        hass,
        ROBOT_ENTITY,
        title=f"Plan {KEYWORD}",
        message="Tonight",
        url="https://example.com/plan",
        image=CAMERA_ID,
    )
    [message] = robot_emulator.delivered(TOKEN)
    assert message.payload["link"]["picUrl"].startswith(f"{EXTERNAL}/api/dingtalk/")


@pytest.mark.usefixtures("camera", "loaded_app")
@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"msgtype": "text", "message": "x"}, "image_not_supported"),
        (
            {
                "links": [
                    {
                        "title": "a",
                        "url": "https://a.example",
                        "picture": "https://a.example/p.png",
                    }
                ]
            },
            "image_not_supported",
        ),
        (
            {"title": "t", "message": "m", "url": "https://a.example"},
            "link_picture_uploaded",
        ),
        (
            {
                "title": "t",
                "message": "m",
                "url": "https://a.example",
                "picture": "https://a.example/p.png",
            },
            "link_picture_twice",
        ),
    ],
    ids=["text", "feed_card", "app_link", "link_with_picture"],
)
async def test_picture_where_it_cannot_go(
    hass: HomeAssistant, app_emulator: Emulator, data: dict[str, Any], key: str
) -> None:
    """Text, feed cards and an app's link card take no picture; nothing is sent."""
    with pytest.raises(ServiceValidationError) as failure:
        await send(hass, ALICE_ENTITY, image=CAMERA_ID, **data)
    assert failure.value.translation_key == key
    assert "Picture" in str(failure.value)
    assert app_emulator.apps.messages() == []


@pytest.mark.usefixtures("camera")
async def test_robot_shows_a_served_picture(
    hass: HomeAssistant, robot_emulator: Emulator, loaded_entry: MockConfigEntry
) -> None:
    """A group robot's markdown links the picture on the external https URL."""
    del loaded_entry
    hass.config.external_url = EXTERNAL
    await send(hass, ROBOT_ENTITY, image=CAMERA_ID)
    [message] = robot_emulator.delivered(TOKEN)
    text = message.payload["markdown"]["text"]
    assert text.startswith(f"![]({EXTERNAL}/api/dingtalk/image/")
    assert "authSig=" in text
    assert KEYWORD in text  # the robot's keyword is still added


@pytest.mark.usefixtures("camera")
async def test_robot_without_external_url_is_refused(
    hass: HomeAssistant, robot_emulator: Emulator, loaded_entry: MockConfigEntry
) -> None:
    """Without an https external URL a robot cannot show a picture: it says so."""
    del loaded_entry
    with pytest.raises(ServiceValidationError) as failure:
        await send(hass, ROBOT_ENTITY, message="x", image=CAMERA_ID)
    assert failure.value.translation_key == "image_no_external_url"
    assert robot_emulator.delivered(TOKEN) == []


async def test_legacy_action_loads_the_picture_once(
    hass: HomeAssistant,
    camera: FakeCamera,
    app_emulator: Emulator,
    app_entry: MockConfigEntry,
    config_entry: MockConfigEntry,
) -> None:
    """notify.dingtalk with data.image reaches a robot and a group from one snapshot."""
    hass.config.external_url = EXTERNAL
    await setup_entry(hass, config_entry)
    await setup_entry(hass, app_entry)
    calls = 0
    original = camera.async_camera_image

    async def counted(width: int | None = None, height: int | None = None) -> bytes:
        nonlocal calls
        calls += 1
        return await original(width, height) or b""

    camera.async_camera_image = counted  # type: ignore[method-assign]  # count calls
    await hass.services.async_call(
        NOTIFY_DOMAIN,
        "dingtalk",
        {"message": f"{KEYWORD}: door", "target": ["Ops", "Garden"]},
        blocking=True,
    )
    await hass.services.async_call(
        NOTIFY_DOMAIN,
        "dingtalk",
        {
            "message": f"{KEYWORD}: door",
            "target": ["Ops", "Garden"],
            "data": {"image": CAMERA_ID},
        },
        blocking=True,
    )
    assert calls == 1
    robot = app_emulator.delivered(TOKEN)
    assert "markdown" in robot[-1].payload
    group = [m for m in app_emulator.apps.messages() if m.conversation_id == GARDEN_CID]
    assert group[-1].msg_key == "sampleMarkdown"


def test_build_needs_the_loaded_picture() -> None:
    """A request with a picture cannot be built before the picture is loaded."""
    request = DingTalkRequest(message="x", image=CAMERA_ID)
    with pytest.raises(ValueError, match="loaded"):
        request.build(DingTalkFormat.AUTO)
