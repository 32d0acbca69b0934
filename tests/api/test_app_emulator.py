"""Run DingTalkAppClient against the DingTalk emulator's app robot APIs (an oracle)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import pytest

from custom_components.dingtalk.api.app_auth import AppCredentials
from custom_components.dingtalk.api.app_client import DingTalkAppClient
from custom_components.dingtalk.api.app_models import Image
from custom_components.dingtalk.api.app_results import BatchRecipientsNotFoundError
from custom_components.dingtalk.api.errors import (
    AppCredentialsError,
    RecipientNotFoundError,
    RobotUnavailableError,
)
from custom_components.dingtalk.api.models import ActionButton, ActionCard, Text
from dingtalk_emulator.testing import (
    TEST_APP_KEY,
    TEST_APP_SECRET,
    TEST_GROUP_ID,
    TEST_PEOPLE,
    make_test_app,
)

from .app_fakes import PNG

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from dingtalk_emulator import Emulator, EmulatorServer

CREDENTIALS = AppCredentials(TEST_APP_KEY, TEST_APP_SECRET)


@pytest.fixture
async def client(
    emulator: Emulator, emulator_server: EmulatorServer
) -> AsyncIterator[DingTalkAppClient]:
    """Return a client of the emulator's first test app (both bases on the emulator)."""
    make_test_app(emulator)
    base = emulator_server.base_url.rstrip("/")
    async with aiohttp.ClientSession() as session:
        yield DingTalkAppClient(
            CREDENTIALS, session=session, api_base=base, oapi_base=base
        )


async def test_send_to_users_and_group(
    emulator: Emulator, client: DingTalkAppClient
) -> None:
    """Deliver to a person and to the group, with the emulator's own keys."""
    result = await client.async_send_to_users(["alice"], Text(content="告警"))
    result.raise_for_recipients()
    card = ActionCard(
        title="T",
        text="X",
        buttons=(
            ActionButton(title="A", action_url="https://a.example/"),
            ActionButton(title="B", action_url="https://b.example/"),
        ),
    )
    key = await client.async_send_to_group(TEST_GROUP_ID, card)
    messages = emulator.apps.messages(TEST_APP_KEY)
    assert [(m.msg_key, m.user_id) for m in messages] == [
        ("sampleText", "alice"),
        ("sampleActionCard2", None),
    ]
    assert messages[0].msg_param == {"content": "告警"}
    assert messages[1].process_query_key == key


async def test_unknown_user_is_reported(client: DingTalkAppClient) -> None:
    """Raise for an id the organisation does not have."""
    result = await client.async_send_to_users(["alice", "nobody"], Text(content="x"))
    assert "nobody" not in result.delivered_user_ids
    with pytest.raises(BatchRecipientsNotFoundError):
        result.raise_for_recipients()


async def test_upload_then_send_the_picture(
    emulator: Emulator, client: DingTalkAppClient
) -> None:
    """Upload a PNG and send it by its media_id."""
    media_id = await client.async_upload_media(PNG, filename="snapshot")
    assert emulator.apps.has_media(media_id)
    await client.async_send_to_group(TEST_GROUP_ID, Image(photo_url=media_id))
    assert emulator.apps.messages(TEST_APP_KEY)[-1].msg_param == {"photoURL": media_id}


async def test_user_id_by_mobile(client: DingTalkAppClient) -> None:
    """Find a person by mobile; raise RecipientNotFoundError for an unknown one."""
    person = TEST_PEOPLE[1]
    assert await client.async_get_user_id_by_mobile(person.mobile) == person.user_id
    with pytest.raises(RecipientNotFoundError):
        await client.async_get_user_id_by_mobile("13999999999")


async def test_expired_token_is_renewed_once(
    emulator: Emulator, client: DingTalkAppClient
) -> None:
    """Fetch a new token after the emulator expired the old one, and deliver."""
    await client.async_send_to_users(["alice"], Text(content="1"))
    emulator.apps.expire_tokens(TEST_APP_KEY)
    await client.async_send_to_users(["alice"], Text(content="2"))
    assert client.stats.auth_retries == 1
    assert len(emulator.apps.messages(TEST_APP_KEY)) == 2


async def test_unpublished_app(emulator: Emulator, client: DingTalkAppClient) -> None:
    """Raise RobotUnavailableError while the app is not published."""
    emulator.apps.set_published(TEST_APP_KEY, published=False)
    with pytest.raises(RobotUnavailableError):
        await client.async_send_to_group(TEST_GROUP_ID, Text(content="x"))


async def test_wrong_secret(
    emulator: Emulator, emulator_server: EmulatorServer
) -> None:
    """Raise AppCredentialsError for a secret the emulator does not know."""
    make_test_app(emulator)
    base = emulator_server.base_url.rstrip("/")
    async with DingTalkAppClient(
        AppCredentials(TEST_APP_KEY, "wrong-secret"), api_base=base
    ) as client:
        with pytest.raises(AppCredentialsError):
            await client.async_check()
