"""A local stand-in for DingTalk (tests, demos, benches).

The custom group robot webhook, enterprise app robots (token, batchSend,
groupMessages/send, media upload, getbymobile, sessionWebhook) and Stream mode.
Independent of the client it checks: stdlib and aiohttp only, no Home Assistant.
See docs/architecture.md §2.
"""

from __future__ import annotations

from .app_models import (
    AppConfig,
    AppFault,
    AppFaultKind,
    AppMessage,
    AppRequest,
    AppSettings,
    ChatMessage,
    ConversationType,
    Group,
    Person,
    StreamFault,
    StreamFaultKind,
    Via,
)
from .apps import AppRobots, Media
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
from .page import render_page
from .render import render_markdown, render_message, render_text
from .server import EmulatorServer, create_app, serve
from .stream import StreamHub
from .stream_models import ConnectionInfo, PushState, StreamPush, StreamStats

__all__ = [
    "MENTION_IGNORED",
    "AppConfig",
    "AppFault",
    "AppFaultKind",
    "AppMessage",
    "AppRequest",
    "AppRobots",
    "AppSettings",
    "ChatMessage",
    "Clock",
    "ConnectionInfo",
    "ConversationType",
    "DeliveredMessage",
    "Emulator",
    "EmulatorServer",
    "Event",
    "EventKind",
    "Fault",
    "FaultKind",
    "Group",
    "ManualClock",
    "Media",
    "Mentions",
    "Notice",
    "Person",
    "PushState",
    "RecordedRequest",
    "RobotConfig",
    "RobotState",
    "SendResult",
    "StreamFault",
    "StreamFaultKind",
    "StreamHub",
    "StreamPush",
    "StreamStats",
    "SystemClock",
    "Via",
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
