"""dingtalk.send_message from Developer tools > Actions (UI mode), seen in the chat."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playwright.sync_api import expect
import pytest

from devtools.browser import chat_section

if TYPE_CHECKING:
    from devtools.browser import HassUI

    from .conftest import BrowserStack

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

FIELDS = "services.send_message.fields"
TITLE = "Garage"
TEXT = "The garage door has been open for 10 minutes."
BUTTONS = (
    ("Open Home Assistant", "https://ha.example.com/"),
    ("Camera", "https://ha.example.com/lovelace/cameras"),
)


def test_action_card_with_buttons_reaches_the_chat(
    stack: BrowserStack, ui: HassUI
) -> None:
    """Fill the action's form field by field; the card shows on the chat page."""
    robot = stack.add_robot(TITLE)
    ui.compose_action_card(TITLE, TITLE, TEXT, BUTTONS, horizontal=True)
    ui.perform_action()

    expect(ui.page.get_by_text("status: sent")).to_be_visible()  # the response
    sent = stack.emulator.wait_for_messages(robot.token, 1)[-1]
    assert sent["msgtype"] == "actionCard"
    assert sent["payload"]["actionCard"]["btnOrientation"] == "1"

    chat_page = ui.page.context.new_page()
    chat_page.goto(stack.emulator.page_url)
    card = chat_section(chat_page, TITLE).locator(".msg[data-type='actionCard']")
    expect(card.get_by_role("heading", name=TITLE, level=3)).to_be_visible()
    expect(card.get_by_text(TEXT)).to_be_visible()
    for title, url in BUTTONS:
        expect(card.get_by_role("link", name=title, exact=True)).to_have_attribute(
            "href", url
        )


@pytest.mark.parametrize(
    ("ui_language", "expected"),
    [
        ("en", "An action card with a Button text also needs a Button URL."),
        ("zh-Hans", "填写了“按钮文字”的 ActionCard 卡片还需要填写“按钮链接”。"),
    ],
    indirect=["ui_language"],
)
def test_action_error_names_the_fields_as_the_form_does(
    stack: BrowserStack, ui: HassUI, expected: str
) -> None:
    """Issue 13 item 5: a button text without its URL, said in the form's words."""
    robot = f"Porch {ui.language}"
    stack.add_robot(robot)
    ui.compose_action_card(robot, "Porch", "Someone is at the door.")
    ui.fill_action_field(ui.ours(f"{FIELDS}.button_title.name"), "Open")
    ui.perform_action()

    error = ui.action_error()
    expect(error).to_have_text(expected)
    text = error.inner_text()
    assert ui.ours(f"{FIELDS}.button_url.name") in text  # "Button URL", "按钮链接"
    assert ui.ours(f"{FIELDS}.button_title.name") in text
    type_name = ui.ours("selector.msgtype.options.action_card")
    assert type_name.casefold() in text.casefold()  # "action card", "ActionCard 卡片"
    for raw in ("button_url", "button_title", "action_card", "actionCard"):
        assert raw not in text
