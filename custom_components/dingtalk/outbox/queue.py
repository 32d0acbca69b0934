"""An outbox's queue: in memory in order, and in the durable store before it counts."""

from __future__ import annotations

from collections import deque
import contextlib
import hashlib
import logging
from typing import TYPE_CHECKING, Any, Final

from homeassistant.helpers.storage import Store

from custom_components.dingtalk.const import DOMAIN

from .items import Item
from .store import Restored, StoreError

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Iterator, Mapping, Sequence

    from homeassistant.core import HomeAssistant

    from .database import StoredItem
    from .store import OutboxStore

_LOGGER: Final = logging.getLogger(__name__)

LEGACY_STORAGE_VERSION: Final = 1
LEGACY_STORAGE_PREFIX: Final = f"{DOMAIN}.outbox"
"""The JSON store of earlier versions (.storage/dingtalk.outbox.<entry id>)."""


def batch_key(keys: Sequence[str]) -> str:
    """Return the idempotency key of a combined message (same parts, same key)."""
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()
    return f"c{digest[:31]}"


class DurableQueue:
    """The messages of one outbox, oldest first; every change also goes to the store."""

    def __init__(self, store: OutboxStore, outbox_id: str) -> None:
        """Start empty; async_restore fills it."""
        self._store = store
        self._id = outbox_id
        self._items: deque[Item] = deque()
        self._next_seq = 1

    def __len__(self) -> int:
        """Return how many messages wait."""
        return len(self._items)

    def __iter__(self) -> Iterator[Item]:
        """Iterate oldest first."""
        return iter(self._items)

    @property
    def head(self) -> Item | None:
        """Return the oldest message, if any."""
        return self._items[0] if self._items else None

    async def async_restore(self, sends_since: float) -> Restored:
        """Load what the store holds for this outbox (after a restart or a crash)."""
        restored = await self._store.async_load(self._id, sends_since)
        for stored in restored.items:
            self._items.append(_item(stored))
        if self._items:
            self._next_seq = self._items[-1].seq + 1
        return restored

    async def async_import_legacy(self, hass: HomeAssistant) -> Restored | None:
        """Move the queue of an earlier version's JSON store into this one."""
        legacy: Store[dict[str, Any]] = Store(
            hass, LEGACY_STORAGE_VERSION, f"{LEGACY_STORAGE_PREFIX}.{self._id}"
        )
        data: object = await legacy.async_load()
        if data is None:
            return None
        fields = data if isinstance(data, dict) else {}
        restored = Restored()
        rows: list[tuple[int, str, dict[str, Any], float]] = []
        for raw in _list(fields.get("messages")):
            payload = raw.get("payload") if isinstance(raw, dict) else None
            at = raw.get("enqueued_at") if isinstance(raw, dict) else None
            if not isinstance(payload, dict) or not isinstance(at, int | float):
                restored.unreadable += 1
                continue
            item = Item(
                seq=self._next_seq,
                key=str(payload.get("msgUuid", "")),
                payload=payload,
                enqueued_at=float(at),
            )
            self._next_seq += 1
            self._items.append(item)
            rows.append((item.seq, item.key, item.payload, item.enqueued_at))
        restored.sends = sorted(
            float(at)
            for at in _list(fields.get("recent_sends"))
            if isinstance(at, int | float)
        )
        paused = fields.get("paused_until")
        restored.paused_until = (
            float(paused) if isinstance(paused, int | float) else None
        )
        await self._store.enqueue(self._id, rows)
        await self._store.record_sends(self._id, restored.sends)
        await legacy.async_remove()
        _LOGGER.info(
            "Moved %d queued DingTalk message(s) of %s to the new queue",
            len(rows),
            self._id,
        )
        return restored

    def add(
        self, parts: Sequence[tuple[str, Mapping[str, Any]]], enqueued_at: float
    ) -> tuple[list[Item], asyncio.Future[None]]:
        """Append messages; the future ends when the store has them."""
        items: list[Item] = []
        for key, payload in parts:
            items.append(
                Item(
                    seq=self._next_seq,
                    key=key,
                    payload=dict(payload),
                    enqueued_at=enqueued_at,
                )
            )
            self._next_seq += 1
        self._items.extend(items)
        durable = self._store.enqueue(
            self._id, [(i.seq, i.key, i.payload, i.enqueued_at) for i in items]
        )
        return items, durable

    def discard(self, items: Sequence[Item]) -> None:
        """Drop messages from memory only (the store refused them)."""
        doomed = {id(item) for item in items}
        # Delivered messages are the head: pop them rather than rebuild the deque.
        while self._items and doomed and id(self._items[0]) in doomed:
            doomed.discard(id(self._items.popleft()))
        if doomed:
            self._items = deque(i for i in self._items if id(i) not in doomed)

    def leading(self, limit: int) -> list[Item]:
        """Return up to ``limit`` messages from the head."""
        return [item for _, item in zip(range(limit), self._items, strict=False)]

    def attempt(
        self, items: Sequence[Item], at: float, batch: str | None
    ) -> asyncio.Future[None]:
        """Record in the store that ``items`` go out now (before the request)."""
        for item in items:
            item.batch = batch
        return self._store.attempt(self._id, [item.seq for item in items], at, batch)

    def settle(self, items: Sequence[Item]) -> asyncio.Future[None]:
        """Record that the last request surely did not reach DingTalk."""
        return self._store.settle(self._id, [item.seq for item in items])

    def unbatch(self, items: Sequence[Item]) -> asyncio.Future[None]:
        """Send ``items`` one by one from now on."""
        for item in items:
            item.batch = None
            item.single = True
        return self._store.unbatch(self._id, [item.seq for item in items])

    async def async_done(self, items: Sequence[Item]) -> None:
        """Forget messages that are done: in the store, then in memory.

        Delivered messages leave memory only once that is stored, so "sent" is never
        answered for a message a crash could send again (failed ones are discarded
        from memory first, by the caller). The worker sends nothing while it waits
        here. A store that fails has logged it: a restart tries them again.
        """
        with contextlib.suppress(StoreError):
            await self._store.remove(self._id, [item.seq for item in items])
        self.discard(items)

    def record_sends(self, times: Sequence[float]) -> asyncio.Future[None]:
        """Record requests made outside the outbox (the config flow's)."""
        return self._store.record_sends(self._id, times)

    def set_pause(self, until: float | None, reason: str = "") -> asyncio.Future[None]:
        """Store the throttle pause (wall time); None clears it."""
        return self._store.set_pause(self._id, until, reason)


def _item(stored: StoredItem) -> Item:
    """Rebuild an in-memory message from its stored form."""
    return Item(
        seq=stored.seq,
        key=stored.key,
        payload=stored.payload,
        enqueued_at=stored.enqueued_at,
        attempts=stored.attempts,
        maybe_sent=stored.attempted,
        batch=stored.batch,
    )


def _list(value: object) -> list[object]:
    """Return a stored list, or an empty one for anything else."""
    return value if isinstance(value, list) else []
