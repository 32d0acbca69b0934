"""Drive DingTalkClient against the running DingTalk emulator over real HTTP."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

import aiohttp
import pytest

from custom_components.dingtalk.api import (
    MAX_BODY_BYTES,
    ActionButton,
    ActionCard,
    BusyError,
    ButtonOrientation,
    DingTalkBadResponseError,
    DingTalkClient,
    DingTalkConnectionError,
    DingTalkError,
    DingTalkHTTPError,
    DingTalkTimeoutError,
    FeedCard,
    FeedLink,
    InvalidTokenError,
    IPNotAllowedError,
    KeywordError,
    Link,
    Markdown,
    Mentions,
    Message,
    MessageTooLongError,
    RateLimitedError,
    RobotUnavailableError,
    SignatureError,
    Text,
    TimestampError,
    Webhook,
    payload_size,
    prepare,
)
from dingtalk_emulator import Fault, FaultKind, RobotState, Wording, rules
from dingtalk_emulator.testing import EMULATOR_START, TEST_SECRET

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from dingtalk_emulator import Emulator, EmulatorServer, ManualClock, RobotConfig

KEYWORD = "alarm"
MOBILE = "13800000000"
USER_ID = "user0001"
URL = "https://example.com/dashboard"
PIC = "https://example.com/p.png"
UNKNOWN_TOKEN = "f" * 64

type Connect = Callable[..., DingTalkClient]

BODY_ONLY_KEYWORD_FIELDS = MappingProxyType(
    {
        "text": ("content",),
        "markdown": ("text",),
        "link": ("text",),
        "actionCard": ("text",),
        "feedCard": ("links[].title",),
    }
)
"""The strictest plausible keyword check: DingTalk scans the body only (§5)."""


@pytest.fixture(autouse=True)
def real_sockets(
    socket_enabled: None,
) -> None:
    """Let the emulator listen and the client connect on 127.0.0.1."""


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """Return an aiohttp session closed after the test (an injected session)."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def connect(
    emulator_server: EmulatorServer,
    session: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> Connect:
    """Return a factory of clients for an emulator robot, on the emulator's clock."""

    def factory(
        token: str,
        secret: str | None = TEST_SECRET,
        *,
        request_timeout: float = 5.0,
        clock: Callable[[], float] | None = None,
    ) -> DingTalkClient:
        """Build a client for the robot with ``token``."""
        return DingTalkClient(
            Webhook.parse(emulator_server.webhook_url(token)),
            secret,
            session=session,
            request_timeout=request_timeout,
            clock=clock or manual_clock.now,
        )

    return factory


@pytest.fixture
def ops_robot(make_robot: Callable[..., RobotConfig]) -> RobotConfig:
    """Add a signed robot with the keyword "alarm"."""
    return make_robot(keywords=(KEYWORD,), name="Ops")


def _messages() -> list[Message]:
    """Return one message of every type, mentions on the two types that allow it."""
    mentions = Mentions(mobiles=(MOBILE,), user_ids=(USER_ID,))
    return [
        Text(content="disk full on nas", mentions=mentions),
        Markdown(title="Disk", text="### Disk\n\n**97 %** used", mentions=mentions),
        Link(title="Disk", text="97 % used", message_url=URL, pic_url=PIC),
        ActionCard(
            title="Disk",
            text="### Disk full",
            buttons=(
                ActionButton(title="Open", action_url=URL),
                ActionButton(title="Ignore", action_url=URL),
            ),
            orientation=ButtonOrientation.HORIZONTAL,
        ),
        FeedCard(
            links=(
                FeedLink(title="Disk", message_url=URL, pic_url=PIC),
                FeedLink(title="CPU", message_url=URL, pic_url=PIC),
            )
        ),
    ]


@pytest.mark.parametrize(
    "message", _messages(), ids=["text", "markdown", "link", "actionCard", "feedCard"]
)
async def test_every_type_is_delivered(
    connect: Connect, emulator: Emulator, ops_robot: RobotConfig, message: Message
) -> None:
    """Deliver each prepared type with a verified signature and the keyword."""
    client = connect(ops_robot.access_token)
    (prepared,) = prepare(message, keywords=ops_robot.keywords)
    await client.send(prepared)
    (request,) = emulator.requests
    assert request.ok
    assert request.signature_verified is True
    assert request.msg_uuid == message.msg_uuid
    (delivered,) = emulator.delivered(ops_robot.access_token)
    assert delivered.payload == prepared.to_payload()
    assert delivered.msg_uuid == message.msg_uuid
    assert not delivered.mentions.notices


@pytest.mark.parametrize("index", [0, 1], ids=["text", "markdown"])
async def test_mentions_ring(
    connect: Connect, emulator: Emulator, ops_robot: RobotConfig, index: int
) -> None:
    """Ring every mention: listed in "at" and written as @X in the body."""
    message = _messages()[index]
    for part in prepare(message, keywords=ops_robot.keywords):
        await connect(ops_robot.access_token).send(part)
    (delivered,) = emulator.delivered(ops_robot.access_token)
    assert set(delivered.rang) == {MOBILE, USER_ID}
    assert delivered.silent == ()
    assert delivered.payload["at"] == {
        "atMobiles": [MOBILE],
        "atUserIds": [USER_ID],
        "isAtAll": False,
    }


async def test_mentions_without_prepare_are_silent(
    connect: Connect, emulator: Emulator, ops_robot: RobotConfig
) -> None:
    """Show why prepare() matters: @ missing from the body does not ring."""
    message = Text(content=f"{KEYWORD}: disk", mentions=Mentions(mobiles=(MOBILE,)))
    await connect(ops_robot.access_token).send(message)
    (delivered,) = emulator.delivered(ops_robot.access_token)
    assert delivered.rang == ()
    assert delivered.silent == (MOBILE,)


async def test_split_parts_all_delivered(
    connect: Connect, emulator: Emulator, ops_robot: RobotConfig
) -> None:
    """Deliver every part of a long Chinese text; the mention rings in part 1 only."""
    lines = [f"第{i}行：磁盘空间不足，请尽快处理。" * 4 for i in range(400)]
    message = Text(content="\n".join(lines), mentions=Mentions(mobiles=(MOBILE,)))
    assert payload_size(message) > MAX_BODY_BYTES
    parts = prepare(message, keywords=ops_robot.keywords)
    assert len(parts) >= 3
    client = connect(ops_robot.access_token)
    for part in parts:
        await client.send(part)
    assert all(request.ok for request in emulator.requests)
    delivered = emulator.delivered(ops_robot.access_token)
    assert [d.msg_uuid for d in delivered] == [
        f"{message.msg_uuid}-{i}" for i in range(1, len(parts) + 1)
    ]
    assert [d.rang for d in delivered] == [(MOBILE,)] + [()] * (len(parts) - 1)
    assert all(d.silent == () for d in delivered)
    assert all(
        d.payload["text"]["content"].startswith(f"({i}/{len(parts)})\n")
        for i, d in enumerate(delivered, start=1)
    )


@pytest.fixture(params=["emulator", "body-only"])
def keyword_model(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Check keywords as the emulator models it, or in the body alone."""
    model: str = request.param
    if model == "body-only":
        monkeypatch.setattr(rules, "KEYWORD_FIELDS", BODY_ONLY_KEYWORD_FIELDS)
    return model


def _card(keyword_in: str) -> ActionCard:
    """Return an actionCard with the keyword only in the ``keyword_in`` field."""
    title = f"{KEYWORD}: disk" if keyword_in == "title" else "Disk"
    if keyword_in in {"buttons", "button"}:
        return ActionCard(
            title=title,
            text="### Disk full",
            buttons=(
                ActionButton(title="Open", action_url=URL),
                ActionButton(
                    title=KEYWORD if keyword_in == "button" else "Ignore",
                    action_url=URL,
                ),
            ),
        )
    return ActionCard(
        title=title,
        text="### Disk full",
        single_title=KEYWORD if keyword_in == "single_title" else "Open",
        single_url=URL,
    )


_KEYWORD_CASES: dict[str, Message] = {
    "text": Text(content="disk full"),
    "text-keyword": Text(content=f"{KEYWORD}: disk full"),
    "markdown": Markdown(title="Disk", text="**97 %** used"),
    "markdown-keyword-in-title": Markdown(title=f"{KEYWORD}: disk", text="97 %"),
    "link": Link(title="Disk", text="97 % used", message_url=URL),
    "link-keyword-in-title": Link(title=KEYWORD, text="97 %", message_url=URL),
    "link-keyword-in-url": Link(
        title="Disk", text="97 %", message_url=f"{URL}/{KEYWORD}", pic_url=PIC
    ),
    "action-card-single": _card("none"),
    "action-card-keyword-in-title": _card("title"),
    "action-card-keyword-in-single-title": _card("single_title"),
    "action-card-buttons": _card("buttons"),
    "action-card-keyword-in-button": _card("button"),
    "feed-card": FeedCard(
        links=(
            FeedLink(title="Disk", message_url=URL, pic_url=PIC),
            FeedLink(title="CPU", message_url=URL, pic_url=PIC),
        )
    ),
    "feed-card-keyword-in-second-title": FeedCard(
        links=(
            FeedLink(title="Disk", message_url=URL, pic_url=PIC),
            FeedLink(title=f"CPU {KEYWORD}", message_url=URL, pic_url=PIC),
        )
    ),
}


@pytest.mark.usefixtures("keyword_model")
@pytest.mark.parametrize(
    "message", list(_KEYWORD_CASES.values()), ids=list(_KEYWORD_CASES)
)
async def test_prepared_keyword_is_accepted(
    connect: Connect, emulator: Emulator, ops_robot: RobotConfig, message: Message
) -> None:
    """Pass the keyword check with prepare(), wherever else the keyword may be."""
    client = connect(ops_robot.access_token)
    (prepared,) = prepare(message, keywords=ops_robot.keywords)
    await client.send(prepared)
    (request,) = emulator.requests
    assert request.ok, request.errmsg
    (delivered,) = emulator.delivered(ops_robot.access_token)
    assert delivered.payload == prepared.to_payload()


@pytest.mark.usefixtures("keyword_model")
async def test_split_markdown_numbered_keyword_and_one_ring(
    connect: Connect, emulator: Emulator, ops_robot: RobotConfig
) -> None:
    """Deliver a long markdown: visible (i/n), keyword in every text, one ring."""
    lines = [f"- item {i} " + "x" * 80 for i in range(600)]
    message = Markdown(
        title=f"{KEYWORD} report",
        text="\n".join(lines),
        mentions=Mentions(mobiles=(MOBILE,), user_ids=(USER_ID,), at_all=True),
    )
    parts = prepare(message, keywords=ops_robot.keywords)
    n = len(parts)
    assert n >= 3
    client = connect(ops_robot.access_token)
    for part in parts:
        await client.send(part)
    assert all(request.ok for request in emulator.requests)
    delivered = emulator.delivered(ops_robot.access_token)
    assert len(delivered) == n
    first, *rest = delivered
    assert set(first.rang) == {MOBILE, USER_ID}
    assert first.at_all
    assert all(d.rang == () and d.silent == () and not d.at_all for d in rest)
    for index, d in enumerate(delivered, start=1):
        text = d.payload["markdown"]["text"]
        assert text.startswith(f"**({index}/{n})**\n\n")
        assert KEYWORD in text
        assert d.payload["markdown"]["title"] == f"{KEYWORD} report ({index}/{n})"


async def test_retry_with_same_uuid_is_not_delivered_twice(
    connect: Connect, emulator: Emulator, ops_robot: RobotConfig
) -> None:
    """Send a retried message (same msgUuid) once: DingTalk de-duplicates it."""
    (message,) = prepare(Text(content="x"), keywords=ops_robot.keywords)
    client = connect(ops_robot.access_token)
    await client.send(message)
    await client.send(message)
    assert len(emulator.requests) == 2
    assert len(emulator.delivered(ops_robot.access_token)) == 1


async def test_unsigned_robot(
    connect: Connect, emulator: Emulator, make_robot: Callable[..., RobotConfig]
) -> None:
    """Send to a robot without the sign setting, without timestamp or sign."""
    unsigned = make_robot(secret=None)
    await connect(unsigned.access_token, None).send(Text(content="x"))
    (request,) = emulator.requests
    assert request.ok
    assert request.signature_verified is None
    assert set(request.query) == {"access_token"}


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault(FaultKind.BUSY), BusyError),
        (Fault(FaultKind.HTTP_5XX, status=503), DingTalkHTTPError),
        (Fault(FaultKind.HTTP_5XX, status=500), DingTalkHTTPError),
        (Fault(FaultKind.DROP), DingTalkConnectionError),
        (Fault(FaultKind.NON_JSON), DingTalkBadResponseError),
        (Fault(FaultKind.RATE), RateLimitedError),
        (Fault(FaultKind.RATE, errcode=130101), RateLimitedError),
    ],
    ids=["busy", "503", "500", "drop", "non-json", "rate", "rate-130101"],
)
async def test_faults(
    connect: Connect,
    emulator: Emulator,
    ops_robot: RobotConfig,
    fault: Fault,
    error: type[DingTalkError],
) -> None:
    """Raise the matching (retryable) exception for every fault; the retry works."""
    emulator.inject_fault(ops_robot.access_token, fault)
    (message,) = prepare(Text(content="x"), keywords=ops_robot.keywords)
    client = connect(ops_robot.access_token)
    with pytest.raises(error) as excinfo:
        await client.send(message)
    assert excinfo.value.retryable
    if isinstance(excinfo.value, DingTalkHTTPError):
        assert excinfo.value.status == fault.status
    await client.send(message)  # the retry, same msgUuid
    assert [d.msg_uuid for d in emulator.delivered()] == [message.msg_uuid]


async def test_delay_beyond_timeout(
    connect: Connect, emulator: Emulator, ops_robot: RobotConfig
) -> None:
    """Raise DingTalkTimeoutError when the emulator answers after the timeout."""
    emulator.inject_fault(ops_robot.access_token, Fault(FaultKind.DELAY, delay=2.0))
    client = connect(ops_robot.access_token, request_timeout=0.2)
    with pytest.raises(DingTalkTimeoutError):
        await client.send(Text(content=KEYWORD))


async def test_delay_within_timeout(
    connect: Connect, emulator: Emulator, ops_robot: RobotConfig
) -> None:
    """Wait for a slow answer that arrives within the timeout."""
    emulator.inject_fault(ops_robot.access_token, Fault(FaultKind.DELAY, delay=0.05))
    await connect(ops_robot.access_token, request_timeout=5.0).send(
        Text(content=KEYWORD)
    )
    assert len(emulator.delivered()) == 1


async def test_real_rate_limit(
    connect: Connect, emulator: Emulator, ops_robot: RobotConfig
) -> None:
    """Throttle the 21st message within a minute."""
    client = connect(ops_robot.access_token)
    for index in range(20):
        await client.send(Text(content=f"{KEYWORD} {index}"))
    with pytest.raises(RateLimitedError) as excinfo:
        await client.send(Text(content=f"{KEYWORD} 21"))
    assert excinfo.value.retryable
    assert len(emulator.delivered()) == 20


async def test_bad_token(connect: Connect, ops_robot: RobotConfig) -> None:
    """Raise InvalidTokenError for a token the emulator does not know."""
    assert ops_robot.access_token != UNKNOWN_TOKEN
    with pytest.raises(InvalidTokenError) as excinfo:
        await connect(UNKNOWN_TOKEN).send(Text(content=KEYWORD))
    assert not excinfo.value.retryable
    assert UNKNOWN_TOKEN not in str(excinfo.value)


@pytest.fixture(params=[Wording.CHINESE, Wording.ENGLISH], ids=["zh", "en"])
def wording(request: pytest.FixtureRequest, emulator: Emulator) -> Wording:
    """Answer in either of DingTalk's errmsg styles."""
    value: Wording = request.param
    emulator.wording = value
    return value


@pytest.mark.usefixtures("wording")
async def test_wrong_secret(
    connect: Connect, emulator: Emulator, ops_robot: RobotConfig
) -> None:
    """Raise SignatureError when the secret is wrong."""
    with pytest.raises(SignatureError) as excinfo:
        await connect(ops_robot.access_token, "SEC" + "0" * 64).send(
            Text(content=KEYWORD)
        )
    assert excinfo.value.errcode == 310000
    assert not excinfo.value.retryable
    assert emulator.requests[0].signature_verified is False


@pytest.mark.usefixtures("wording")
async def test_missing_secret(connect: Connect, ops_robot: RobotConfig) -> None:
    """Raise SignatureError when a signed robot gets no sign."""
    with pytest.raises(SignatureError):
        await connect(ops_robot.access_token, None).send(Text(content=KEYWORD))


@pytest.mark.usefixtures("wording")
async def test_expired_timestamp(
    connect: Connect, manual_clock: ManualClock, ops_robot: RobotConfig
) -> None:
    """Raise TimestampError when the client's clock is over an hour behind."""
    manual_clock.advance(3601)
    client = connect(ops_robot.access_token, clock=lambda: EMULATOR_START)
    with pytest.raises(TimestampError) as excinfo:
        await client.send(Text(content=KEYWORD))
    assert excinfo.value.retryable
    # Re-signing with a correct clock succeeds: the retry the error asks for.
    await connect(ops_robot.access_token).send(Text(content=KEYWORD))


@pytest.mark.usefixtures("wording")
async def test_keyword_missing_without_prepare(
    connect: Connect, ops_robot: RobotConfig
) -> None:
    """Raise KeywordError when the message has no keyword and prepare() was skipped."""
    client = connect(ops_robot.access_token)
    with pytest.raises(KeywordError) as excinfo:
        await client.send(Text(content="disk full"))
    assert not excinfo.value.retryable
    for part in prepare(Text(content="disk full"), keywords=ops_robot.keywords):
        await client.send(part)


@pytest.mark.usefixtures("wording")
async def test_ip_not_allowed(
    connect: Connect, make_robot: Callable[..., RobotConfig]
) -> None:
    """Raise IPNotAllowedError when 127.0.0.1 is outside the allowlist."""
    guarded = make_robot(ip_allowlist=("10.0.0.0/8",))
    with pytest.raises(IPNotAllowedError):
        await connect(guarded.access_token).send(Text(content="x"))


@pytest.mark.usefixtures("wording")
async def test_body_too_long_without_prepare(
    connect: Connect, ops_robot: RobotConfig
) -> None:
    """Raise MessageTooLongError for a body over 20 000 bytes sent unprepared."""
    with pytest.raises(MessageTooLongError):
        await connect(ops_robot.access_token).send(Text(content=KEYWORD * 5000))


@pytest.mark.parametrize(
    "state", [RobotState.DISABLED, RobotState.REMOVED, RobotState.DISSOLVED]
)
async def test_robot_unavailable(
    connect: Connect,
    emulator: Emulator,
    ops_robot: RobotConfig,
    state: RobotState,
) -> None:
    """Raise RobotUnavailableError for a disabled, removed or dissolved robot."""
    emulator.set_robot_state(ops_robot.access_token, state)
    with pytest.raises(RobotUnavailableError):
        await connect(ops_robot.access_token).send(Text(content=KEYWORD))
