"""dingtalk.reply: through the sessionWebhook while valid, then the app APIs."""

from __future__ import annotations

from dataclasses import replace
import time
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.dingtalk.const import (
    DOMAIN,
    EVENT_MESSAGE_RECEIVED,
    SERVICE_REPLY,
    DingTalkIssue,
)
from custom_components.dingtalk.delivery import issue_id
from dingtalk_emulator import Via

from .conftest import (
    ALICE,
    APP_CLIENT_ID,
    APP_ENTRY_ID,
    APP_NAME,
    BOB,
    ENTRY_ID,
    GARDEN_CID,
)
from .stream_helpers import (
    FAST_GATEWAY,
    fast_stream,  # noqa: F401 - an autouse fixture
    setup_app,
    setup_receiving,
    until,
    write,
)

if TYPE_CHECKING:
    from pathlib import Path

    from homeassistant.core import Event, HomeAssistant
    from homeassistant.helpers import issue_registry as ir
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from dingtalk_emulator import AppMessage, Emulator

PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)


async def reply(hass: HomeAssistant, **data: Any) -> dict[str, Any]:  # noqa: ANN401 - action data
    """Call dingtalk.reply and return its response."""
    response = await hass.services.async_call(
        DOMAIN, SERVICE_REPLY, data, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


async def received(  # noqa: PLR0913, PLR0917 - who writes what where
    hass: HomeAssistant,
    emulator: Emulator,
    events: list[Event[Any]],
    user_id: str,
    text: str,
    group: str | None = None,
) -> str:
    """Write a message (@-mentioning the robot in a group); return its message id."""
    count = len(events)
    write(emulator, user_id, text, group=group, at_robot=group is not None)
    await until(lambda: len(events) > count)
    await hass.async_block_till_done()
    return str(events[-1].data["message_id"])


def answers(emulator: Emulator) -> list[AppMessage]:
    """Return what the robot sent."""
    return emulator.apps.messages(APP_CLIENT_ID)


def api_names(emulator: Emulator) -> list[str]:
    """Return the app APIs called, in order (no token or Stream requests)."""
    skipped = {"token", "connections/open"}
    return [r.api for r in emulator.apps.requests if r.api not in skipped]


@pytest.fixture
async def receiving(
    hass: HomeAssistant, app_entry: MockConfigEntry
) -> list[Event[Any]]:
    """Set up the Home app receiving messages; return the captured events."""
    events: list[Event[Any]] = async_capture_events(hass, EVENT_MESSAGE_RECEIVED)
    await setup_receiving(hass, app_entry)
    return events


# -- through the sessionWebhook --------------------------------------------------------


async def test_reply_in_a_group_mentions_the_sender(
    hass: HomeAssistant, app_emulator: Emulator, receiving: list[Event[Any]]
) -> None:
    """A group reply goes through the sessionWebhook and @-mentions the sender."""
    message_id = await received(
        hass, app_emulator, receiving, BOB.user_id, "lights?", GARDEN_CID
    )
    response = await reply(hass, message_id=message_id, message="All lights are off.")
    assert response == {"via": "session", "parts": 1}
    [answer] = answers(app_emulator)
    assert answer.via is Via.SESSION
    assert answer.conversation_id == GARDEN_CID
    assert answer.at_user_ids == (BOB.user_id,)
    assert answer.payload is not None
    assert answer.payload["text"]["content"] == f"All lights are off.\n@{BOB.user_id}"


async def test_reply_in_a_group_without_mention(
    hass: HomeAssistant, app_emulator: Emulator, receiving: list[Event[Any]]
) -> None:
    """mention_sender false: nobody is mentioned; markdown keeps its title."""
    message_id = await received(
        hass, app_emulator, receiving, BOB.user_id, "lights?", GARDEN_CID
    )
    await reply(
        hass,
        message_id=message_id,
        title="Lights",
        message="All **off**.",
        mention_sender=False,
    )
    [answer] = answers(app_emulator)
    assert answer.at_user_ids == ()
    assert answer.payload is not None
    assert answer.payload["msgtype"] == "markdown"
    assert "at" not in answer.payload


async def test_reply_in_a_single_chat(
    hass: HomeAssistant, app_emulator: Emulator, receiving: list[Event[Any]]
) -> None:
    """A 1:1 reply mentions nobody unless asked to; a link card works too."""
    message_id = await received(hass, app_emulator, receiving, ALICE.user_id, "hi")
    await reply(hass, message_id=message_id, message="Hello")
    await reply(hass, message_id=message_id, message="Hello", mention_sender=True)
    await reply(
        hass,
        message_id=message_id,
        title="Docs",
        message="Read this",
        url="https://www.home-assistant.io",
        mention_sender=True,  # a link card cannot mention: nobody is
    )
    first, second, link = answers(app_emulator)
    assert (first.via, first.user_id, first.at_user_ids) == (
        Via.SESSION,
        ALICE.user_id,
        (),
    )
    assert second.at_user_ids == (ALICE.user_id,)
    assert link.payload is not None
    assert link.payload["msgtype"] == "link"


async def test_long_reply_in_parts(
    hass: HomeAssistant, app_emulator: Emulator, receiving: list[Event[Any]]
) -> None:
    """A reply over the body limit is split (prepared in the executor)."""
    message_id = await received(hass, app_emulator, receiving, ALICE.user_id, "log?")
    long_text = "\n".join(f"line {n:05d} " + "x" * 90 for n in range(300))
    response = await reply(hass, message_id=message_id, message=long_text)
    assert response == {"via": "session", "parts": 2}
    assert [a.via for a in answers(app_emulator)] == [Via.SESSION, Via.SESSION]


async def test_reply_by_conversation(
    hass: HomeAssistant, app_emulator: Emulator, receiving: list[Event[Any]]
) -> None:
    """A conversation id answers through its newest message's sessionWebhook."""
    await received(hass, app_emulator, receiving, BOB.user_id, "one", GARDEN_CID)
    await received(hass, app_emulator, receiving, ALICE.user_id, "two", GARDEN_CID)
    response = await reply(
        hass,
        conversation_id=GARDEN_CID,
        config_entry_id=APP_ENTRY_ID,
        message="Noted",
    )
    assert response == {"via": "session", "parts": 1}
    [answer] = answers(app_emulator)
    assert answer.at_user_ids == (ALICE.user_id,)  # the newest message's sender


async def test_reply_with_a_picture(
    hass: HomeAssistant,
    app_emulator: Emulator,
    receiving: list[Event[Any]],
    tmp_path: Path,
) -> None:
    """A picture is uploaded and shown in markdown (session) or as an image (API)."""
    folder = tmp_path / "allowed"
    folder.mkdir()
    (folder / "door.png").write_bytes(PNG)
    hass.config.allowlist_external_dirs = {str(folder)}
    message_id = await received(hass, app_emulator, receiving, ALICE.user_id, "door?")
    await reply(hass, message_id=message_id, image=str(folder / "door.png"))
    await reply(
        hass,
        conversation_id=GARDEN_CID,
        config_entry_id=APP_ENTRY_ID,
        image=str(folder / "door.png"),
    )
    session, group = answers(app_emulator)
    assert session.payload is not None
    assert session.payload["msgtype"] == "markdown"
    assert "![](@" in session.payload["markdown"]["text"]
    assert group.via is Via.GROUP_SEND
    assert group.msg_key == "sampleImageMsg"


async def test_picture_upload_refused(
    hass: HomeAssistant,
    app_emulator: Emulator,
    receiving: list[Event[Any]],
    tmp_path: Path,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A refused upload is the action's translated error and the promised issue.

    Found by a test: the error said a repair issue had been raised, and none was.
    """
    (tmp_path / "door.png").write_bytes(PNG)
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    message_id = await received(hass, app_emulator, receiving, ALICE.user_id, "door?")
    permissions = app_emulator.apps._app(APP_CLIENT_ID).config.permissions
    app_emulator.apps.set_permissions(APP_CLIENT_ID, frozenset({"qyapi_robot_sendmsg"}))
    with pytest.raises(HomeAssistantError) as caught:
        await reply(hass, message_id=message_id, image=str(tmp_path / "door.png"))
    assert caught.value.translation_key == "permission_denied"
    assert answers(app_emulator) == []
    key = issue_id(APP_ENTRY_ID, DingTalkIssue.PERMISSION_DENIED)
    issue = issue_registry.async_get_issue(DOMAIN, key)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["robot"] == APP_NAME
    # Granted again: the next reply goes, and the issue clears itself.
    app_emulator.apps.set_permissions(APP_CLIENT_ID, permissions)
    await reply(hass, message_id=message_id, image=str(tmp_path / "door.png"))
    assert len(answers(app_emulator)) == 1
    assert issue_registry.async_get_issue(DOMAIN, key) is None


# -- through the app APIs --------------------------------------------------------------


async def test_expired_session_goes_through_the_apis(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """After the sessionWebhook's time, groups and 1:1 chats get the app APIs."""
    app_emulator.apps.settings = replace(FAST_GATEWAY, session_ttl=30.0)
    events = async_capture_events(hass, EVENT_MESSAGE_RECEIVED)
    await setup_receiving(hass, app_entry)
    in_group = await received(
        hass, app_emulator, events, BOB.user_id, "lights?", GARDEN_CID
    )
    single = await received(hass, app_emulator, events, ALICE.user_id, "hi")
    assert await reply(hass, message_id=in_group, message="Off") == {
        "via": "api",
        "parts": 1,
    }
    await reply(hass, message_id=single, message="Hello")
    group, person = answers(app_emulator)
    assert (group.via, group.conversation_id) == (Via.GROUP_SEND, GARDEN_CID)
    assert group.msg_param == {"content": "Off"}  # the APIs cannot mention anyone
    assert (person.via, person.user_id) == (Via.BATCH_SEND, ALICE.user_id)
    assert "sendBySession" not in api_names(app_emulator)


async def test_session_refused_early_falls_back(
    hass: HomeAssistant, app_emulator: Emulator, receiving: list[Event[Any]]
) -> None:
    """A sessionWebhook DingTalk no longer knows: the APIs, and it is not used again."""
    message_id = await received(
        hass, app_emulator, receiving, BOB.user_id, "lights?", GARDEN_CID
    )
    app_emulator.apps._sessions.clear()
    assert (await reply(hass, message_id=message_id, message="Off"))["via"] == "api"
    assert (await reply(hass, message_id=message_id, message="Off"))["via"] == "api"
    assert api_names(app_emulator) == [
        "sendBySession",
        "groupMessages",
        "groupMessages",
    ]


async def test_unknown_conversation_is_a_group(
    hass: HomeAssistant, app_emulator: Emulator, loaded_app: MockConfigEntry
) -> None:
    """Without receiving, a conversation id is answered as a group (after restarts)."""
    response = await reply(
        hass,
        conversation_id=f" {GARDEN_CID} ",
        config_entry_id=loaded_app.entry_id,
        message="Good morning",
    )
    assert response == {"via": "api", "parts": 1}
    [answer] = answers(app_emulator)
    assert (answer.via, answer.conversation_id) == (Via.GROUP_SEND, GARDEN_CID)


@pytest.mark.usefixtures("receiving")
async def test_forgotten_message_falls_back_to_its_conversation(
    hass: HomeAssistant, app_emulator: Emulator
) -> None:
    """An unknown message id with its conversation answers the conversation."""
    await reply(
        hass,
        message_id="msgFromBeforeTheRestart",
        conversation_id=GARDEN_CID,
        config_entry_id=APP_ENTRY_ID,
        message="Back again",
    )
    [answer] = answers(app_emulator)
    assert answer.via is Via.GROUP_SEND


async def test_single_chat_without_user_id(
    hass: HomeAssistant, app_emulator: Emulator, receiving: list[Event[Any]]
) -> None:
    """An expired 1:1 message of someone without a userId cannot be answered."""
    past = round((time.time() - 10) * 1000)
    app_emulator.stream.push(
        APP_CLIENT_ID,
        {
            "conversationId": "cidExternal",
            "conversationType": "1",
            "msgId": "msgExternal",
            "msgtype": "text",
            "text": {"content": "hi"},
            "senderNick": "Eve",
            "sessionWebhook": "http://127.0.0.1:1/robot/sendBySession?session=x",
            "sessionWebhookExpiredTime": past,
        },
    )
    await until(lambda: receiving)
    with pytest.raises(HomeAssistantError) as caught:
        await reply(hass, message_id="msgExternal", message="Hello")
    assert caught.value.translation_key == "reply_no_user"
    assert caught.value.translation_placeholders == {"robot": APP_NAME}


@pytest.mark.usefixtures("loaded_app")
async def test_dingtalk_refusal_is_translated(
    hass: HomeAssistant, app_emulator: Emulator
) -> None:
    """An unpublished robot's refusal is the action's translated error."""
    app_emulator.apps.set_published(APP_CLIENT_ID, published=False)
    with pytest.raises(HomeAssistantError) as caught:
        await reply(
            hass, conversation_id=GARDEN_CID, config_entry_id=APP_ENTRY_ID, message="x"
        )
    assert caught.value.translation_key == "robot_unavailable"


@pytest.mark.usefixtures("loaded_app")
async def test_refused_credentials_start_reauth(
    hass: HomeAssistant, app_emulator: Emulator
) -> None:
    """A reply whose token is refused starts reauthentication."""
    apps = app_emulator.apps
    app = apps._apps[APP_CLIENT_ID]
    app.config = replace(app.config, client_secret="changed-in-the-console")
    apps.expire_tokens(APP_CLIENT_ID)
    with pytest.raises(HomeAssistantError) as caught:
        await reply(
            hass, conversation_id=GARDEN_CID, config_entry_id=APP_ENTRY_ID, message="x"
        )
    assert caught.value.translation_key == "app_credentials_rejected"
    await hass.async_block_till_done()
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["source"] == SOURCE_REAUTH


@pytest.mark.usefixtures("loaded_app")
async def test_message_the_apis_cannot_send(
    hass: HomeAssistant, app_emulator: Emulator
) -> None:
    """A feed card has no app template: a translated validation error."""
    with pytest.raises(ServiceValidationError) as caught:
        await reply(
            hass,
            conversation_id=GARDEN_CID,
            config_entry_id=APP_ENTRY_ID,
            links=[
                {"title": "t", "url": "https://a.example", "picture": "https://p.x/a"}
            ],
        )
    assert caught.value.translation_key == "app_feed_card"
    assert str(caught.value).startswith("A DingTalk app cannot send a feed card")
    assert answers(app_emulator) == []


# -- what the action refuses -----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "key", "placeholders"),
    [
        ({}, "reply_target_required", None),
        ({"conversation_id": GARDEN_CID}, "reply_entry_required", None),
        (
            {"conversation_id": GARDEN_CID, "config_entry_id": "nope"},
            "reply_unknown_entry",
            {"entry_id": "nope"},
        ),
        (
            {"conversation_id": GARDEN_CID, "config_entry_id": ENTRY_ID},
            "reply_not_an_app",
            {"robot": "Ops"},
        ),
        (
            {"message_id": "msg1", "config_entry_id": APP_ENTRY_ID},
            "app_not_receiving",
            {"robot": APP_NAME},
        ),
        ({"message_id": "msg1"}, "no_app_receiving", None),
    ],
)
@pytest.mark.usefixtures("loaded_app", "loaded_entry")
async def test_refused_calls(
    hass: HomeAssistant,
    data: dict[str, Any],
    key: str,
    placeholders: dict[str, str] | None,
) -> None:
    """Calls that cannot be answered are refused with a translated reason."""
    with pytest.raises(ServiceValidationError) as caught:
        await reply(hass, message="x", **data)
    assert caught.value.translation_key == key
    assert caught.value.translation_placeholders == placeholders


@pytest.mark.usefixtures("app_emulator", "receiving")
async def test_unknown_message(hass: HomeAssistant) -> None:
    """A message id nobody remembers is refused (it names the id)."""
    with pytest.raises(ServiceValidationError) as caught:
        await reply(hass, message_id="msgNobodyKnows", message="x")
    assert caught.value.translation_key == "unknown_message"
    assert caught.value.translation_placeholders == {"message_id": "msgNobodyKnows"}


@pytest.mark.usefixtures("app_emulator")
async def test_app_not_loaded(hass: HomeAssistant, app_entry: MockConfigEntry) -> None:
    """An app that is not loaded cannot reply."""
    await setup_app(hass, app_entry)
    assert await hass.config_entries.async_unload(app_entry.entry_id)
    with pytest.raises(ServiceValidationError) as caught:
        await reply(
            hass, conversation_id=GARDEN_CID, config_entry_id=APP_ENTRY_ID, message="x"
        )
    assert caught.value.translation_key == "robot_not_loaded"
