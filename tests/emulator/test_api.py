"""The JSON API under /api and the Server-Sent Events stream."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest

from dingtalk_emulator import (
    Emulator,
    Event,
    EventKind,
    FaultKind,
    RobotState,
    SystemClock,
    fingerprint,
    robot_id,
    server as server_module,
)
from dingtalk_emulator.testing import TEST_SECRET, TEST_TOKEN, TEST_TOKENS

from .helpers import signed_url, sse_frame, text

if TYPE_CHECKING:
    from collections.abc import Callable

    import aiohttp

    from dingtalk_emulator import EmulatorServer, ManualClock, RobotConfig

    type MakeRobot = Callable[..., RobotConfig]


async def _call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    payload: object | None = None,
    *,
    data: bytes | None = None,
) -> tuple[int, Any, str]:
    """Call the API; return status, JSON answer (untyped JSON) and raw text."""
    async with http.request(method, url, json=payload, data=data) as response:
        raw = await response.text()
        return response.status, json.loads(raw), raw


async def _send(
    http: aiohttp.ClientSession, url: str, payload: object
) -> dict[str, object]:
    """POST a message to a webhook URL and return DingTalk's answer."""
    async with http.post(url, json=payload) as response:
        answer: dict[str, object] = await response.json()
        return answer


async def test_list_robots_hides_tokens_and_secrets(
    emulator_server: EmulatorServer,
    make_robot: MakeRobot,
    http: aiohttp.ClientSession,
) -> None:
    """GET /api/robots shows fingerprints and settings, never tokens or secrets."""
    make_robot(keywords=("alarm",), ip_allowlist=("127.0.0.1",), name="Ops")
    make_robot(secret=None, state=RobotState.DISABLED)
    status, answer, raw = await _call(http, "GET", emulator_server.url("/api/robots"))
    assert status == 200
    assert TEST_TOKEN not in raw
    assert TEST_SECRET not in raw
    first, second = answer["robots"]
    assert first == {
        "id": robot_id(TEST_TOKEN),
        "fingerprint": TEST_TOKEN[:6] + "…",
        "name": "Ops",
        "state": "active",
        "signed": True,
        "keywords": ["alarm"],
        "ip_allowlist": ["127.0.0.1"],
        "throttled_until": None,
        "delivered": 0,
        "faults": [],
    }
    assert second["signed"] is False
    assert second["state"] == "disabled"


async def test_add_robot(
    emulator: Emulator,
    emulator_server: EmulatorServer,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> None:
    """POST /api/robots adds a robot that then accepts messages."""
    status, answer, _ = await _call(
        http,
        "POST",
        emulator_server.url("/api/robots"),
        {"access_token": TEST_TOKEN, "secret": TEST_SECRET, "keywords": ["alarm"]},
    )
    assert status == 201
    assert answer["webhook_url"] == emulator_server.webhook_url(TEST_TOKEN)
    assert answer["robot"]["fingerprint"] == fingerprint(TEST_TOKEN)
    url = signed_url(emulator_server, TEST_TOKEN, now=manual_clock.now())
    assert await _send(http, url, text("alarm")) == {"errcode": 0, "errmsg": "ok"}
    assert emulator.robot(TEST_TOKEN).keywords == ("alarm",)


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"not json", 400, "the body must be a JSON object"),
        (b"[1]", 400, "the body must be a JSON object"),
        (b'{"access_token": 5}', 400, "access_token must be a string"),
        (b'{"access_token": "t", "color": "red"}', 400, "unknown robot fields: color"),
        (b'{"access_token": "t", "keywords": "alarm"}', 400, "keywords must be"),
        (b'{"access_token": "t", "ip_allowlist": ["x"]}', 400, "does not appear"),
        (b'{"access_token": "t", "state": "gone"}', 400, "'gone' is not a valid"),
        (b'{"access_token": " t"}', 400, "without spaces"),
        (b"{}", 400, "access_token must be a string"),
    ],
)
async def test_add_robot_errors(
    emulator_server: EmulatorServer,
    http: aiohttp.ClientSession,
    body: bytes,
    status: int,
    error: str,
) -> None:
    """Invalid robots are refused with 400 and a reason."""
    got, answer, _ = await _call(
        http, "POST", emulator_server.url("/api/robots"), data=body
    )
    assert got == status
    assert error in str(answer["error"])


async def test_add_duplicate_robot(
    emulator_server: EmulatorServer,
    make_robot: MakeRobot,
    http: aiohttp.ClientSession,
) -> None:
    """A token can only be added once."""
    make_robot()
    status, answer, _ = await _call(
        http,
        "POST",
        emulator_server.url("/api/robots"),
        {"access_token": TEST_TOKEN},
    )
    assert status == 400
    assert answer == {"error": f"robot {fingerprint(TEST_TOKEN)} already exists"}


async def test_remove_robot(
    emulator: Emulator,
    emulator_server: EmulatorServer,
    make_robot: MakeRobot,
    http: aiohttp.ClientSession,
) -> None:
    """DELETE /api/robots/{token} forgets the robot."""
    make_robot()
    url = emulator_server.url(f"/api/robots/{TEST_TOKEN}")
    assert await _call(http, "DELETE", url) == (
        200,
        {"removed": fingerprint(TEST_TOKEN)},
        f'{{"removed":"{fingerprint(TEST_TOKEN)}"}}',
    )
    assert emulator.robots == []
    status, answer, _ = await _call(http, "DELETE", url)
    assert status == 404
    assert answer == {"error": f"no robot {TEST_TOKEN[:6]}…"}


async def test_set_state(
    emulator_server: EmulatorServer,
    make_robot: MakeRobot,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> None:
    """POST /api/robots/{token}/state disables a robot (400102 afterwards)."""
    make_robot()
    url = emulator_server.url(f"/api/robots/{TEST_TOKEN}/state")
    status, answer, _ = await _call(http, "POST", url, {"state": "disabled"})
    assert status == 200
    assert answer["robot"]["state"] == "disabled"
    webhook = signed_url(emulator_server, TEST_TOKEN, now=manual_clock.now())
    assert (await _send(http, webhook, text()))["errcode"] == 400102
    assert (await _call(http, "POST", url, {"state": 1}))[0] == 400
    assert (await _call(http, "POST", url, {"state": "asleep"}))[0] == 400
    missing = emulator_server.url(f"/api/robots/{TEST_TOKENS[3]}/state")
    assert (await _call(http, "POST", missing, {"state": "active"}))[0] == 404


async def test_faults_api(
    emulator: Emulator,
    emulator_server: EmulatorServer,
    make_robot: MakeRobot,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> None:
    """POST/DELETE /api/robots/{token}/faults queue and clear faults."""
    make_robot()
    url = emulator_server.url(f"/api/robots/{TEST_TOKEN}/faults")
    status, answer, _ = await _call(http, "POST", url, {"kind": "busy", "count": 2})
    assert status == 201
    assert answer["faults"] == [
        {
            "kind": "busy",
            "count": 2,
            "delay": 1.0,
            "status": 502,
            "errcode": None,
            "after_delivery": False,
        }
    ]
    webhook = signed_url(emulator_server, TEST_TOKEN, now=manual_clock.now())
    assert await _send(http, webhook, text()) == {"errcode": -1, "errmsg": "系统繁忙"}
    _, robots, _ = await _call(http, "GET", emulator_server.url("/api/robots"))
    assert robots["robots"][0]["faults"][0]["count"] == 1
    assert await _call(http, "DELETE", url) == (200, {"faults": []}, '{"faults":[]}')
    assert emulator.pending_faults(TEST_TOKEN) == []
    await _call(http, "POST", url, {"kind": "drop", "after_delivery": True, "delay": 0})
    assert emulator.pending_faults(TEST_TOKEN)[0].kind is FaultKind.DROP


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"kind": "explode"}, "'explode' is not a valid FaultKind"),
        ({}, "kind must be a string"),
        ({"kind": "busy", "count": 0}, "count must be at least 1"),
        ({"kind": "busy", "count": True}, "count must be an int"),
        ({"kind": "busy", "count": "2"}, "count an int"),
        ({"kind": "busy", "after_delivery": True}, "only applies to DELAY and DROP"),
        ({"kind": "busy", "after_delivery": "yes"}, "after_delivery must be a bool"),
        ({"kind": "delay", "delay": -1}, "delay must be"),
        ({"kind": "delay", "delay": "1"}, "delay must be a number"),
        ({"kind": "http_5xx", "status": 404}, "5xx"),
        ({"kind": "http_5xx", "status": 502.0}, "status must be an int"),
        ({"kind": "rate", "errcode": 1}, "errcode must be one of"),
        ({"kind": "rate", "errcode": "410100"}, "errcode must be an int or null"),
        ({"kind": "busy", "when": "now"}, "unknown fault fields: when"),
    ],
)
async def test_fault_errors(
    emulator_server: EmulatorServer,
    make_robot: MakeRobot,
    http: aiohttp.ClientSession,
    payload: dict[str, object],
    error: str,
) -> None:
    """Impossible faults are refused with 400."""
    make_robot()
    url = emulator_server.url(f"/api/robots/{TEST_TOKEN}/faults")
    status, answer, _ = await _call(http, "POST", url, payload)
    assert status == 400
    assert error in str(answer["error"])


async def test_fault_for_unknown_robot(
    emulator_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """Faults for an unknown robot: 404 (before the body is looked at)."""
    url = emulator_server.url(f"/api/robots/{TEST_TOKEN}/faults")
    assert (await _call(http, "POST", url, {"kind": "nope"}))[0] == 404
    assert (await _call(http, "DELETE", url))[0] == 404


async def test_requests_log(
    emulator_server: EmulatorServer,
    make_robot: MakeRobot,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> None:
    """GET /api/requests: every request, sign masked, token as a fingerprint."""
    make_robot()
    good = signed_url(emulator_server, TEST_TOKEN, now=manual_clock.now())
    await _send(http, good, text("one", msgUuid="u1"))
    await _send(http, good.replace("sign=", "sign=x"), text("two"))
    await _send(http, emulator_server.webhook_url("nobody"), text("three"))
    status, answer, raw = await _call(http, "GET", emulator_server.url("/api/requests"))
    assert status == 200
    assert TEST_TOKEN not in raw
    first, second, third = answer["requests"]
    assert first["query"] == {
        "access_token": fingerprint(TEST_TOKEN),
        "timestamp": "1700000000000",
        "sign": "***",
    }
    assert first["robot"] == robot_id(TEST_TOKEN)
    assert first["signature_verified"] is True
    assert first["errcode"] == 0
    assert first["delivered"] is True
    assert first["msg_uuid"] == "u1"
    assert json.loads(first["body"]) == text("one", msgUuid="u1")
    assert first["remote"] == "127.0.0.1"
    assert first["http_status"] == 200
    assert first["headers"]["Content-Type"] == "application/json"
    assert second["signature_verified"] is False
    assert second["errcode"] == 310000
    assert third["known_robot"] is False
    assert third["errcode"] == 300005
    assert third["fingerprint"] == "nobody…"


async def test_requests_log_filters(
    emulator_server: EmulatorServer,
    make_robot: MakeRobot,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> None:
    """The log can be filtered by token, by sequence number and by count."""
    make_robot()
    make_robot()
    for token in (TEST_TOKENS[0], TEST_TOKENS[1], TEST_TOKENS[0]):
        await _send(
            http, signed_url(emulator_server, token, now=manual_clock.now()), text()
        )

    async def seqs(query: str) -> list[object]:
        """Return the sequence numbers the log answers for ``query``."""
        _, answer, _ = await _call(
            http, "GET", emulator_server.url(f"/api/requests?{query}")
        )
        return [r["seq"] for r in answer["requests"]]

    assert await seqs(f"token={TEST_TOKENS[0]}") == [1, 3]
    assert await seqs("since=1") == [2, 3]
    assert await seqs("limit=1") == [3]
    assert await seqs("limit=0") == []
    status, answer, _ = await _call(
        http, "GET", emulator_server.url("/api/requests?since=x")
    )
    assert (status, answer) == (400, {"error": "since must be an integer"})


async def test_messages(
    emulator_server: EmulatorServer,
    make_robot: MakeRobot,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> None:
    """GET /api/messages: delivered messages with who their mentions notify."""
    make_robot()
    make_robot()
    payload = text("@alice", at={"atUserIds": ["alice", "bob"]}, isAtAll=True)
    await _send(
        http,
        signed_url(emulator_server, TEST_TOKENS[0], now=manual_clock.now()),
        payload,
    )
    await _send(
        http,
        signed_url(emulator_server, TEST_TOKENS[1], now=manual_clock.now()),
        text(),
    )
    _, answer, _ = await _call(http, "GET", emulator_server.url("/api/messages"))
    assert len(answer["messages"]) == 2
    _, answer, raw = await _call(
        http, "GET", emulator_server.url(f"/api/messages?token={TEST_TOKENS[0]}")
    )
    [message] = answer["messages"]
    assert TEST_TOKENS[0] not in raw
    assert message["payload"] == payload
    assert message["rang"] == ["alice"]
    assert message["silent"] == ["bob"]
    assert message["at_all"] is False
    assert message["notices"][0]["code"] == "mention_ignored"
    assert message["msgtype"] == "text"
    status, _, _ = await _call(
        http, "GET", emulator_server.url(f"/api/messages?token={TEST_TOKENS[7]}")
    )
    assert status == 404


async def test_reset(
    emulator: Emulator,
    emulator_server: EmulatorServer,
    make_robot: MakeRobot,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> None:
    """POST /api/reset forgets history; robots stay."""
    make_robot()
    await _send(
        http, signed_url(emulator_server, TEST_TOKEN, now=manual_clock.now()), text()
    )
    status, answer, _ = await _call(http, "POST", emulator_server.url("/api/reset"))
    assert (status, answer) == (200, {"ok": True})
    assert emulator.requests == []
    assert emulator.delivered() == []
    assert len(emulator.robots) == 1


async def test_clock(
    emulator_server: EmulatorServer,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> None:
    """GET /api/clock and POST /api/clock/advance move the manual clock."""
    url = emulator_server.url("/api/clock")
    assert (await _call(http, "GET", url))[1] == {"now": 1.7e9, "manual": True}
    advance = emulator_server.url("/api/clock/advance")
    status, answer, _ = await _call(http, "POST", advance, {"seconds": 61.5})
    assert (status, answer) == (200, {"now": 1_700_000_061.5})
    assert manual_clock.now() == 1_700_000_061.5
    for bad in ({"seconds": "1"}, {"seconds": True}, {}):
        assert (await _call(http, "POST", advance, bad))[0] == 400
    status, answer, _ = await _call(http, "POST", advance, {"seconds": -1})
    assert status == 400
    assert "only moves forward" in str(answer["error"])


async def test_clock_not_manual(
    http: aiohttp.ClientSession,
) -> None:
    """A system clock cannot be advanced: 409."""
    emulator = Emulator(SystemClock())
    async with emulator.serve() as server:
        status, answer, _ = await _call(
            http, "POST", server.url("/api/clock/advance"), {"seconds": 1}
        )
        clock = (await _call(http, "GET", server.url("/api/clock")))[1]
    assert (status, answer) == (409, {"error": "the emulator's clock is not manual"})
    assert clock["manual"] is False
    with pytest.raises(TypeError, match="not a ManualClock"):
        emulator.advance_clock(1)


# -- Server-Sent Events -----------------------------------------------------------


async def test_events_stream(
    emulator: Emulator,
    emulator_server: EmulatorServer,
    make_robot: MakeRobot,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> None:
    """GET /api/events streams deliveries, requests and reload hints live."""
    make_robot()
    async with http.get(emulator_server.url("/api/events")) as events:
        assert events.content_type == "text/event-stream"
        assert await events.content.readline() == b"retry: 2000\n"
        await _send(
            http,
            signed_url(emulator_server, TEST_TOKEN, now=manual_clock.now()),
            text("hello @alice", at={"atUserIds": ["alice"]}),
        )
        name, delivered = await sse_frame(events)
        assert name == "delivered"
        assert delivered["robot_id"] == robot_id(TEST_TOKEN)
        assert delivered["rang"] == ["alice"]
        assert '<span class="mention rang">@alice</span>' in str(delivered["html"])
        name, request = await sse_frame(events)
        assert name == "request"
        assert request["errcode"] == 0
        assert str(request["html"]).startswith('<tr class="ok" id="req-1">')
        assert TEST_TOKEN not in json.dumps(request)
        emulator.reset()
        assert await sse_frame(events) == ("reload", {"kind": "reset"})
        manual_clock.advance(0)
        emulator.advance_clock(1)
        assert await sse_frame(events) == ("reload", {"kind": "clock"})


async def test_events_end_when_the_server_stops(
    emulator: Emulator,
    http: aiohttp.ClientSession,
) -> None:
    """Open SSE streams end (EOF) when the server shuts down."""
    async with emulator.serve() as server:
        events = await http.get(server.url("/api/events"))
        await events.content.readline()
    assert await asyncio.wait_for(events.content.read(), 5) == b": connected\n\n"
    events.release()


async def test_events_keepalive(
    emulator_server: EmulatorServer,
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An idle stream gets keep-alive comments."""
    monkeypatch.setattr(server_module, "SSE_KEEPALIVE", 0.05)
    async with http.get(emulator_server.url("/api/events")) as events:
        lines = [await events.content.readline() for _ in range(4)]
    assert lines == [b"retry: 2000\n", b": connected\n", b"\n", b": keep-alive\n"]


def test_hub_cuts_off_slow_clients() -> None:
    """A client that stops reading is dropped instead of growing a queue forever."""
    hub = server_module._Hub()
    hub.publish(Event(EventKind.RESET))  # no clients: nothing to do
    slow = hub.subscribe()
    for _ in range(server_module.SSE_QUEUE_SIZE + 1):
        hub.publish(Event(EventKind.ROBOTS))
    assert slow.qsize() == 1
    assert slow.get_nowait() is None
    hub.publish(Event(EventKind.ROBOTS))
    assert slow.empty()
    hub.close()
    assert hub.subscribe().get_nowait() is None


async def test_unknown_event_payload_is_a_reload() -> None:
    """An event without its object falls back to a reload hint."""
    frame = server_module._sse_frame(Event(EventKind.DELIVERED))
    assert frame == b'event: reload\ndata: {"kind":"delivered"}\n\n'


async def test_events_client_that_goes_away(
    emulator: Emulator,
    emulator_server: EmulatorServer,
    make_robot: MakeRobot,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> None:
    """A stream whose client left ends on the next event; serving goes on."""
    make_robot()
    events = await http.get(emulator_server.url("/api/events"))
    await events.content.readline()
    events.close()
    await asyncio.sleep(0.05)
    emulator.reset()  # the server writes to the closed connection and gives up
    await asyncio.sleep(0.05)
    url = signed_url(emulator_server, TEST_TOKEN, now=manual_clock.now())
    assert await _send(http, url, text()) == {"errcode": 0, "errmsg": "ok"}
    assert repr(emulator_server) == f"EmulatorServer({emulator_server.base_url!r})"


async def test_huge_body_is_refused_by_http(
    emulator: Emulator,
    emulator_server: EmulatorServer,
    make_robot: MakeRobot,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> None:
    """Bodies over 4 MiB get HTTP 413 before any check (an emulator limit)."""
    make_robot()
    url = signed_url(emulator_server, TEST_TOKEN, now=manual_clock.now())
    body = b"x" * (4 * 1024 * 1024 + 1)
    async with http.post(
        url, data=body, headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 413
    assert emulator.requests == []
