"""A local stand-in for DingTalk's custom group robot webhook (tests, demos, benches).

Independent of the client it checks: stdlib and aiohttp only, no Home Assistant.
See docs/architecture.md §2.
"""

from __future__ import annotations

from .clock import Clock, ManualClock, SystemClock
from .codes import Wording
from .emulator import Emulator
from .models import (
    MENTION_IGNORED,
    DeliveredMessage,
    Event,
    EventKind,
    Fault,
    FaultKind,
    Mentions,
    Notice,
    RecordedRequest,
    RobotConfig,
    RobotState,
    SendResult,
    fingerprint,
    robot_id,
)
from .render import render_markdown, render_message, render_page, render_text
from .server import EmulatorServer, create_app, serve

__all__ = [
    "MENTION_IGNORED",
    "Clock",
    "DeliveredMessage",
    "Emulator",
    "EmulatorServer",
    "Event",
    "EventKind",
    "Fault",
    "FaultKind",
    "ManualClock",
    "Mentions",
    "Notice",
    "RecordedRequest",
    "RobotConfig",
    "RobotState",
    "SendResult",
    "SystemClock",
    "Wording",
    "create_app",
    "fingerprint",
    "render_markdown",
    "render_message",
    "render_page",
    "render_text",
    "robot_id",
    "serve",
]
