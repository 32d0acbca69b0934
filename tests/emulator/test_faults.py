"""Fault injection over HTTP: what the client sees, and whether the message landed."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

import aiohttp
import pytest

from dingtalk_emulator import Emulator, Fault, FaultKind, server as server_module
from dingtalk_emulator.server import SHUTDOWN_TIMEOUT
from dingtalk_emulator.testing import TEST_TOKEN, TEST_TOKENS

from .helpers import send, signed_url, text

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiohttp import web

    from dingtalk_emulator import EmulatorServer, ManualClock, RobotConfig

    type MakeRobot = Callable[..., RobotConfig]


@pytest.fixture
def url(
    emulator_server: EmulatorServer, make_robot: MakeRobot, manual_clock: ManualClock
) -> str:
    """Return a signed webhook URL of a fresh robot."""
    make_robot()
    return signed_url(emulator_server, TEST_TOKEN, now=manual_clock.now())


async def _post(
    http: aiohttp.ClientSession, url: str, payload: object, limit: float = 5
) -> tuple[int, str, str]:
    """POST JSON; return status, content type and body text."""
    async with http.post(
        url, json=payload, timeout=aiohttp.ClientTimeout(total=limit)
    ) as response:
        return response.status, response.content_type, await response.text()


async def _wait_for_delivery(emulator: Emulator, count: int) -> None:
    """Wait (briefly) until ``count`` messages were delivered."""
    for _ in range(200):
        if len(emulator.delivered()) >= count:
            return
        await asyncio.sleep(0.01)
    pytest.fail("message not delivered")


async def test_busy(emulator: Emulator, http: aiohttp.ClientSession, url: str) -> None:
    """BUSY with count=2: two "系统繁忙" answers, nothing delivered, then normal."""
    emulator.inject_fault(TEST_TOKEN, Fault(FaultKind.BUSY, count=2))
    for _ in range(2):
        status, content_type, body = await _post(http, url, text())
        assert (status, content_type) == (200, "application/json")
        assert body == '{"errcode":-1,"errmsg":"系统繁忙"}'
    assert emulator.delivered() == []
    assert (await _post(http, url, text()))[2] == '{"errcode":0,"errmsg":"ok"}'
    assert [r.fault for r in emulator.requests] == [FaultKind.BUSY] * 2 + [None]
    assert emulator.requests[0].errcode == -1


async def test_busy_precedes_every_check(
    emulator: Emulator, http: aiohttp.ClientSession, url: str
) -> None:
    """A fault strikes before the checks (like a gateway): even a bad request."""
    emulator.inject_fault(TEST_TOKEN, Fault(FaultKind.BUSY))
    _, _, body = await _post(http, url, {"msgtype": "nope"})
    assert body == '{"errcode":-1,"errmsg":"系统繁忙"}'
    assert emulator.requests[0].signature_verified is None


async def test_delay_then_process(
    emulator: Emulator, http: aiohttp.ClientSession, url: str
) -> None:
    """DELAY waits (real time), then processes and delivers."""
    emulator.inject_fault(TEST_TOKEN, Fault(FaultKind.DELAY, delay=0.2))
    started = time.monotonic()
    _, _, body = await _post(http, url, text())
    assert time.monotonic() - started >= 0.2
    assert body == '{"errcode":0,"errmsg":"ok"}'
    assert emulator.requests[0].fault is FaultKind.DELAY
    assert len(emulator.delivered()) == 1


async def test_delay_past_the_client_timeout_still_delivers(
    emulator: Emulator, http: aiohttp.ClientSession, url: str
) -> None:
    """The client gives up; the server still processes the request after the delay."""
    emulator.inject_fault(TEST_TOKEN, Fault(FaultKind.DELAY, delay=0.3))
    with pytest.raises(TimeoutError):
        await _post(http, url, text(msgUuid="u"), limit=0.05)
    assert emulator.delivered() == []
    await _wait_for_delivery(emulator, 1)


async def test_delay_after_delivery_and_retry(
    emulator: Emulator, http: aiohttp.ClientSession, url: str
) -> None:
    """Delivered, then the answer is late: the msgUuid retry is not delivered again."""
    emulator.inject_fault(
        TEST_TOKEN, Fault(FaultKind.DELAY, delay=0.5, after_delivery=True)
    )
    with pytest.raises(TimeoutError):
        await _post(http, url, text(msgUuid="u"), limit=0.1)
    assert len(emulator.delivered()) == 1  # delivered before the client gave up
    _, _, body = await _post(http, url, text(msgUuid="u"))
    assert body == '{"errcode":0,"errmsg":"ok"}'
    assert len(emulator.delivered()) == 1
    assert emulator.requests[-1].duplicate


async def test_drop(emulator: Emulator, http: aiohttp.ClientSession, url: str) -> None:
    """DROP closes the connection without an answer; nothing is delivered."""
    emulator.inject_fault(TEST_TOKEN, Fault(FaultKind.DROP))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await _post(http, url, text())
    assert emulator.delivered() == []
    record = emulator.requests[0]
    assert (record.http_status, record.errcode) == (None, None)
    assert (await _post(http, url, text()))[0] == 200


async def test_drop_after_delivery_and_retry(
    emulator: Emulator, http: aiohttp.ClientSession, url: str
) -> None:
    """Delivered, then the connection drops: the msgUuid retry is not delivered."""
    emulator.inject_fault(TEST_TOKEN, Fault(FaultKind.DROP, after_delivery=True))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await _post(http, url, text(msgUuid="u"))
    record = emulator.requests[0]
    assert record.delivered
    assert record.errcode == 0
    assert record.http_status is None
    _, _, body = await _post(http, url, text(msgUuid="u"))
    assert body == '{"errcode":0,"errmsg":"ok"}'
    assert len(emulator.delivered()) == 1


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (500, "Internal Server Error"),
        (502, "Bad Gateway"),
        (503, "Service Unavailable"),
        (599, "Server Error"),
    ],
)
async def test_http_5xx(
    emulator: Emulator,
    http: aiohttp.ClientSession,
    url: str,
    status: int,
    reason: str,
) -> None:
    """HTTP_5XX answers the status with a text body; nothing is delivered."""
    emulator.inject_fault(TEST_TOKEN, Fault(FaultKind.HTTP_5XX, status=status))
    assert await _post(http, url, text()) == (
        status,
        "text/plain",
        f"{status} {reason}",
    )
    assert emulator.delivered() == []
    assert emulator.requests[0].http_status == status
    assert emulator.requests[0].errcode is None


async def test_non_json(
    emulator: Emulator, http: aiohttp.ClientSession, url: str
) -> None:
    """NON_JSON answers HTTP 200 with an HTML page; nothing is delivered."""
    emulator.inject_fault(TEST_TOKEN, Fault(FaultKind.NON_JSON))
    status, content_type, body = await _post(http, url, text())
    assert (status, content_type) == (200, "text/html")
    assert body.startswith("<html>")
    assert emulator.delivered() == []


@pytest.mark.parametrize(
    ("errcode", "expected"),
    [
        (None, '{"errcode":410100,"errmsg":"发送速度太快而限流"}'),
        (660026, '{"errcode":660026,"errmsg":"sending too many messages per minute"}'),
    ],
)
async def test_rate(
    emulator: Emulator,
    http: aiohttp.ClientSession,
    url: str,
    errcode: int | None,
    expected: str,
) -> None:
    """RATE answers the rate code without throttling the robot."""
    emulator.inject_fault(TEST_TOKEN, Fault(FaultKind.RATE, errcode=errcode))
    assert (await _post(http, url, text()))[2] == expected
    assert emulator.throttled_until(TEST_TOKEN) is None
    assert (await _post(http, url, text()))[2] == '{"errcode":0,"errmsg":"ok"}'


def test_faults_queue_in_order(emulator: Emulator, make_robot: MakeRobot) -> None:
    """Faults strike in the order injected, each for its count."""
    make_robot()
    emulator.inject_fault(TEST_TOKEN, Fault(FaultKind.BUSY, count=2))
    emulator.inject_fault(TEST_TOKEN, Fault(FaultKind.RATE))
    assert emulator.pending_faults(TEST_TOKEN) == [
        Fault(FaultKind.BUSY, count=2),
        Fault(FaultKind.RATE),
    ]
    fault = emulator.take_fault(TEST_TOKEN)
    assert fault == Fault(FaultKind.BUSY, count=2)
    assert emulator.pending_faults(TEST_TOKEN)[0].count == 1
    assert [f.kind for f in emulator.pending_faults(TEST_TOKEN)] == [
        FaultKind.BUSY,
        FaultKind.RATE,
    ]
    emulator.clear_faults(TEST_TOKEN)
    assert emulator.pending_faults(TEST_TOKEN) == []
    assert emulator.take_fault(TEST_TOKEN) is None


def test_faults_only_for_known_robots(
    emulator: Emulator, make_robot: MakeRobot
) -> None:
    """Unknown tokens have no faults; injecting for one is an error."""
    make_robot()
    assert emulator.take_fault(None) is None
    assert emulator.take_fault(TEST_TOKENS[9]) is None
    with pytest.raises(KeyError):
        emulator.inject_fault(TEST_TOKENS[9], Fault(FaultKind.BUSY))


def test_python_api_fault_outcomes(emulator: Emulator, make_robot: MakeRobot) -> None:
    """handle_send records what each fault answered."""
    make_robot()
    for kind, errcode in [
        (FaultKind.NON_JSON, None),
        (FaultKind.HTTP_5XX, None),
        (FaultKind.DROP, None),
        (FaultKind.BUSY, -1),
    ]:
        record = emulator.handle_send(
            f"access_token={TEST_TOKEN}", body=b"{}", fault=Fault(kind)
        ).record
        assert (record.fault, record.errcode, record.delivered) == (
            kind,
            errcode,
            False,
        )
    assert send(emulator, TEST_TOKEN).record.ok


async def test_shutdown_wakes_a_delayed_request(
    emulator: Emulator,
    make_robot: MakeRobot,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> None:
    """Leaving serve() does not wait for a long DELAY to run out."""
    make_robot()
    emulator.inject_fault(TEST_TOKEN, Fault(FaultKind.DELAY, delay=60))
    started = time.monotonic()
    async with emulator.serve() as server:
        url = signed_url(server, TEST_TOKEN, now=manual_clock.now())
        request = asyncio.create_task(_post(http, url, text()))
        for _ in range(500):  # until the request sleeps in the DELAY fault
            if not emulator.pending_faults(TEST_TOKEN):
                break
            await asyncio.sleep(0.01)
        assert emulator.pending_faults(TEST_TOKEN) == []
        await asyncio.sleep(0.05)
    status, _, _ = await request
    assert status == 200
    assert time.monotonic() - started < SHUTDOWN_TIMEOUT + 1


def test_drop_without_a_transport() -> None:
    """A DROP for a client that is already gone answers nothing, without errors."""
    request = cast("web.Request", SimpleNamespace(transport=None))
    reply = server_module._faulty_reply(request, Fault(FaultKind.DROP), {})
    assert reply.status == 200
