"""The delivery core through Home Assistant: bursts combined, bounds, the queue file."""

from __future__ import annotations

import asyncio
from contextlib import closing
from dataclasses import replace
from pathlib import Path
import sqlite3
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.dingtalk.api import (
    BusyError,
    DingTalkError,
    DingTalkHTTPError,
    TimestampError,
)
from custom_components.dingtalk.const import (
    DOMAIN,
    MAX_MENTIONS,
    MAX_MESSAGE_BYTES,
    SERVICE_SEND_MESSAGE,
    DingTalkNotice,
)
from custom_components.dingtalk.outbox import (
    DATA_SETTINGS,
    DATA_STORE,
    EVENT_RESTORE_FAILED,
    OutboxSettings,
    async_get_store,
)
from custom_components.dingtalk.outbox.queue import DurableQueue
from custom_components.dingtalk.policy import POLICIES, Outcome, outcome_for
from custom_components.dingtalk.webhook_sender import (
    MARKDOWN_SEPARATOR,
    RESENT_MARK,
    TEXT_SEPARATOR,
    combine_payloads,
    mark_resent,
)
from dingtalk_emulator import Fault, FaultKind

from .conftest import KEYWORD, TOKEN, setup_entry

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import issue_registry as ir
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from dingtalk_emulator import Emulator

ENTITY_ID = "notify.ops"
RATE_LIMIT_CODES = {130101, 410100, 660026, 90030}


async def send(hass: HomeAssistant, **fields: object) -> Mapping[str, object]:
    """Call dingtalk.send_message on the Ops robot and return its answer."""
    response = await hass.services.async_call(
        DOMAIN,
        SERVICE_SEND_MESSAGE,
        {ATTR_ENTITY_ID: ENTITY_ID, **fields},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    answer = response[ENTITY_ID]
    assert isinstance(answer, dict)
    return answer


# ---------------------------------------------------------------- combining


def text_payload(content: str, uuid: str, **at: object) -> dict[str, object]:
    """Return a webhook text payload."""
    payload: dict[str, object] = {"msgtype": "text", "text": {"content": content}}
    if at:
        payload["at"] = at
    payload["msgUuid"] = uuid
    return payload


def test_combine_text_in_order_with_mentions_merged() -> None:
    """Texts are joined in order by a separator line; everyone mentioned rings."""
    combined = combine_payloads(
        [
            text_payload("door open @138", "a", atMobiles=["138"], isAtAll=False),
            text_payload("washer done", "b"),
            text_payload("@u1 server down", "c", atUserIds=["u1"], isAtAll=True),
        ],
        "key",
    )
    assert combined == {
        "msgtype": "text",
        "text": {
            "content": TEXT_SEPARATOR.join(
                ["door open @138", "washer done", "@u1 server down"]
            )
        },
        "at": {"atMobiles": ["138"], "atUserIds": ["u1"], "isAtAll": True},
        "msgUuid": "key",
    }


def test_combine_markdown_keeps_the_first_title() -> None:
    """Markdown keeps its text and says how many messages the title stands for."""
    payloads = [
        {"msgtype": "markdown", "markdown": {"title": f"T{n}", "text": f"# {n}"}}
        for n in range(3)
    ]
    combined = combine_payloads(payloads, "k")
    assert combined is not None
    assert combined["markdown"] == {
        "title": "T0 (+2)",
        "text": MARKDOWN_SEPARATOR.join(["# 0", "# 1", "# 2"]),
    }
    assert "at" not in combined


@pytest.mark.parametrize(
    "payloads",
    [
        [text_payload("a", "1")],
        [text_payload("a", "1"), {"msgtype": "markdown", "markdown": {}}],
        [{"msgtype": "link", "link": {}}, {"msgtype": "link", "link": {}}],
        [text_payload("a", "1"), {"msgtype": "text"}],
        [text_payload("x" * 12_000, "1"), text_payload("y" * 12_000, "2")],
    ],
    ids=["one", "mixed", "link", "broken", "too_big"],
)
def test_combine_refuses(payloads: list[dict[str, object]]) -> None:
    """Only two or more text (or markdown) messages that fit together combine."""
    assert combine_payloads(payloads, "k") is None


def test_mark_resent() -> None:
    """A payload sent again after a lost answer is visibly marked, others kept."""
    marked = mark_resent(text_payload("door", "a"))
    assert marked["text"] == {"content": f"{RESENT_MARK}door"}
    link = {"msgtype": "link", "link": {"title": "t"}}
    assert mark_resent(link) == link


async def test_burst_of_60_reaches_the_group_within_seconds(
    hass: HomeAssistant,
    robot_emulator: Emulator,
    loaded_entry: MockConfigEntry,
    fast_outbox: OutboxSettings,
) -> None:
    """An alarm storm at the limit is combined: all 60 arrive at once, in order.

    Without combining the last 40 wait out DingTalk's minute (two minutes for 60).
    """
    # The default hold (1 s): the 43 sends after the first 17 take well under it,
    # even on a loaded machine.
    hass.data[DATA_SETTINGS] = replace(fast_outbox, combine_delay=1.0)
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    statuses = [
        (await send(hass, message=f"{KEYWORD} storm #{n}"))["status"] for n in range(60)
    ]
    outbox = loaded_entry.runtime_data.outbox
    await wait_idle(hass, loaded_entry)
    delivered = robot_emulator.delivered(TOKEN)
    texts = [m.payload["text"]["content"] for m in delivered]
    joined = TEXT_SEPARATOR.join(texts)
    assert [f"{KEYWORD} storm #{n}" in joined for n in range(60)] == [True] * 60
    positions = [joined.index(f"storm #{n}\n") for n in range(59)]
    assert positions == sorted(positions)
    assert len(delivered) < 20  # all within DingTalk's minute, never throttled
    assert not [r for r in robot_emulator.requests if r.errcode in RATE_LIMIT_CODES]
    stats = outbox.stats()
    assert stats["combined_sends"] >= 1
    assert stats["sent"] == 60
    assert statuses.count("sent") >= 16


async def wait_idle(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Wait (real time, bounded) until the robot's queue is empty."""
    outbox = entry.runtime_data.outbox
    for _ in range(250):
        if outbox.stats()["queued"] == 0:
            await hass.async_block_till_done()
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"still queued: {outbox.stats()}")


async def test_combining_can_be_turned_off(
    hass: HomeAssistant, config_entry: MockConfigEntry, robot_emulator: Emulator
) -> None:
    """With the option off, every message goes alone (and waits for its turn)."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(config_entry, options={"combine": False})
    await setup_entry(hass, config_entry)
    for n in range(18):
        await send(hass, message=f"{KEYWORD} #{n}")
    assert len(robot_emulator.delivered(TOKEN)) == 18
    assert config_entry.runtime_data.outbox.stats()["combined_sends"] == 0


# ------------------------------------------------------------------ bounds


@pytest.mark.usefixtures("loaded_entry")
async def test_message_size_is_bounded(
    hass: HomeAssistant, robot_emulator: Emulator
) -> None:
    """A message over the documented maximum is refused, with the limit, untouched.

    Reported: a 4 MB message blocked the event loop for seconds and was then
    answered "the queue is full (500 messages waiting)" on an empty queue.
    """
    with pytest.raises(ServiceValidationError) as info:
        await send(hass, message="x" * (MAX_MESSAGE_BYTES + 1))
    assert info.value.translation_key == "input_too_long"
    assert info.value.translation_placeholders == {"limit": str(MAX_MESSAGE_BYTES)}
    assert str(MAX_MESSAGE_BYTES) in str(info.value)
    with pytest.raises(ServiceValidationError, match="longer than 100000 bytes"):
        await send(hass, message="告" * (MAX_MESSAGE_BYTES // 3 + 1))
    assert robot_emulator.requests == []
    answer = await send(hass, message=f"{KEYWORD}\n" + "y\n" * 45_000)
    assert answer["status"] == "sent"
    assert answer["parts"] == len(robot_emulator.delivered(TOKEN)) > 1


@pytest.mark.usefixtures("loaded_entry")
async def test_mentions_are_bounded(
    hass: HomeAssistant, robot_emulator: Emulator
) -> None:
    """More mentions than the documented maximum are refused with the limit."""
    mobiles = [f"1380000{n:04d}" for n in range(MAX_MENTIONS + 1)]
    with pytest.raises(ServiceValidationError) as info:
        await send(hass, message=KEYWORD, at_mobiles=mobiles)
    assert info.value.translation_key == "input_too_many_mentions"
    assert info.value.translation_placeholders == {"limit": str(MAX_MENTIONS)}
    assert robot_emulator.requests == []
    await send(hass, message=KEYWORD, at_mobiles=mobiles[:MAX_MENTIONS])
    [message] = robot_emulator.delivered(TOKEN)
    assert len(message.rang) == MAX_MENTIONS


# ----------------------------------------------------------------- the file


async def test_damaged_queue_file_is_reported_and_replaced(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    fast_outbox: OutboxSettings,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A queue file that cannot be read is moved aside, reported, never fatal."""
    assert fast_outbox.database is not None
    await hass.async_add_executor_job(
        Path(fast_outbox.database).write_bytes, b"this is not a database" * 100
    )
    events = async_capture_events(hass, EVENT_RESTORE_FAILED)
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.LOADED
    issue = issue_registry.async_get_issue(DOMAIN, DingTalkNotice.OUTBOX_DAMAGED)
    assert issue is not None
    assert issue.translation_placeholders is not None
    moved = Path(issue.translation_placeholders["moved_to"])
    content = await hass.async_add_executor_job(moved.read_bytes)
    assert content.startswith(b"this is not a database")
    assert [event.data["reason"] for event in events] == ["corrupt"]
    assert (await send(hass, message=KEYWORD))["status"] == "sent"


async def test_unreadable_messages_raise_a_repair_issue(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    fast_outbox: OutboxSettings,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Queued messages that cannot be restored are counted in a repair issue."""
    store = await async_get_store(hass, fast_outbox.database)
    queue = DurableQueue(store, config_entry.entry_id)
    _items, durable = queue.add([("m1", {"msgtype": "text"})], 1.0)
    await durable
    await hass.async_add_executor_job(damage_rows, store.path)
    await setup_entry(hass, config_entry)
    issue = issue_registry.async_get_issue(
        DOMAIN, f"{DingTalkNotice.OUTBOX_UNREADABLE}_{config_entry.entry_id}"
    )
    assert issue is not None
    assert issue.translation_placeholders == {"robot": "Ops", "count": "1"}
    assert config_entry.runtime_data.outbox.stats()["unreadable"] == 1


def damage_rows(path: str) -> None:
    """Overwrite every stored payload with something that is not JSON."""
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE items SET payload = '{not json'")


async def test_queue_file_is_private(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fast_outbox: OutboxSettings
) -> None:
    """Only Home Assistant's user may read the queued messages."""
    assert fast_outbox.database is not None
    await send(hass, message=KEYWORD)
    mode = (await hass.async_add_executor_job(Path(fast_outbox.database).stat)).st_mode
    assert mode & 0o077 == 0
    assert loaded_entry.state is ConfigEntryState.LOADED


async def test_no_secret_in_the_queue_file(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    fast_outbox: OutboxSettings,
    robot_emulator: Emulator,
) -> None:
    """The queue holds payloads, never the token, the secret or a signed URL."""
    assert fast_outbox.database is not None
    robot_emulator.inject_fault(TOKEN, Fault(FaultKind.RATE))
    assert (await send(hass, message=f"{KEYWORD} kept"))["status"] == "queued"
    store = hass.data[DATA_STORE]
    await store.async_flush()
    data = await hass.async_add_executor_job(read_queue_files, fast_outbox.database)
    assert f"{KEYWORD} kept".encode() in data
    assert TOKEN.encode() not in data
    assert loaded_entry.data["secret"].encode() not in data
    assert b"sign=" not in data


def read_queue_files(database: str) -> bytes:
    """Return the bytes of the queue file and its journal files."""
    return b"".join(path.read_bytes() for path in Path(database).parent.glob("*.db*"))


# ------------------------------------------------------------ error model


def test_every_policy_row_is_reachable() -> None:
    """No row is shadowed by a more general one above it (one table, in order)."""
    seen: list[type[DingTalkError]] = []
    for cls, policy in POLICIES:
        assert issubclass(cls, DingTalkError)
        assert not any(issubclass(cls, earlier) for earlier in seen), cls
        assert policy.translation_key
        seen.append(cls)
    assert seen[-1] is DingTalkError


@pytest.mark.parametrize(
    ("attempts", "streak", "expected"),
    [(1, 1, Outcome.RETRY), (8, 1, Outcome.RETRY), (9, 1, Outcome.FAIL)],
)
def test_retries_count_against_max_retries(
    attempts: int, streak: int, expected: Outcome
) -> None:
    """A transient error is retried max_retries times, then fails."""
    err = BusyError(-1, "busy")
    assert outcome_for(err, attempts=attempts, streak=streak, max_retries=8) is expected


def test_timestamp_counts_its_own_streak() -> None:
    """The clock's one re-signed retry counts consecutive refusals, then halts."""
    err = TimestampError(310000, "invalid timestamp")
    assert outcome_for(err, attempts=5, streak=1, max_retries=8) is Outcome.RETRY
    assert outcome_for(err, attempts=6, streak=2, max_retries=8) is Outcome.HALT
    # Not retryable (an HTTP 404): a RETRY row fails it at once.
    assert (
        outcome_for(DingTalkHTTPError(404), attempts=1, streak=1, max_retries=8)
        is Outcome.FAIL
    )
