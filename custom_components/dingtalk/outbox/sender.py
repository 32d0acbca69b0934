"""What an outbox sends through: a webhook robot, an app recipient, anything else."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


class Sender(Protocol):
    """Deliver stored payloads; the outbox owns order, pacing, retries and storage."""

    @property
    def idempotent(self) -> bool:
        """Whether sending a payload twice delivers it once (the webhook's msgUuid)."""

    async def send_payload(self, payload: Mapping[str, Any]) -> None:
        """Send one payload in one request; raise a DingTalkError unless accepted."""

    def combine(
        self, payloads: Sequence[Mapping[str, Any]], key: str
    ) -> dict[str, Any] | None:
        """Return one payload (idempotency key ``key``) showing all, or None."""

    def mark_resent(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Return the payload visibly marked as possibly sent before."""


class UnsureDelivery(StrEnum):
    """What a non-idempotent sender does when an answer is lost after sending."""

    RESEND = "resend"
    """Send it again, marked as possibly a duplicate (never a silent duplicate)."""
    REPORT = "report"
    """Do not send it again; report it as possibly lost (never a silent loss)."""
