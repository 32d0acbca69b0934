"""An app's deliveries: bursts combined, lost answers resent marked, uploads refused."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final, cast

from homeassistant.components.notify.const import DOMAIN as NOTIFY_DOMAIN
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest

from custom_components.dingtalk.api import InvalidMessageError, Problem
from custom_components.dingtalk.app_sender import AppSender
from custom_components.dingtalk.const import (
    CONF_COMBINE,
    CONF_UNSURE,
    DOMAIN,
    SERVICE_SEND_MESSAGE,
    DingTalkIssue,
)
from custom_components.dingtalk.delivery import invalid_message, issue_id
from custom_components.dingtalk.outbox import DATA_SETTINGS, UnsureDelivery
from custom_components.dingtalk.runtime import DingTalkAppRuntime, TargetKind
from custom_components.dingtalk.webhook_sender import (
    MARKDOWN_SEPARATOR,
    RESENT_MARK,
    TEXT_SEPARATOR,
)
from dingtalk_emulator import AppFault, AppFaultKind, rules

from .app_helpers import chat_of, texts
from .conftest import ALICE, APP_CLIENT_ID, PERSON_SUBENTRY_ID, setup_entry
from .test_images import CAMERA_ID, JPEG, FakeCamera, set_up_entity

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import issue_registry as ir
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from custom_components.dingtalk.api import DingTalkAppClient
    from custom_components.dingtalk.outbox import Outbox, OutboxSettings
    from dingtalk_emulator import AppMessage, AppRequest, Emulator

ALICE_ENTITY: Final = "notify.alice"
HOLD: Final = 1.0
"""How long a message waits for company: the sends of a test take far less."""


async def start(
    hass: HomeAssistant, entry: MockConfigEntry, **options: object
) -> MockConfigEntry:
    """Set up the Home app with these options."""
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options=options)
    return await setup_entry(hass, entry)


@pytest.fixture
def near_limit(hass: HomeAssistant, fast_outbox: OutboxSettings) -> None:
    """Make every outbox combine at once: always near its limit, holding 1 s."""
    hass.data[DATA_SETTINGS] = replace(
        fast_outbox, rate_limit=10, combine_reserve=10, combine_delay=HOLD
    )


async def send(hass: HomeAssistant, **data: object) -> str:
    """Call dingtalk.send_message for Alice; return the status it answers."""
    response = await hass.services.async_call(
        DOMAIN,
        SERVICE_SEND_MESSAGE,
        {ATTR_ENTITY_ID: ALICE_ENTITY, **data},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    answer = response[ALICE_ENTITY]
    assert isinstance(answer, dict)
    return str(answer["status"])


async def notify(hass: HomeAssistant, message: str) -> None:
    """Call notify.send_message for Alice."""
    await hass.services.async_call(
        NOTIFY_DOMAIN,
        "send_message",
        {ATTR_ENTITY_ID: ALICE_ENTITY, "message": message},
        blocking=True,
    )


def alice_outbox(entry: MockConfigEntry) -> Outbox:
    """Return the outbox of Alice's 1:1 chat."""
    runtime = entry.runtime_data
    assert isinstance(runtime, DingTalkAppRuntime)
    return runtime.targets[PERSON_SUBENTRY_ID].outbox


async def wait_idle(hass: HomeAssistant, outbox: Outbox) -> None:
    """Wait (real time, bounded) until nothing is queued for Alice."""
    for _ in range(400):
        if outbox.stats()["queued"] == 0:
            await hass.async_block_till_done()
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"still queued: {outbox.stats()}")


def alice_chat(emulator: Emulator) -> list[AppMessage]:
    """Return what the Home app's robot wrote in Alice's chat."""
    return chat_of(emulator, ALICE.user_id)


def sends(emulator: Emulator) -> list[AppRequest]:
    """Return the app's 1:1 send requests, oldest first."""
    return [r for r in emulator.apps.requests if r.api == "batchSend"]


def params(messages: list[AppMessage]) -> list[tuple[str | None, dict[str, Any]]]:
    """Return each message's template and parameters."""
    return [(m.msg_key, m.msg_param) for m in messages]


# ------------------------------------------------------------------- combining


@pytest.mark.usefixtures("near_limit")
async def test_texts_sent_quickly_arrive_as_one(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """Texts queued near the limit reach the person as one message, in order."""
    await start(hass, app_entry, **{CONF_COMBINE: True})
    lines = [f"Door open #{n}" for n in range(3)]
    for line in lines:
        await notify(hass, line)
    outbox = alice_outbox(app_entry)
    await wait_idle(hass, outbox)
    assert params(alice_chat(app_emulator)) == [
        ("sampleText", {"content": TEXT_SEPARATOR.join(lines)})
    ]
    assert len(sends(app_emulator)) == 1
    stats = outbox.stats()
    assert (stats["sent"], stats["combined"], stats["combined_sends"]) == (3, 3, 1)


@pytest.mark.usefixtures("near_limit")
async def test_markdown_sent_quickly_arrives_as_one(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """Markdown is joined with a rule; the title is the first one's with (+n)."""
    await start(hass, app_entry, **{CONF_COMBINE: True})
    statuses = [
        await send(hass, msgtype="markdown", title=f"Door {n}", message=f"Open {n}")
        for n in range(3)
    ]
    assert statuses == ["queued"] * 3  # held for company: no caller waits it out
    await wait_idle(hass, alice_outbox(app_entry))
    text = MARKDOWN_SEPARATOR.join(f"### Door {n}\n\nOpen {n}" for n in range(3))
    assert params(alice_chat(app_emulator)) == [
        ("sampleMarkdown", {"title": "Door 0 (+2)", "text": text})
    ]


@pytest.mark.usefixtures("near_limit")
async def test_different_templates_are_not_combined(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """A markdown message between two texts: each of the three goes alone."""
    await start(hass, app_entry, **{CONF_COMBINE: True})
    await send(hass, msgtype="text", message="first")
    await send(hass, msgtype="markdown", title="Plan", message="second")
    await send(hass, msgtype="text", message="third")
    outbox = alice_outbox(app_entry)
    await wait_idle(hass, outbox)
    assert params(alice_chat(app_emulator)) == [
        ("sampleText", {"content": "first"}),
        ("sampleMarkdown", {"title": "Plan", "text": "### Plan\n\nsecond"}),
        ("sampleText", {"content": "third"}),
    ]
    assert outbox.stats()["combined_sends"] == 0


@pytest.mark.usefixtures("near_limit")
async def test_combination_over_the_limit_is_not_made(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """Two texts too long together go alone; the second still takes a short one."""
    await start(hass, app_entry, **{CONF_COMBINE: True})
    big = ["a" * 8_000, "b" * 8_000]  # each fits DingTalk's 15,000 bytes, not both
    for content in [*big, "short"]:
        await send(hass, msgtype="text", message=content)
    await wait_idle(hass, alice_outbox(app_entry))
    assert texts(alice_chat(app_emulator)) == [
        big[0],
        TEXT_SEPARATOR.join([big[1], "short"]),
    ]


@pytest.mark.usefixtures("near_limit")
async def test_combining_can_be_turned_off(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """With the option off, every message reaches the person alone."""
    await start(hass, app_entry, **{CONF_COMBINE: False})
    lines = [f"Door open #{n}" for n in range(3)]
    for line in lines:
        await notify(hass, line)
    outbox = alice_outbox(app_entry)
    await wait_idle(hass, outbox)
    assert texts(alice_chat(app_emulator)) == lines
    assert outbox.stats()["combined_sends"] == 0


def sender() -> AppSender:
    """Return a sender to Alice (combining and marking never use the client)."""
    return AppSender(cast("DingTalkAppClient", object()), TargetKind.PERSON, "alice01")


def text(content: str) -> dict[str, Any]:
    """Return a stored sampleText."""
    return {"msgKey": "sampleText", "msgParam": {"content": content}}


def markdown(title: str, body: str) -> dict[str, Any]:
    """Return a stored sampleMarkdown."""
    return {"msgKey": "sampleMarkdown", "msgParam": {"title": title, "text": body}}


@pytest.mark.parametrize(
    "payloads",
    [
        [],
        [text("alone")],
        [text("a"), markdown("t", "b")],
        [{"msgKey": "sampleImageMsg", "msgParam": {"photoURL": "@lA1"}}] * 2,
        [text("a"), {"msgKey": "sampleText", "msgParam": {"other": "b"}}],
        [{"msgKey": "sampleMarkdown", "msgParam": {"text": "untitled"}}] * 2,
        [text("a"), {"msgKey": "sampleText", "msgParam": {"content": 1}}],
    ],
    ids=[
        "none",
        "one",
        "mixed",
        "image",
        "no_content",
        "no_title",
        "not_text",
    ],
)
def test_combine_refuses(payloads: list[dict[str, Any]]) -> None:
    """Only two or more texts (or markdowns) with all their fields are combined."""
    assert sender().combine(payloads, "k") is None


def test_mark_resent_only_marks_text() -> None:
    """The mark goes before a text or markdown text; other templates are kept."""
    assert sender().mark_resent(markdown("t", "x"))["msgParam"] == {
        "title": "t",
        "text": f"{RESENT_MARK}x",
    }
    image = {"msgKey": "sampleImageMsg", "msgParam": {"photoURL": "@lA1"}}
    assert sender().mark_resent(image) == image


# ----------------------------------------------------------------- lost answers


def lose_next_answer(emulator: Emulator) -> None:
    """Make DingTalk deliver the next call, then drop the connection unanswered."""
    emulator.apps.inject_fault(
        APP_CLIENT_ID, AppFault(AppFaultKind.DROP, after_delivery=True)
    )


async def test_lost_answer_is_sent_again_marked(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """The app has no idempotency key: the second copy says it may be one."""
    await start(hass, app_entry, **{CONF_UNSURE: UnsureDelivery.RESEND})
    lose_next_answer(app_emulator)
    assert await send(hass, message="Door open") == "sent"
    assert texts(alice_chat(app_emulator)) == ["Door open", f"{RESENT_MARK}Door open"]
    first, second = sends(app_emulator)
    assert (first.fault, first.http_status) == (AppFaultKind.DROP, None)
    assert second.ok
    assert alice_outbox(app_entry).stats()["resent_unsure"] == 1


@pytest.mark.usefixtures("near_limit")
async def test_lost_answer_of_a_combined_message(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """A combined message sent again is the same one, marked once at its start."""
    await start(hass, app_entry)  # the defaults: combine, and resend marked
    lose_next_answer(app_emulator)
    for line in ("first", "second"):
        await send(hass, message=line)
    outbox = alice_outbox(app_entry)
    await wait_idle(hass, outbox)
    combined = TEXT_SEPARATOR.join(["first", "second"])
    assert texts(alice_chat(app_emulator)) == [combined, RESENT_MARK + combined]
    assert outbox.stats()["resent_unsure"] == 2


async def test_lost_answer_is_reported_when_asked(
    hass: HomeAssistant, app_emulator: Emulator, app_entry: MockConfigEntry
) -> None:
    """REPORT: not sent again; the action says the message may be lost."""
    await start(hass, app_entry, **{CONF_UNSURE: UnsureDelivery.REPORT})
    lose_next_answer(app_emulator)
    with pytest.raises(HomeAssistantError) as caught:
        await send(hass, message="Door open")
    assert caught.value.translation_key == "maybe_lost"
    assert caught.value.translation_placeholders == {"robot": ALICE.name}
    assert str(caught.value).startswith("DingTalk's answer for Alice was lost")
    assert texts(alice_chat(app_emulator)) == ["Door open"]
    assert len(sends(app_emulator)) == 1


# ---------------------------------------------------------------------- uploads


@pytest.fixture
async def camera(hass: HomeAssistant) -> None:
    """Set up camera.front_door (its snapshot: JPEG)."""
    await set_up_entity(hass, FakeCamera())


@pytest.mark.usefixtures("camera", "loaded_app")
async def test_refused_upload_names_the_person(
    hass: HomeAssistant, app_emulator: Emulator, issue_registry: ir.IssueRegistry
) -> None:
    """An app without the upload permission: a translated error and a repair issue.

    Found by this test: the error said a repair issue had been raised, and none was.
    """
    apps = app_emulator.apps
    apps.set_permissions(APP_CLIENT_ID, rules.DEFAULT_PERMISSIONS - {"qyapi_base"})
    with pytest.raises(HomeAssistantError) as caught:
        await send(hass, image=CAMERA_ID)
    assert caught.value.translation_key == "permission_denied"
    assert caught.value.translation_placeholders == {
        "robot": ALICE.name,
        "errcode": "60011",
        "errmsg": "没有调用该接口的权限",
    }
    assert str(caught.value).startswith("The DingTalk app of Alice lacks a permission")
    [upload] = [r for r in apps.requests if r.api == "media"]
    assert not upload.ok
    assert sends(app_emulator) == []
    key = issue_id(PERSON_SUBENTRY_ID, DingTalkIssue.PERMISSION_DENIED)
    issue = issue_registry.async_get_issue(DOMAIN, key)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["robot"] == ALICE.name
    # Granted again: the picture goes, and the issue clears itself.
    apps.set_permissions(APP_CLIENT_ID, rules.DEFAULT_PERMISSIONS)
    assert await send(hass, image=CAMERA_ID) == "sent"
    [picture] = alice_chat(app_emulator)
    assert apps.media(picture.msg_param["photoURL"]).data == JPEG
    assert issue_registry.async_get_issue(DOMAIN, key) is None


@pytest.mark.usefixtures("camera", "loaded_app")
async def test_upload_without_an_answer(
    hass: HomeAssistant, app_emulator: Emulator, issue_registry: ir.IssueRegistry
) -> None:
    """DingTalk not answering an upload: cannot connect, and nothing is sent."""
    app_emulator.apps.inject_fault(APP_CLIENT_ID, AppFault(AppFaultKind.DROP))
    with pytest.raises(HomeAssistantError) as caught:
        await send(hass, message="Motion", image=CAMERA_ID)
    assert caught.value.translation_key == "cannot_connect"
    assert caught.value.translation_placeholders == {"robot": ALICE.name}
    assert sends(app_emulator) == []
    assert not [i for i in issue_registry.issues.values() if i.domain == DOMAIN]


@pytest.mark.usefixtures("camera", "loaded_app")
async def test_upload_with_rejected_credentials_starts_reauth(
    hass: HomeAssistant, app_emulator: Emulator
) -> None:
    """A secret changed in the console, seen by an upload: reauthentication starts.

    Found by this test: the error said so, and no reauthentication was started.
    """
    apps = app_emulator.apps
    app = apps._apps[APP_CLIENT_ID]
    app.config = replace(app.config, client_secret="changed-in-the-console")
    apps.expire_tokens(APP_CLIENT_ID)
    with pytest.raises(HomeAssistantError) as caught:
        await send(hass, image=CAMERA_ID)
    assert caught.value.translation_key == "app_credentials_rejected"
    await hass.async_block_till_done()
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["source"] == SOURCE_REAUTH
    assert sends(app_emulator) == []


# ------------------------------------------------- messages an app cannot send


@pytest.mark.usefixtures("loaded_app")
@pytest.mark.parametrize(
    ("data", "key", "placeholders"),
    [
        (
            {
                "msgtype": "feed_card",
                "links": [
                    {
                        "title": "t",
                        "url": "https://a.example",
                        "picture": "https://p.example/a.png",
                    }
                ],
            },
            "app_feed_card",
            None,
        ),
        (
            {
                "msgtype": "action_card",
                "message": "Pick one",
                "buttons": [
                    {"title": f"#{n}", "url": f"https://b.example/{n}"}
                    for n in range(6)
                ],
            },
            "input_too_many_buttons",
            {"limit": "5"},
        ),
    ],
    ids=["feed_card", "six_buttons"],
)
async def test_message_an_app_cannot_send(
    hass: HomeAssistant,
    app_emulator: Emulator,
    data: dict[str, Any],
    key: str,
    placeholders: dict[str, str] | None,
) -> None:
    """A robot could send it, an app has no template: refused, nothing queued."""
    with pytest.raises(ServiceValidationError) as caught:
        await send(hass, **data)
    assert caught.value.translation_key == key
    assert caught.value.translation_placeholders == placeholders
    assert sends(app_emulator) == []


def test_client_error_about_a_field_names_it() -> None:
    """A client error about a field the form has no text for names the field."""
    err = invalid_message(InvalidMessageError(Problem.NOT_TEXT, field="title"))
    assert err.translation_key == "input_not_text"
    assert err.translation_placeholders == {"field": "title"}
