"""Fault injection on the app APIs: what the client sees, and what was delivered."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import aiohttp
import pytest

from dingtalk_emulator import AppFault, AppFaultKind
from dingtalk_emulator.app_api import handle
from dingtalk_emulator.app_oapi import ApiCall
from dingtalk_emulator.testing import TEST_APP_KEY, TEST_APP_SECRET

from .app_helpers import BATCH, TOKEN_HEADER, batch, get_token, post, until

if TYPE_CHECKING:
    from dingtalk_emulator import Emulator, EmulatorServer


@pytest.fixture
async def token(app_server: EmulatorServer, http: aiohttp.ClientSession) -> str:
    """Return an access token of the test app."""
    return await get_token(http, app_server)


async def _batch(
    http: aiohttp.ClientSession, server: EmulatorServer, token: str, limit: float = 5
) -> tuple[int, str, str]:
    """Send a batchSend; return status, content type and body."""
    async with http.post(
        server.url(BATCH),
        json=batch(),
        headers={TOKEN_HEADER: token},
        timeout=aiohttp.ClientTimeout(total=limit),
    ) as response:
        return response.status, response.content_type, await response.text()


async def test_busy_v1(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
) -> None:
    """BUSY on a v1.0 API: the fault's 5xx status with v1.0 JSON; not delivered."""
    app_emulator.apps.inject_fault(
        TEST_APP_KEY, AppFault(AppFaultKind.BUSY, status=502)
    )
    status, content_type, body = await _batch(http, app_server, token)
    assert (status, content_type) == (502, "application/json")
    assert '"code":"ServiceUnavailable"' in body
    assert app_emulator.apps.messages() == []
    assert (await _batch(http, app_server, token))[0] == 200
    assert [r.fault for r in app_emulator.apps.requests[-2:]] == [
        AppFaultKind.BUSY,
        None,
    ]
    assert not app_emulator.apps.requests[-2].ok


async def test_busy_and_qps_oapi(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
) -> None:
    """On old-style APIs BUSY is errcode -1 and QPS errcode 90002 (HTTP 200)."""
    app_emulator.apps.inject_fault(TEST_APP_KEY, AppFault(AppFaultKind.BUSY))
    app_emulator.apps.inject_fault(TEST_APP_KEY, AppFault(AppFaultKind.QPS))
    url = app_server.url(f"/topapi/v2/user/getbymobile?access_token={token}")
    body = {"mobile": "13800000001"}
    assert await post(http, url, body) == (200, {"errcode": -1, "errmsg": "系统繁忙"})
    assert (await post(http, url, body))[1]["errcode"] == 90002
    assert (await post(http, url, body))[1]["errcode"] == 0


async def test_qps_fault_v1(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
) -> None:
    """QPS on a v1.0 API: HTTP 403 with the QPS code."""
    app_emulator.apps.inject_fault(TEST_APP_KEY, AppFault(AppFaultKind.QPS, count=2))
    assert app_emulator.apps.pending_faults(TEST_APP_KEY)[0].count == 2
    for _ in range(2):
        status, _, body = await _batch(http, app_server, token)
        assert status == 403
        assert "QpsLimitForApi" in body
    assert app_emulator.apps.pending_faults(TEST_APP_KEY) == []


async def test_fault_on_the_token_endpoint(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """Faults strike the token endpoint too (the app is found by appKey)."""
    app_emulator.apps.inject_fault(TEST_APP_KEY, AppFault(AppFaultKind.NON_JSON))
    url = app_server.url("/v1.0/oauth2/accessToken")
    body = {"appKey": TEST_APP_KEY, "appSecret": TEST_APP_SECRET}
    async with http.post(url, json=body) as response:
        assert (response.status, response.content_type) == (200, "text/html")
    record = app_emulator.apps.requests[-1]
    assert (record.fault, record.code, record.ok) == (
        AppFaultKind.NON_JSON,
        None,
        False,
    )
    assert record.message == "fault: HTML instead of JSON"
    assert app_emulator.apps.token_requests(TEST_APP_KEY) == 0


async def test_drop_before_delivery(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
) -> None:
    """DROP closes the connection without an answer; nothing is delivered."""
    app_emulator.apps.inject_fault(TEST_APP_KEY, AppFault(AppFaultKind.DROP))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await _batch(http, app_server, token)
    record = app_emulator.apps.requests[-1]
    assert (record.http_status, record.delivered) == (None, 0)
    assert record.message == "fault: connection dropped"
    assert app_emulator.apps.messages() == []


async def test_drop_after_delivery(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
) -> None:
    """The answer is lost: the message was delivered; a retry delivers it again."""
    app_emulator.apps.inject_fault(
        TEST_APP_KEY, AppFault(AppFaultKind.DROP, after_delivery=True)
    )
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await _batch(http, app_server, token)
    assert len(app_emulator.apps.messages()) == 1
    assert app_emulator.apps.requests[-1].delivered == 1
    assert (await _batch(http, app_server, token))[0] == 200
    assert len(app_emulator.apps.messages()) == 2  # no idempotency key (§11.2)


async def test_delay_before_and_after(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
) -> None:
    """DELAY waits first; DELAY after_delivery delivers, then answers late."""
    app_emulator.apps.inject_fault(
        TEST_APP_KEY, AppFault(AppFaultKind.DELAY, delay=0.1)
    )
    started = time.monotonic()
    assert (await _batch(http, app_server, token))[0] == 200
    assert time.monotonic() - started >= 0.1
    app_emulator.apps.inject_fault(
        TEST_APP_KEY, AppFault(AppFaultKind.DELAY, delay=0.3, after_delivery=True)
    )
    with pytest.raises(TimeoutError):
        await _batch(http, app_server, token, limit=0.1)
    assert len(app_emulator.apps.messages()) == 2
    await until(lambda: app_emulator.apps.requests[-1].fault is AppFaultKind.DELAY)


def test_faults_queue_and_clear(app_emulator: Emulator) -> None:
    """Faults strike in order, each for its count; clear drops them."""
    apps = app_emulator.apps
    apps.inject_fault(TEST_APP_KEY, AppFault(AppFaultKind.BUSY, count=2))
    apps.inject_fault(TEST_APP_KEY, AppFault(AppFaultKind.QPS))
    assert apps.take_fault(TEST_APP_KEY) == AppFault(AppFaultKind.BUSY, count=2)
    assert [f.count for f in apps.pending_faults(TEST_APP_KEY)] == [1, 1]
    apps.clear_faults(TEST_APP_KEY)
    assert apps.take_fault(TEST_APP_KEY) is None
    assert apps.take_fault(None) is None
    assert apps.take_fault("dingnobody") is None
    with pytest.raises(KeyError, match="no app dingnobody"):
        apps.inject_fault("dingnobody", AppFault(AppFaultKind.BUSY))


def test_handle_without_http(app_emulator: Emulator) -> None:
    """The checks run without a server; a fault replaces processing."""
    body = b'{"appKey": "%s", "appSecret": "%s"}' % (
        TEST_APP_KEY.encode(),
        TEST_APP_SECRET.encode(),
    )
    answer = handle(app_emulator.apps, ApiCall(api="token", body=body))
    assert answer.status == 200
    assert answer.body is not None
    assert answer.record.client_id == TEST_APP_KEY
    busy = handle(
        app_emulator.apps, ApiCall(api="token", body=body), AppFault(AppFaultKind.BUSY)
    )
    assert busy.status == 503
    dropped = handle(
        app_emulator.apps, ApiCall(api="token", body=body), AppFault(AppFaultKind.DROP)
    )
    assert (dropped.body, dropped.record.http_status) == (None, None)
    lookup = handle(
        app_emulator.apps, ApiCall(api="getbymobile", query={"access_token": "x"})
    )
    assert lookup.body == {"errcode": 40014, "errmsg": "不合法的access_token"}
    assert lookup.record.query == {"access_token": "x…"}
