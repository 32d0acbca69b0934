"""An independent, widely used client (DingtalkChatbot) against the emulator.

DingtalkChatbot is a synchronous `requests` client: it runs in a worker thread and
talks to the emulator on 127.0.0.1. It signs with the real time.time(), so the
emulator's manual clock starts at the real time here.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from dingtalkchatbot.chatbot import (  # type: ignore[import-untyped]
    ActionCard,
    CardItem,
    DingtalkChatbot,
)
import pytest

from dingtalk_emulator import Emulator, ManualClock, RobotConfig
from dingtalk_emulator.testing import TEST_SECRET, TEST_TOKEN

from .helpers import no_proxies

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from dingtalk_emulator import EmulatorServer


@pytest.fixture
def real_time_emulator() -> Emulator:
    """Return an emulator whose manual clock starts now, with a signed keyword robot."""
    emulator = Emulator(ManualClock(time.time()))
    emulator.add_robot(
        RobotConfig(access_token=TEST_TOKEN, secret=TEST_SECRET, keywords=("alarm",))
    )
    return emulator


@pytest.fixture
async def server(
    real_time_emulator: Emulator,
    socket_enabled: None,  # noqa: ARG001 - enables sockets (127.0.0.1 only)
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[EmulatorServer]:
    """Serve the emulator; make sure `requests` does not use a proxy."""
    no_proxies(monkeypatch)
    async with real_time_emulator.serve() as running:
        yield running


async def _call(
    function: Callable[..., dict[str, object]], *args: object, **kwargs: object
) -> dict[str, object]:
    """Run a blocking DingtalkChatbot call in a worker thread."""
    return await asyncio.to_thread(function, *args, **kwargs)


async def test_chatbot_messages_are_accepted(
    real_time_emulator: Emulator, server: EmulatorServer
) -> None:
    """Every message type DingtalkChatbot sends is delivered, its signature verified."""
    bot = DingtalkChatbot(server.webhook_url(TEST_TOKEN), secret=TEST_SECRET)
    ok = {"errcode": 0, "errmsg": "ok"}
    assert (
        await _call(bot.send_text, msg="alarm: disk full", at_mobiles=["13800000000"])
        == ok
    )
    assert (
        await _call(
            bot.send_markdown,
            title="alarm",
            text="### Disk\n- **sda** full",
            at_dingtalk_ids=["ops"],
        )
        == ok
    )
    assert (
        await _call(
            bot.send_link,
            title="alarm",
            text="details",
            message_url="https://example.com/a",
        )
        == ok
    )
    card = ActionCard(
        title="alarm",
        text="### Disk full",
        btns=[
            CardItem("Ack", "https://example.com/ack"),
            CardItem("Mute", "https://example.com/m"),
        ],
        btn_orientation=1,
    )
    assert await _call(bot.send_action_card, card) == ok
    feed = [CardItem("alarm one", "https://example.com/1", "https://example.com/1.png")]
    assert await _call(bot.send_feed_card, feed) == ok

    records = real_time_emulator.requests
    assert all(record.signature_verified for record in records)
    assert records[0].headers["Content-Type"] == "application/json; charset=utf-8"
    messages = real_time_emulator.delivered(TEST_TOKEN)
    assert [m.msgtype for m in messages] == [
        "text",
        "markdown",
        "link",
        "actionCard",
        "feedCard",
    ]
    assert messages[0].payload["text"]["content"] == "alarm: disk full\n@13800000000"
    assert messages[0].rang == ("13800000000",)
    assert messages[1].silent == (
        "ops",
    )  # is_auto_at only writes mobiles into the text
    assert (
        messages[2]
        .payload["link"]["messageUrl"]
        .startswith("dingtalk://dingtalkclient/")
    )


async def test_chatbot_with_a_tampered_secret_is_rejected(
    real_time_emulator: Emulator, server: EmulatorServer
) -> None:
    """A signature made with the wrong secret: 310000 sign mismatch."""
    bot = DingtalkChatbot(server.webhook_url(TEST_TOKEN), secret="SEC" + "0" * 64)
    result = await _call(bot.send_text, msg="alarm")
    assert result["errcode"] == 310000
    assert "机器人发送签名不匹配" in str(result["errmsg"])
    assert real_time_emulator.requests[-1].signature_verified is False
    assert real_time_emulator.delivered() == []


async def test_chatbot_with_an_expired_timestamp_is_rejected(
    real_time_emulator: Emulator, server: EmulatorServer
) -> None:
    """The bot's signature is over an hour old by the emulator's clock: expired."""
    bot = DingtalkChatbot(server.webhook_url(TEST_TOKEN), secret=TEST_SECRET)
    clock = real_time_emulator.clock
    assert isinstance(clock, ManualClock)
    clock.advance(3601)
    result = await _call(bot.send_text, msg="alarm")
    assert result["errcode"] == 310000
    assert "机器人发送签名过期" in str(result["errmsg"])
    assert real_time_emulator.delivered() == []


async def test_chatbot_without_the_keyword_is_rejected(
    real_time_emulator: Emulator, server: EmulatorServer
) -> None:
    """A message without the robot's keyword: 310000 keywords not in content."""
    bot = DingtalkChatbot(server.webhook_url(TEST_TOKEN), secret=TEST_SECRET)
    result = await _call(bot.send_text, msg="all good")
    assert result["errcode"] == 310000
    assert "关键词不匹配" in str(result["errmsg"])
    assert real_time_emulator.requests[-1].signature_verified is True
    assert real_time_emulator.delivered() == []
