"""The durable queue's edges: damaged files, failing writes, combined messages kept."""

from __future__ import annotations

import asyncio
from pathlib import Path
import sqlite3
from typing import TYPE_CHECKING, Any

import pytest

from custom_components.dingtalk.api import (
    ContentRejectedError,
    DingTalkClient,
    RateLimitedError,
    Text,
    Webhook,
)
from custom_components.dingtalk.outbox import (
    OutboxSettings,
    OutboxStorageError,
    StoreError,
    async_get_store,
    outbox_settings,
)
from custom_components.dingtalk.outbox.combine import _consume as consume_write
from custom_components.dingtalk.outbox.database import open_database
from custom_components.dingtalk.outbox.queue import DurableQueue, batch_key
from custom_components.dingtalk.webhook_sender import (
    RESENT_MARK,
    TEXT_SEPARATOR,
    WebhookSender,
)

from .test_outbox_units import (
    ENTRY_ID,
    START,
    FakeClient,
    GatedSleep,
    Harness,
    idle,
    part,
    text,
    wait_until,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant

    from custom_components.dingtalk.outbox.store import OutboxStore


class RecordingClient(FakeClient):
    """A fake client that keeps every payload it sends."""

    def __init__(self, *args: Any) -> None:  # noqa: ANN401 - FakeClient's arguments
        """Start with nothing sent."""
        super().__init__(*args)
        self.payloads: list[Mapping[str, Any]] = []

    async def send_payload(self, payload: Mapping[str, Any]) -> None:
        """Record the payload, then play the script."""
        self.payloads.append(payload)
        await super().send_payload(payload)


async def store_of(hass: HomeAssistant) -> OutboxStore:
    """Return the test's durable queue."""
    return await async_get_store(hass, outbox_settings(hass).database)


# ------------------------------------------------------------ the file itself


def test_damaged_file_is_moved_aside(tmp_path: Path) -> None:
    """A file that is not SQLite is moved aside; a new one starts."""
    path = tmp_path / "queue.db"
    path.write_bytes(b"garbage" * 1000)
    conn, problem = open_database(str(path))
    conn.close()
    assert problem is not None
    assert problem.reason == "corrupt"
    assert problem.moved_to is not None
    assert Path(problem.moved_to).read_bytes().startswith(b"garbage")
    conn, again = open_database(str(path))
    conn.close()
    assert again is None


def test_unknown_schema_is_not_misread(tmp_path: Path) -> None:
    """A file of another schema version (a newer release) is set aside, not used."""
    path = tmp_path / "queue.db"
    conn, _ = open_database(str(path))
    with conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    conn.close()
    conn, problem = open_database(str(path))
    conn.close()
    assert problem is not None
    assert problem.reason == "corrupt"


def test_damaged_pages_fail_the_check(tmp_path: Path) -> None:
    """A file whose pages were overwritten fails quick_check and is set aside."""
    path = tmp_path / "queue.db"
    conn, _ = open_database(str(path))
    with conn:
        conn.executemany(
            "INSERT INTO sends (outbox, at) VALUES (?, ?)",
            [("x", float(n)) for n in range(5000)],
        )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    data[4096 * 2 : 4096 * 2 + 2048] = b"\xff" * 2048
    path.write_bytes(bytes(data))
    conn, problem = open_database(str(path))
    conn.close()
    assert problem is not None
    assert problem.reason == "corrupt"


def test_unwritable_place_keeps_the_queue_in_memory(tmp_path: Path) -> None:
    """No file can be made: the queue still works, in memory, and says so."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    conn, problem = open_database(str(blocker / "queue.db"))
    try:
        conn.execute("INSERT INTO sends (outbox, at) VALUES ('x', 1.0)")
    finally:
        conn.close()
    assert problem is not None
    assert (problem.reason, problem.moved_to) == ("unavailable", None)


def test_settings_refuse_nonsense() -> None:
    """Settings that cannot work are refused when they are made."""
    with pytest.raises(ValueError, match="rate_limit"):
        OutboxSettings(rate_limit=0)
    with pytest.raises(ValueError, match="combine_reserve"):
        OutboxSettings(combine_reserve=-1)


# ----------------------------------------------------------- failing writes


async def test_message_that_cannot_be_stored_is_refused(hass: HomeAssistant) -> None:
    """If the queue cannot be written, the call fails: nothing is sent unsaved."""
    async with Harness(hass) as h:
        with pytest.raises(OutboxStorageError) as info:
            await h.outbox.async_send([("bad", {"msgtype": "text", "x": {1, 2}})])
        assert info.value.translation_key == "queue_not_stored"
        assert h.client.calls == []
        assert (await h.outbox.async_send([text(1)])).status == "sent"


async def test_write_ahead_failure_holds_the_message(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No request goes out unless its write-ahead record is stored."""
    store = await store_of(hass)
    real_attempt = store.attempt
    failures = [StoreError("disk full")]

    def attempt(*args: Any) -> asyncio.Future[None]:  # noqa: ANN401 - attempt's arguments
        """Fail the first write-ahead record, then store as usual."""
        if failures:
            future: asyncio.Future[None] = hass.loop.create_future()
            future.set_exception(failures.pop())
            return future
        return real_attempt(*args)

    monkeypatch.setattr(store, "attempt", attempt)  # a failing disk, for this test
    async with Harness(hass, sleep_factory=GatedSleep) as h:
        assert isinstance(h.sleep, GatedSleep)
        assert (await h.outbox.async_send([text(1)])).status == "queued"
        await wait_until(lambda: h.sleep.delays == [5.0])
        assert h.client.calls == []
        h.sleep.release.set()
        await wait_until(idle(h.outbox))
        assert h.client.delivered == ["m1"]


async def test_closed_queue_reads_as_empty(hass: HomeAssistant) -> None:
    """After the file was closed, reads find nothing; closing twice is fine."""
    store = await store_of(hass)
    queue = DurableQueue(store, ENTRY_ID)
    _items, durable = queue.add([text(1)], START)
    await durable
    await store.async_close()
    await store.async_close()
    assert (await store.async_load(ENTRY_ID, 0.0)).items == []
    with pytest.raises(StoreError):
        await store.record_sends(ENTRY_ID, [START])


# --------------------------------------------------------- combined messages


def harness(hass: HomeAssistant, **tuning: Any) -> Harness:  # noqa: ANN401 - Harness tuning
    """Return a Harness that combines, near its limit at once (reserve = limit)."""
    tuning.setdefault("client_factory", RecordingClient)
    return Harness(
        hass, combine=True, rate_limit=3, combine_reserve=3, combine_delay=1.0, **tuning
    )


async def test_waiting_messages_go_out_combined(hass: HomeAssistant) -> None:
    """Near the limit, the head waits for company; same-type runs go as one."""
    async with harness(hass) as h:
        assert isinstance(h.client, RecordingClient)
        result = await h.outbox.async_send(
            [
                text(1),
                text(2),
                part_link("l"),
                text(3),
            ]
        )
        assert result.status == "queued"  # held for company: the caller is not
        await wait_until(idle(h.outbox))
        kinds = [payload["msgtype"] for payload in h.client.payloads]
        assert kinds == ["text", "link", "text"]
        first = h.client.payloads[0]
        assert first["text"]["content"] == TEXT_SEPARATOR.join(["alarm 1", "alarm 2"])
        assert first["msgUuid"] == batch_key(["m1", "m2"])
        assert h.outbox.stats()["combined"] == 2


def part_link(n: str) -> tuple[str, dict[str, Any]]:
    """Return a link message (not combinable) as the outbox queues it."""
    return (
        f"link{n}",
        {
            "msgtype": "link",
            "link": {"title": "t", "text": "x", "messageUrl": "https://example.org"},
            "msgUuid": f"link{n}",
        },
    )


async def test_refused_combined_message_is_split_again(hass: HomeAssistant) -> None:
    """DingTalk refusing a combined message: each part then goes alone."""
    async with harness(hass) as h:
        assert isinstance(h.client, RecordingClient)
        h.client.script = [ContentRejectedError(430102, "inappropriate"), None, None]
        await h.outbox.async_send([text(1), text(2)])
        await wait_until(idle(h.outbox))
        assert [p["msgUuid"] for p in h.client.payloads] == [
            batch_key(["m1", "m2"]),
            "m1",
            "m2",
        ]
        assert h.failures == []


async def test_combined_message_restored_goes_out_the_same(hass: HomeAssistant) -> None:
    """A combined request recorded but unanswered is sent again unchanged (same key)."""
    store = await store_of(hass)
    queue = DurableQueue(store, ENTRY_ID)
    items, durable = queue.add([text(1), text(2), text(3)], START)
    await durable
    key = batch_key(["m1", "m2"])
    await store.attempt(ENTRY_ID, [items[0].seq, items[1].seq], START, key)
    async with harness(hass) as h:
        assert isinstance(h.client, RecordingClient)
        await wait_until(idle(h.outbox))
        assert h.client.payloads[0]["msgUuid"] == key
        assert h.client.payloads[0]["text"]["content"] == TEXT_SEPARATOR.join(
            ["alarm 1", "alarm 2"]
        )
        assert "alarm 3" in h.client.payloads[-1]["text"]["content"]


async def test_restored_batch_that_no_longer_matches_goes_alone(
    hass: HomeAssistant,
) -> None:
    """If the parts of a stored combined message changed, they go one by one."""
    store = await store_of(hass)
    queue = DurableQueue(store, ENTRY_ID)
    items, durable = queue.add([text(1), text(2)], START)
    await durable
    await store.attempt(ENTRY_ID, [items[0].seq], START, "c-of-other-parts")
    async with harness(hass) as h:
        assert isinstance(h.client, RecordingClient)
        await wait_until(idle(h.outbox))
        assert [p["msgUuid"] for p in h.client.payloads] == ["m1", "m2"]


async def test_unsure_combined_message_is_marked(hass: HomeAssistant) -> None:
    """A combined request of a non-idempotent sender, sent again, is marked."""

    class AppLike(RecordingClient):
        """Like the app robot: no idempotency key."""

        idempotent = False

    store = await store_of(hass)
    queue = DurableQueue(store, ENTRY_ID)
    items, durable = queue.add([text(1), text(2)], START)
    await durable
    key = batch_key(["m1", "m2"])
    await store.attempt(ENTRY_ID, [item.seq for item in items], START, key)
    async with harness(hass, client_factory=AppLike) as h:
        assert isinstance(h.client, RecordingClient)
        await wait_until(idle(h.outbox))
        [payload] = h.client.payloads
        assert payload["text"]["content"].startswith(RESENT_MARK)


def test_webhook_sender_marks_like_the_module() -> None:
    """The webhook sender is idempotent; its mark is the module's."""
    client = DingTalkClient(Webhook.parse("a1b2c3d4" * 8))
    sender = WebhookSender(client)
    assert sender.idempotent
    _key, payload = part(Text(content="x", msg_uuid="u"))
    assert sender.mark_resent(payload)["text"] == {"content": f"{RESENT_MARK}x"}


def test_sqlite_is_really_used(tmp_path: Path) -> None:
    """The file is SQLite in WAL mode (what the durability argument assumes)."""
    path = tmp_path / "q.db"
    conn, _ = open_database(str(path))
    conn.close()
    check = sqlite3.connect(path)
    try:
        assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        check.close()


async def test_a_caller_that_gave_up_does_not_break_the_writer(
    hass: HomeAssistant,
) -> None:
    """A cancelled caller's write still happens (or fails) without an error."""
    store = await store_of(hass)
    kept = store.enqueue(ENTRY_ID, [(1, "m1", dict(text(1)[1]), START)])
    kept.cancel()
    failed = store.enqueue(ENTRY_ID, [(2, "m2", {"x": {1}}, START)])
    failed.cancel()
    await store.async_flush()
    assert [item.key for item in (await store.async_load(ENTRY_ID, 0.0)).items] == []
    kept = store.enqueue(ENTRY_ID, [(1, "m1", dict(text(1)[1]), START)])
    kept.cancel()
    await store.async_flush()
    assert [item.key for item in (await store.async_load(ENTRY_ID, 0.0)).items] == [
        "m1"
    ]


def test_unwatched_writes_are_consumed() -> None:
    """A write nobody awaits has its outcome retrieved, cancelled or not."""
    loop = asyncio.new_event_loop()
    try:
        failed: asyncio.Future[None] = loop.create_future()
        failed.set_exception(StoreError("disk full"))
        consume_write(failed)
        cancelled: asyncio.Future[None] = loop.create_future()
        cancelled.cancel()
        consume_write(cancelled)
    finally:
        loop.close()


async def test_drain_gives_up_when_its_budget_is_spent(hass: HomeAssistant) -> None:
    """A request that hangs past the drain budget does not hold Home Assistant."""
    async with Harness(hass, drain_budget=0.05, stop_timeout=0.01) as h:
        h.client.gate = asyncio.Event()
        assert (await h.outbox.async_send([text(1)])).status == "queued"
        await h.client.entered.wait()
        async with asyncio.timeout(1):
            await h.outbox._async_drain()
        assert h.outbox.stats()["queued"] == 1


async def test_stats_after_a_pause_ended(hass: HomeAssistant) -> None:
    """A pause that has run out is not reported, even before the worker woke."""
    async with Harness(hass, sleep_factory=GatedSleep) as h:
        assert isinstance(h.sleep, GatedSleep)
        h.client.script = [RateLimitedError(130101, "send too fast")]
        assert (await h.outbox.async_send([text(1)])).status == "queued"
        await wait_until(lambda: h.sleep.delays == [600.0])
        assert h.outbox.sleeping
        assert h.outbox.stats()["paused_reason"] == "rate_limited"
        h.clock.advance(601)
        stats = h.outbox.stats()
        assert (stats["paused_until"], stats["paused_reason"]) == (None, None)
        h.sleep.release.set()
        await wait_until(idle(h.outbox))
        assert not h.outbox.sleeping


async def test_stats_before_the_start(hass: HomeAssistant) -> None:
    """An outbox not started yet reports an empty queue and no pause."""
    h = Harness(hass)
    stats = h.outbox.stats()
    assert (stats["queued"], stats["paused_until"], stats["oldest_queued_at"]) == (
        0,
        None,
        None,
    )
    assert not h.outbox.sleeping
