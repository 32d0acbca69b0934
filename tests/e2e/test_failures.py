"""DingTalk misbehaving, against a real Home Assistant: retries, errors, throttling."""

from __future__ import annotations

from contextlib import closing
import json
import sqlite3
from typing import TYPE_CHECKING, Any

import pytest

from devtools.hass_process import ServiceCallError, ServiceResult

if TYPE_CHECKING:
    from .conftest import E2E, RobotHandle

pytestmark = pytest.mark.e2e

RATE_LIMIT_ERRCODES = {410100, 130101, 660026}


def last_seq(e2e: E2E, handle: RobotHandle) -> int:
    """Return the sequence number of the robot's latest request (0 if none)."""
    return max((int(r["seq"]) for r in e2e.emulator.requests(handle.token)), default=0)


def send(e2e: E2E, handle: RobotHandle, message: str) -> ServiceResult:
    """Send a text through dingtalk.send_message and ask for the outcome."""
    return e2e.hass.call_service(
        "dingtalk",
        "send_message",
        {"entity_id": handle.entity_id, "message": message},
        return_response=True,
    )


def body_uuid(request: dict[str, Any]) -> str:
    """Return the msgUuid in a recorded request's body (also for faulted ones)."""
    return str(json.loads(request["body"])["msgUuid"])


def delivered_with_uuid(e2e: E2E, handle: RobotHandle, uuid: str) -> list[Any]:
    """Return the robot's delivered messages that carry msgUuid ``uuid``."""
    return [m for m in e2e.emulator.messages(handle.token) if m["msg_uuid"] == uuid]


@pytest.mark.parametrize(
    ("name", "kind", "extra"),
    [
        ("Busy", "busy", {}),
        ("Gateway", "http_5xx", {"status": 503}),
        ("Flaky line", "drop", {"after_delivery": True}),
    ],
    ids=["busy", "http_503", "answer_lost_after_delivery"],
)
def test_transient_fault_is_retried_and_delivered_once(
    e2e: E2E, name: str, kind: str, extra: dict[str, object]
) -> None:
    """Busy, 5xx and a lost answer are retried with the same msgUuid: one delivery."""
    handle = e2e.add_robot(name)
    since = last_seq(e2e, handle)
    e2e.emulator.inject_fault(handle.token, kind, **extra)

    result = send(e2e, handle, f"{name}: the washing machine is done")

    assert result.response == {handle.entity_id: {"status": "sent", "parts": 1}}
    first, *retries = e2e.emulator.requests(handle.token, since=since)
    assert first["fault"] == kind
    assert len(retries) == 1
    assert retries[0]["fault"] is None
    assert retries[0]["errcode"] == 0
    assert body_uuid(retries[0]) == body_uuid(first)
    assert retries[0]["duplicate"] is (kind == "drop")
    assert len(delivered_with_uuid(e2e, handle, body_uuid(first))) == 1


def test_disabled_robot_fails_with_readable_error(e2e: E2E) -> None:
    """A permanent DingTalk error makes the action fail with a message to act on."""
    handle = e2e.add_robot("Retired")
    since = last_seq(e2e, handle)
    e2e.emulator.set_robot_state(handle.token, "disabled")

    with pytest.raises(ServiceCallError) as caught:
        send(e2e, handle, "Anyone there?")

    assert caught.value.status == 500
    assert "Retired" in caught.value.message
    assert "disabled" in caught.value.message
    (request,) = e2e.emulator.requests(handle.token, since=since)
    assert request["errcode"] == 400102
    assert e2e.emulator.messages(handle.token) == []


def test_rate_limited_message_is_queued_and_survives_reload(e2e: E2E) -> None:
    """A throttled robot keeps the message queued (and stored) instead of losing it."""
    handle = e2e.add_robot("Chatty")
    since = last_seq(e2e, handle)
    e2e.emulator.inject_fault(handle.token, "rate")

    result = send(e2e, handle, "Motion in the hallway")

    assert result.response == {handle.entity_id: {"status": "queued", "parts": 1}}
    (request,) = e2e.emulator.requests(handle.token, since=since)
    assert request["errcode"] in RATE_LIMIT_ERRCODES
    assert request["delivered"] is False
    assert e2e.emulator.messages(handle.token) == []
    delivery = e2e.hass.diagnostics(handle.entry_id)["delivery"]
    assert delivery["queued"] == 1
    assert delivery["throttled"] == 1
    assert delivery["paused_until"] is not None

    store = e2e.hass.config_dir / ".storage" / "dingtalk_outbox.db"

    def stored_uuids() -> list[str] | None:
        """Read the durable queue as the next start would (while it is in use)."""
        with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as conn:
            rows = conn.execute(
                "SELECT key FROM items WHERE outbox = ? ORDER BY seq",
                (handle.entry_id,),
            ).fetchall()
        return [key for (key,) in rows] or None

    # On disk by the time the action answered "queued", without waiting.
    assert stored_uuids() == [body_uuid(request)]

    e2e.hass.reload_entry(handle.entry_id)  # the outbox is stopped and reloaded

    delivery = e2e.hass.diagnostics(handle.entry_id)["delivery"]
    assert delivery["queued"] == 1
    assert delivery["paused_until"] is not None
    assert stored_uuids() == [body_uuid(request)]
    assert e2e.emulator.messages(handle.token) == []
