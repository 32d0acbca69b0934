"""Log in, add a robot, its options and Reconfigure, as a person does (en, zh-Hans)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from playwright.sync_api import expect
import pytest

from custom_components.dingtalk.flow_robot import TEST_MESSAGES
from devtools.browser import HassUI, new_page, saved_on_failure
from devtools.hass_process import PASSWORD, USERNAME

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Browser

    from .conftest import BrowserStack

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CHINESE = pytest.mark.parametrize("ui_language", ["zh-Hans"], indirect=True)
WRONG_SECRET = f"SEC{'0' * 64}"
ROBOT = "config.step.robot"


def add_robot_through_the_form(
    stack: BrowserStack, ui: HassUI, name: str, action: str
) -> None:
    """Fill the form with a wrong secret, see its error, correct it, finish."""
    robot = stack.new_robot(name)
    secret = ui.ours(f"{ROBOT}.data.secret")
    expect(ui.dialog_title(ui.ours(f"{ROBOT}.title"))).to_be_visible()
    ui.fill_robot_form(name, stack.emulator.webhook_url(robot.token), WRONG_SECRET)
    ui.submit()

    expect(ui.field_error(secret)).to_have_text(
        ui.ours("config.error.invalid_signature")
    )
    expect(ui.field_error(ui.ours(f"{ROBOT}.data.webhook"))).to_have_count(0)
    ui.textbox(secret).fill(str(robot.secret))
    ui.submit()
    # The success step names the robot's own action (a Chinese name: pinyin).
    expect(ui.page.locator("ha-dialog").get_by_text(action)).to_be_visible()
    ui.skip_and_finish()

    expect(ui.entry_row(name)).to_be_visible()
    assert name in [entry["title"] for entry in stack.hass.config_entries()]
    # In the language of the person adding the robot (issue 13 item 7).
    test_message = stack.emulator.wait_for_messages(robot.token, 1)[0]
    language = "zh" if ui.language.startswith("zh") else "en"
    expected = TEST_MESSAGES[language].format(name=name)
    assert test_message["payload"]["text"]["content"] == expected


def test_login_page_leads_to_the_dashboard(
    stack: BrowserStack, browser: Browser, tmp_path: Path
) -> None:
    """The real login page, then the dashboard: onboarding is finished."""
    page = new_page(browser)
    ui = HassUI(page, stack.hass.base_url)
    with saved_on_failure(page, tmp_path, "login"):
        ui.goto("/")
        expect(page.get_by_role("heading", name=ui.text("welcome"))).to_be_visible()
        ui.submit_login(USERNAME, PASSWORD)

        expect(ui.sidebar_link(ui.text("overview"))).to_be_visible()
        expect(ui.sidebar_link(re.compile("Demo"))).to_be_visible()  # the owner
        expect(page).to_have_url(re.compile(r"/(home|lovelace)\b"))


def test_add_robot_shows_a_wrong_secret_on_its_field(
    stack: BrowserStack, ui: HassUI
) -> None:
    """Add integration > DingTalk: the secret's error, then the new entry."""
    ui.open_add_integration()
    found = ui.search_brands("DingTalk")
    expect(found).to_have_count(1)
    expect(found).to_contain_text("DingTalk")
    found.click()
    ui.choose_group_robot()

    add_robot_through_the_form(stack, ui, "Office", "notify.dingtalk_office")


@CHINESE
def test_add_robot_in_chinese(stack: BrowserStack, ui: HassUI) -> None:
    """The same in 简体中文, found by 钉钉: the form, its error and the new entry."""
    ui.open_add_integration()
    found = ui.search_brands("钉钉")
    expect(found).to_have_count(1)
    expect(found).to_contain_text("钉钉")
    found.click()
    expect(ui.dialog_title("添加钉钉")).to_be_visible()
    ui.choose_group_robot()

    add_robot_through_the_form(stack, ui, "办公室", "notify.dingtalk_ban_gong_shi")


@pytest.mark.parametrize("ui_language", ["en", "zh-Hans"], indirect=True)
@pytest.mark.parametrize("query", ["DingTalk", "钉钉", "dingtalk"])
def test_search_finds_dingtalk_by_either_name(ui: HassUI, query: str) -> None:
    """Issue 13 item 1: DingTalk and 钉钉 both find the one integration."""
    ui.open_add_integration()
    found = ui.search_brands(query)
    expect(found).to_have_count(1)
    expect(found).to_contain_text("DingTalk (钉钉)")  # the manifest's name


def test_options_and_reconfigure(stack: BrowserStack, ui: HassUI) -> None:
    """Configure sets the default format; Reconfigure adds a keyword."""
    robot = stack.add_robot("Studio")
    page = ui.page
    ui.open_options("Studio")
    title = ui.ours("options.step.init.title").format(name="Studio")
    expect(ui.dialog_title(title)).to_be_visible()  # "Options of Studio"
    ui.choose(
        ui.ours("options.step.init.data.default_format"),
        ui.ours("selector.default_format.options.markdown"),
    )
    ui.submit()
    expect(page.get_by_text(ui.text("options_saved"))).to_be_visible()

    ui.open_reconfigure("Studio")
    title = ui.ours("config.step.reconfigure.title").format(name="Studio")
    expect(ui.dialog_title(title)).to_be_visible()
    ui.add_list_item(ui.ours("config.step.reconfigure.data.keywords"), "报警")
    ui.submit()
    success = ui.ours("config.abort.reconfigure_successful")
    expect(page.get_by_text(success)).to_be_visible()

    # Both took effect: no title and markdown by default; the keyword is added.
    before = len(stack.emulator.messages(robot.token))
    stack.hass.call_service(
        "notify", "send_message", {"entity_id": robot.entity_id, "message": "Ping"}
    )
    sent = stack.emulator.wait_for_messages(robot.token, before + 1)[-1]
    assert sent["msgtype"] == "markdown"
    assert "报警" in sent["payload"]["markdown"]["text"]


@CHINESE
def test_reconfigure_says_it_succeeded_in_chinese(
    stack: BrowserStack, ui: HassUI
) -> None:
    """Issue 13 items 2 and 11: 重新配置“书房”, then 重新配置成功, in 简体中文."""
    stack.add_robot("书房")
    ui.open_reconfigure("书房")
    expect(ui.dialog_title("重新配置“书房”")).to_be_visible()
    ui.submit()
    expect(ui.page.get_by_text("重新配置成功", exact=True)).to_be_visible()
    expect(ui.page.get_by_text("Reconfiguration was successful")).to_have_count(0)


@pytest.mark.parametrize("ui_language", ["en", "zh-Hans"], indirect=True)
def test_reconfigure_with_another_robots_webhook(
    stack: BrowserStack, ui: HassUI
) -> None:
    """Issue 13 item 3: the webhook field says whose it is; the form stays open."""
    name, other = f"Attic {ui.language}", f"Cellar {ui.language}"
    stack.add_robot(name)
    taken = stack.add_robot(other)
    ui.open_reconfigure(name)
    title = ui.ours("config.step.reconfigure.title").format(name=name)
    expect(ui.dialog_title(title)).to_be_visible()
    webhook = ui.ours("config.step.reconfigure.data.webhook")
    ui.textbox(webhook).fill(stack.emulator.webhook_url(taken.token))
    ui.submit()

    error = ui.ours("config.error.webhook_other_robot").format(other=other)
    expect(ui.field_error(webhook)).to_have_text(error)
    expect(ui.dialog_title(title)).to_be_visible()  # not aborted
    already = ui.ours("config.abort.already_configured").format(other=other)
    expect(ui.page.get_by_text(already)).to_have_count(0)


@pytest.mark.parametrize("ui_language", ["en", "zh-Hans"], indirect=True)
def test_notify_entity_is_named_like_its_robot(stack: BrowserStack, ui: HassUI) -> None:
    """Issue 13 item 4: the device page lists the notify entity by the robot's name."""
    name = "Garden" if ui.language == "en" else "花园"
    stack.add_robot(name)
    ui.open_device(name)
    notifiers = ui.device_card(ui.text("notifiers"))
    expect(notifiers).to_be_visible()
    expect(notifiers.get_by_text(name, exact=True)).to_be_visible()
    expect(notifiers.get_by_text("Message", exact=True)).to_have_count(0)
    expect(notifiers.get_by_text("消息", exact=True)).to_have_count(0)
