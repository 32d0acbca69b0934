"""The language of the person running a flow: frontend profile, browser, system."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp.test_utils import make_mocked_request
from homeassistant.components.http.const import KEY_HASS_USER
from homeassistant.const import CONF_NAME
from homeassistant.helpers.http import current_request
from homeassistant.setup import async_setup_component
import pytest

from custom_components.dingtalk.const import (
    CONF_DEFAULT_TARGET,
    CONF_KEYWORDS,
    CONF_SECRET,
    CONF_SEND_TEST_MESSAGE,
    CONF_USER_ID,
    CONF_WEBHOOK,
    DOMAIN,
    SUBENTRY_PERSON,
)
from custom_components.dingtalk.flow_language import async_flow_language

from .app_helpers import bare_app_entry, chat_of, texts
from .conftest import (
    ALICE,
    KEYWORD,
    ROBOT_NAME,
    SECRET,
    TOKEN,
    RobotEnv,
    setup_entry,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiohttp import ClientSession
    from homeassistant.auth.models import User
    from homeassistant.core import HomeAssistant

    from dingtalk_emulator import Emulator, EmulatorServer

    type ClientFactory = Callable[[], Awaitable[ClientSession]]
    type WsFactory = Callable[[], Awaitable[Any]]

CHINESE_ROBOT = "Home Assistant 已连接到这个钉钉机器人"
ENGLISH_ROBOT = "Home Assistant is now connected to this DingTalk robot"
FLOW_URL = "/api/config/config_entries/flow"
SUBENTRY_FLOW_URL = "/api/config/config_entries/subentries/flow"


@pytest.fixture
async def config_api(hass: HomeAssistant) -> None:
    """Serve the config entries REST API the frontend uses."""
    assert await async_setup_component(hass, "config", {})


@pytest.fixture
async def frontend(hass: HomeAssistant) -> None:
    """Set up the frontend (its user data is where the profile language is)."""
    assert await async_setup_component(hass, "frontend", {})


async def save_language(ws_factory: WsFactory, value: object) -> None:
    """Save the profile language as the frontend does (frontend/set_user_data)."""
    ws = await ws_factory()
    await ws.send_json_auto_id(
        {"type": "frontend/set_user_data", "key": "language", "value": value}
    )
    answer = await ws.receive_json()
    assert answer["success"], answer


async def add_robot_over_http(
    client: ClientSession, server: EmulatorServer, headers: dict[str, str]
) -> dict[str, Any]:
    """Add the Ops robot through the REST flow API, with a test message."""
    response = await client.post(FLOW_URL, json={"handler": DOMAIN}, headers=headers)
    assert response.status == 200, await response.text()
    menu = await response.json()
    assert menu["type"] == "menu"
    url = f"{FLOW_URL}/{menu['flow_id']}"
    response = await client.post(url, json={"next_step_id": "robot"}, headers=headers)
    assert (await response.json())["step_id"] == "robot"
    response = await client.post(
        url,
        json={
            CONF_NAME: ROBOT_NAME,
            CONF_WEBHOOK: server.webhook_url(TOKEN),
            CONF_SECRET: SECRET,
            CONF_KEYWORDS: [KEYWORD],
            CONF_SEND_TEST_MESSAGE: True,
        },
        headers=headers,
    )
    assert response.status == 200, await response.text()
    result: dict[str, Any] = await response.json()
    assert result["type"] == "create_entry", result
    return result


def robot_text(emulator: Emulator) -> str:
    """Return the one message the Ops robot delivered."""
    [message] = emulator.delivered(TOKEN)
    return str(message.payload["text"]["content"])


@pytest.mark.usefixtures("config_api", "frontend")
async def test_profile_language_wins(
    hass: HomeAssistant,
    hass_client: ClientFactory,
    hass_ws_client: WsFactory,
    robot_server: EmulatorServer,
    robot_emulator: Emulator,
) -> None:
    """A Chinese profile gets the Chinese test message, whatever the browser says."""
    await save_language(hass_ws_client, {"language": "zh-Hans", "number_format": "x"})
    client = await hass_client()
    await add_robot_over_http(client, robot_server, {"Accept-Language": "en-US,en"})
    await hass.async_block_till_done()
    assert robot_text(robot_emulator).startswith(CHINESE_ROBOT)


@pytest.mark.usefixtures("config_api", "frontend")
@pytest.mark.parametrize("saved", [None, "zh-Hans", {"language": 7}, {"other": 1}])
async def test_unusable_profile_falls_back_to_the_browser(
    hass: HomeAssistant,
    hass_client: ClientFactory,
    hass_ws_client: WsFactory,
    robot_env: RobotEnv,
    saved: object,
) -> None:
    """Without a saved profile language the browser's first language is used."""
    hass.config.language = "en"
    if saved is not None:
        await save_language(hass_ws_client, saved)
    client = await hass_client()
    await add_robot_over_http(
        client, robot_env.server, {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
    )
    await hass.async_block_till_done()
    assert robot_text(robot_env.emulator).startswith(CHINESE_ROBOT)


@pytest.mark.usefixtures("config_api")
@pytest.mark.parametrize(
    ("languages", "expected"),
    [
        (("zh-TW;q=0.8", "en"), CHINESE_ROBOT),
        (("en-GB,zh;q=0.5", "zh-Hans"), ENGLISH_ROBOT),
        ((None, "zh-Hans"), CHINESE_ROBOT),
        ((" ", "zh-Hans"), CHINESE_ROBOT),
        ((None, "en"), ENGLISH_ROBOT),
    ],
)
async def test_browser_then_system_language(
    hass: HomeAssistant,
    hass_client: ClientFactory,
    robot_env: RobotEnv,
    languages: tuple[str | None, str],
    expected: str,
) -> None:
    """Without the frontend: the browser's language (Accept-Language), else HA's."""
    header, system = languages
    hass.config.language = system
    client = await hass_client()
    headers = {} if header is None else {"Accept-Language": header}
    await add_robot_over_http(client, robot_env.server, headers)
    await hass.async_block_till_done()
    assert robot_text(robot_env.emulator).startswith(expected)


@pytest.mark.usefixtures("config_api", "frontend")
async def test_person_test_message_in_the_profile_language(
    hass: HomeAssistant,
    hass_client: ClientFactory,
    hass_ws_client: WsFactory,
    app_emulator: Emulator,
    robot_server: EmulatorServer,
) -> None:
    """Adding a person over HTTP greets them in the language of who adds them."""
    entry = await setup_entry(hass, bare_app_entry(robot_server))
    await save_language(hass_ws_client, {"language": "zh-Hans"})
    client = await hass_client()
    response = await client.post(
        SUBENTRY_FLOW_URL, json={"handler": [entry.entry_id, SUBENTRY_PERSON]}
    )
    assert response.status == 200, await response.text()
    form = await response.json()
    assert form["step_id"] == "user"
    response = await client.post(
        f"{SUBENTRY_FLOW_URL}/{form['flow_id']}",
        json={
            CONF_NAME: "爱丽丝",
            CONF_USER_ID: ALICE.user_id,
            CONF_DEFAULT_TARGET: False,
            CONF_SEND_TEST_MESSAGE: True,
        },
    )
    result = await response.json()
    assert result["type"] == "create_entry", result
    await hass.async_block_till_done()
    assert texts(chat_of(app_emulator, ALICE.user_id)) == [
        "Home Assistant 会把发给 爱丽丝 的消息发到这个聊天。"
    ]


async def test_outside_a_request(hass: HomeAssistant) -> None:
    """A flow step outside any request (a test, a discovery) has the system language."""
    hass.config.language = "zh-Hans"
    assert current_request.get() is None
    assert await async_flow_language(hass) == "zh-Hans"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Accept-Language": "zh-HK, en"}, "zh-HK"),
        ({"Accept-Language": ";q=1"}, "de"),
        ({}, "de"),
    ],
)
async def test_request_without_user(
    hass: HomeAssistant, headers: dict[str, str], expected: str
) -> None:
    """A request without a user has the browser's language, else the system's."""
    hass.config.language = "de"
    hass.config.components.add("frontend")
    request = make_mocked_request("POST", FLOW_URL, headers=headers)
    token = current_request.set(request)
    try:
        assert await async_flow_language(hass) == expected
    finally:
        current_request.reset(token)


async def test_user_without_frontend(
    hass: HomeAssistant, hass_admin_user: User
) -> None:
    """Without the frontend a logged-in user's browser language is used."""
    assert "frontend" not in hass.config.components
    request = make_mocked_request(
        "POST", FLOW_URL, headers={"Accept-Language": "zh-Hans"}
    )
    request[KEY_HASS_USER] = hass_admin_user
    token = current_request.set(request)
    try:
        assert await async_flow_language(hass) == "zh-Hans"
    finally:
        current_request.reset(token)
