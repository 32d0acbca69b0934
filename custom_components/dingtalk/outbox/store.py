"""The durable queue: every outbox's messages, sends and pauses in one SQLite file.

Why SQLite (docs/architecture.md, "Durable queue"): a change costs one small
transaction whatever the queue holds, a transaction is atomic even when the power
fails mid-write, and a damaged file is detected (quick_check) instead of half-read.
Writes from every outbox are batched: whatever is submitted while a transaction runs
goes into the next one (group commit). All SQLite work and all JSON encoding run in
Home Assistant's executor, never in the event loop. ``synchronous=FULL`` makes a
commit survive a power cut, not just a killed process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
import logging
import sqlite3
import threading
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import EVENT_HOMEASSISTANT_CLOSE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import STORAGE_DIR
from homeassistant.util.hass_dict import HassKey

from custom_components.dingtalk.const import DOMAIN, DingTalkNotice

from .database import (
    SELECT_ITEMS,
    OpenProblem,
    StoredItem,
    close_database,
    decode_row,
    dumps,
    open_database,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

_LOGGER: Final = logging.getLogger(__name__)

DATABASE_NAME: Final = f"{DOMAIN}_outbox.db"
SENDS_KEPT: Final = 3600.0
"""Seconds of send history kept (the rate window needs 61)."""

DATA_STORE: Final[HassKey[OutboxStore]] = HassKey(f"{DOMAIN}_outbox_store")
EVENT_RESTORE_FAILED: Final = "dingtalk_outbox_restore_failed"
"""Fired when queued messages could not be restored (the file, or some rows)."""

type _Op = Callable[[sqlite3.Connection], None]


class StoreError(Exception):
    """The durable queue could not be written."""


@dataclass(slots=True)
class Restored:
    """What an outbox finds in the durable queue when it starts."""

    items: list[StoredItem] = field(default_factory=list)
    sends: list[float] = field(default_factory=list)
    """Wall times of recorded sends, oldest first."""
    paused_until: float | None = None
    pause_reason: str | None = None
    unreadable: int = 0
    """Rows that could not be decoded (removed, and reported by the caller)."""


class OutboxStore:
    """The durable queue of every DingTalk outbox of one Home Assistant."""

    def __init__(self, hass: HomeAssistant, path: str) -> None:
        """Remember where the file is; nothing is opened before async_open."""
        self._hass = hass
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._pending: list[tuple[list[_Op], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.problem: OpenProblem | None = None
        self._ready = asyncio.Event()
        self.transactions = 0
        self.operations = 0

    # ----------------------------------------------------------------- opening

    async def async_open(self) -> None:
        """Open (or create) the file; a damaged one is moved aside, never fatal."""
        try:
            self._conn, self.problem = await self._hass.async_add_executor_job(
                open_database, self.path
            )
        finally:
            self._ready.set()
        if self.problem is not None:
            _LOGGER.error(
                "The DingTalk message queue %s could not be read (%s)%s; messages "
                "queued before cannot be restored",
                self.path,
                self.problem.reason,
                f" and was moved to {self.problem.moved_to}"
                if self.problem.moved_to
                else "; messages are kept in memory only until it can be written",
            )

    # ---------------------------------------------------------------- writing

    def enqueue(
        self, outbox: str, items: Iterable[tuple[int, str, dict[str, Any], float]]
    ) -> asyncio.Future[None]:
        """Store new messages ``(seq, key, payload, enqueued_at)``."""
        rows = tuple(items)

        def op(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT OR REPLACE INTO items (outbox, seq, key, payload, enqueued_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (outbox, seq, key, dumps(payload), at)
                    for seq, key, payload, at in rows
                ],
            )

        return self._submit([op])

    def attempt(
        self, outbox: str, seqs: Sequence[int], at: float, batch: str | None
    ) -> asyncio.Future[None]:
        """Record, before the request, that it goes out now (the rate window too)."""
        params = [(at, batch, outbox, seq) for seq in seqs]

        def op(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE items SET attempts = attempts + 1, attempted_at = ?, batch = ?"
                " WHERE outbox = ? AND seq = ?",
                params,
            )
            conn.execute("INSERT INTO sends (outbox, at) VALUES (?, ?)", (outbox, at))
            conn.execute(
                "DELETE FROM sends WHERE outbox = ? AND at < ?",
                (outbox, at - SENDS_KEPT),
            )

        return self._submit([op])

    def settle(self, outbox: str, seqs: Sequence[int]) -> asyncio.Future[None]:
        """Record that a request failed before reaching DingTalk (no longer unsure)."""
        params = [(outbox, seq) for seq in seqs]

        def op(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE items SET attempted_at = NULL WHERE outbox = ? AND seq = ?",
                params,
            )

        return self._submit([op])

    def unbatch(self, outbox: str, seqs: Sequence[int]) -> asyncio.Future[None]:
        """Forget that messages went out combined (they go one by one now)."""
        params = [(outbox, seq) for seq in seqs]

        def op(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE items SET batch = NULL WHERE outbox = ? AND seq = ?", params
            )

        return self._submit([op])

    def remove(self, outbox: str, seqs: Sequence[int]) -> asyncio.Future[None]:
        """Forget delivered or failed messages."""
        params = [(outbox, seq) for seq in seqs]

        def op(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM items WHERE outbox = ? AND seq = ?", params)

        return self._submit([op])

    def record_sends(self, outbox: str, times: Iterable[float]) -> asyncio.Future[None]:
        """Record requests made outside the outbox (the config flow's)."""
        params = [(outbox, at) for at in times]

        def op(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT INTO sends (outbox, at) VALUES (?, ?)", params)

        return self._submit([op])

    def set_pause(
        self, outbox: str, until: float | None, reason: str = ""
    ) -> asyncio.Future[None]:
        """Store until when (wall time) the outbox must not send; None clears it."""

        def op(conn: sqlite3.Connection) -> None:
            if until is None:
                conn.execute("DELETE FROM pauses WHERE outbox = ?", (outbox,))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO pauses (outbox, until, reason)"
                    " VALUES (?, ?, ?)",
                    (outbox, until, reason),
                )

        return self._submit([op])

    def drop(self, outbox: str) -> asyncio.Future[None]:
        """Forget everything of an outbox (its entry was deleted)."""

        def op(conn: sqlite3.Connection) -> None:
            for table in ("items", "sends", "pauses"):
                conn.execute(f"DELETE FROM {table} WHERE outbox = ?", (outbox,))  # noqa: S608 - fixed table names

        return self._submit([op])

    def _submit(self, ops: list[_Op]) -> asyncio.Future[None]:
        """Queue operations for the next transaction; the future ends with it."""
        future: asyncio.Future[None] = self._hass.loop.create_future()
        self._pending.append((ops, future))
        if self._writer is None or self._writer.done():
            # A plain task: Home Assistant's shutdown waits for it (a background
            # task would be cancelled with writes still pending).
            self._writer = self._hass.async_create_task(
                self._async_write(), f"{DOMAIN} outbox writer", eager_start=False
            )
        return future

    async def async_ready(self) -> None:
        """Wait until async_open has finished (another setup may be opening it)."""
        await self._ready.wait()

    async def _async_write(self) -> None:
        """Write what is pending, one transaction per round, until nothing is."""
        await self._ready.wait()
        # One turn of the loop first: the worker woken by an enqueue submits its
        # write-ahead record in that turn, and both go in one transaction.
        await asyncio.sleep(0)
        while self._pending:
            batch, self._pending = self._pending, []
            ops = [op for ops, _ in batch for op in ops]
            try:
                await self._hass.async_add_executor_job(self._apply, ops)
            except Exception as err:  # noqa: BLE001 - every caller must get an answer
                _LOGGER.error(  # noqa: TRY400 - the reason is enough, no traceback
                    "Cannot write the DingTalk message queue: %s: %s",
                    type(err).__name__,
                    err,
                )
                failure = StoreError(str(err))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(failure)
                continue
            self.transactions += 1
            self.operations += len(ops)
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    def _apply(self, ops: list[_Op]) -> None:
        """Run operations in one transaction (executor)."""
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError("the queue is closed")
            conn.execute("BEGIN IMMEDIATE")
            try:
                for op in ops:
                    op(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # ---------------------------------------------------------------- reading

    async def async_load(self, outbox: str, sends_since: float) -> Restored:
        """Return an outbox's messages (in order), recent sends and pause."""
        await self.async_ready()
        await self.async_flush()
        return await self._hass.async_add_executor_job(self._load, outbox, sends_since)

    def _load(self, outbox: str, sends_since: float) -> Restored:
        """Read and decode an outbox's rows; drop the undecodable ones (executor)."""
        restored = Restored()
        bad: list[int] = []
        with self._lock:
            conn = self._conn
            if conn is None:
                return restored
            rows = conn.execute(SELECT_ITEMS, (outbox,)).fetchall()
            for row in rows:
                if (item := decode_row(row)) is None:
                    bad.append(row[0])
                else:
                    restored.items.append(item)
            restored.sends = [
                float(at)
                for (at,) in conn.execute(
                    "SELECT at FROM sends WHERE outbox = ? AND at > ? ORDER BY at",
                    (outbox, sends_since),
                )
            ]
            pause = conn.execute(
                "SELECT until, reason FROM pauses WHERE outbox = ?", (outbox,)
            ).fetchone()
            if pause is not None:
                restored.paused_until, restored.pause_reason = float(pause[0]), pause[1]
            if bad:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    "DELETE FROM items WHERE outbox = ? AND seq = ?",
                    [(outbox, seq) for seq in bad],
                )
                conn.execute("COMMIT")
        restored.unreadable = len(bad)
        return restored

    # ---------------------------------------------------------------- closing

    async def async_flush(self) -> None:
        """Wait until everything submitted so far is written."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def async_close(self) -> None:
        """Write what is pending and close the file."""
        await self.async_flush()
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._hass.async_add_executor_job(close_database, conn, self._lock)


async def async_get_store(hass: HomeAssistant, path: str | None) -> OutboxStore:
    """Return the shared store, opening it on first use; closed with Home Assistant."""
    if (store := hass.data.get(DATA_STORE)) is not None:
        await store.async_ready()
        return store
    store = OutboxStore(hass, path or hass.config.path(STORAGE_DIR, DATABASE_NAME))
    hass.data[DATA_STORE] = store
    await store.async_open()
    if (problem := store.problem) is not None:
        hass.bus.async_fire(
            EVENT_RESTORE_FAILED, {"reason": problem.reason, "count": None}
        )
        ir.async_create_issue(
            hass,
            DOMAIN,
            DingTalkNotice.OUTBOX_DAMAGED,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=DingTalkNotice.OUTBOX_DAMAGED,
            translation_placeholders={
                "reason": problem.reason,
                "moved_to": problem.moved_to or "-",
            },
        )

    @callback
    def _async_close(_event: Event) -> None:
        """Close the file when Home Assistant closes."""
        hass.data.pop(DATA_STORE, None)
        hass.async_create_task(store.async_close(), f"{DOMAIN} outbox close")

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_CLOSE, _async_close)
    return store
