"""Durable, paced delivery of messages to DingTalk senders (docs/architecture.md §3).

One concern a module: ``settings`` (every knob), ``rate`` (the rolling window),
``retry`` (back-off and what an error means, from ``..policy``), ``store`` (the
durable queue, SQLite), ``queue`` (one outbox's queue over the store), ``worker``
(the sending loop), ``stats`` (counters), ``sender`` (what it sends through) and
``outbox`` (the facade the integration uses).
"""

from __future__ import annotations

from custom_components.dingtalk.policy import (
    MaybeLostError,
    MessageExpiredError,
    UnexpectedDeliveryError,
)

from .items import DeliveryResult, Status
from .outbox import (
    Outbox,
    OutboxFullError,
    OutboxNotRunningError,
    OutboxStorageError,
    Part,
)
from .rate import RateWindow
from .retry import backoff_delay, error_kind, send_delay
from .sender import Sender, UnsureDelivery
from .settings import DATA_SETTINGS, DEFAULT_SETTINGS, OutboxSettings, outbox_settings
from .store import (
    DATA_STORE,
    EVENT_RESTORE_FAILED,
    OutboxStore,
    Restored,
    StoreError,
    async_get_store,
)
from .worker import EVENT_DELIVERY_FAILED

__all__ = [
    "DATA_SETTINGS",
    "DATA_STORE",
    "DEFAULT_SETTINGS",
    "EVENT_DELIVERY_FAILED",
    "EVENT_RESTORE_FAILED",
    "DeliveryResult",
    "MaybeLostError",
    "MessageExpiredError",
    "Outbox",
    "OutboxFullError",
    "OutboxNotRunningError",
    "OutboxSettings",
    "OutboxStorageError",
    "OutboxStore",
    "Part",
    "RateWindow",
    "Restored",
    "Sender",
    "Status",
    "StoreError",
    "UnexpectedDeliveryError",
    "UnsureDelivery",
    "async_get_store",
    "backoff_delay",
    "error_kind",
    "outbox_settings",
    "send_delay",
]
