"""Counters an outbox keeps for diagnostics and benchmarks (no content, no secrets)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(slots=True)
class OutboxStats:
    """What an outbox has done since it started."""

    sent: int = 0
    """Messages (parts) DingTalk accepted."""
    requests: int = 0
    failed: int = 0
    retried: int = 0
    throttled: int = 0
    dropped_expired: int = 0
    combined: int = 0
    """Messages that went out inside a combined message."""
    combined_sends: int = 0
    restored: int = 0
    """Messages found in the durable queue at start."""
    unreadable: int = 0
    """Stored messages that could not be restored (reported)."""
    resent_unsure: int = 0
    """Messages sent again, marked, after an answer was lost (no idempotency key)."""
    last_error: str | None = None
    last_delivered_at: float | None = None
    """Wall time of the last delivery."""

    def as_dict(self) -> dict[str, Any]:
        """Return the counters as plain data (times as ISO strings)."""
        data = asdict(self)
        if self.last_delivered_at is not None:
            data["last_delivered_at"] = iso(self.last_delivered_at)
        return data


def iso(wall: float) -> str:
    """Return a wall-clock time as an ISO 8601 UTC string."""
    return datetime.fromtimestamp(wall, UTC).isoformat()
