"""The retry policy: when a failed message goes again, and what pauses its sender."""

from __future__ import annotations

from dataclasses import dataclass
import re
from typing import TYPE_CHECKING, Final

from custom_components.dingtalk.policy import (
    MaybeLostError,
    MessageExpiredError,
    Outcome,
    UnexpectedDeliveryError,
    outcome_for,
    policy_for,
)

if TYPE_CHECKING:
    from custom_components.dingtalk.api import DingTalkError

    from .items import Item
    from .rate import RateWindow
    from .settings import OutboxSettings

REASON_EXPIRED: Final = "expired"
REASON_UNEXPECTED: Final = "unexpected"
REASON_MAYBE_LOST: Final = "maybe_lost"

_MAX_BACKOFF_EXPONENT: Final = 60
_CAMEL_BOUNDARY: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def backoff_delay(retry: int, *, base: float, cap: float, jitter: float) -> float:
    """Delay before retry number `retry` (1-based): doubling, capped, half jittered."""
    exponent = min(max(retry - 1, 0), _MAX_BACKOFF_EXPONENT)
    ceiling = min(cap, base * 2.0**exponent)
    return ceiling * (0.5 + 0.5 * min(max(jitter, 0.0), 1.0))


def send_delay(
    now: float,
    *,
    paused_until: float | None,
    not_before: float,
    window: RateWindow | None,
) -> float:
    """Seconds until the head message may be sent: throttle, backoff and pace."""
    delay = max(0.0, not_before - now)
    if paused_until is not None:
        delay = max(delay, paused_until - now)
    if window is not None:
        delay = max(delay, window.delay_until_slot(now))
    return delay


def error_kind(err: BaseException) -> str:
    """Short snake_case kind of an error for events and logs (never its message)."""
    if isinstance(err, MessageExpiredError):
        return REASON_EXPIRED
    if isinstance(err, UnexpectedDeliveryError):
        return REASON_UNEXPECTED
    if isinstance(err, MaybeLostError):
        return REASON_MAYBE_LOST
    name = type(err).__name__.removeprefix("DingTalk").removesuffix("Error")
    return _CAMEL_BOUNDARY.sub("_", name).lower() or "error"


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with the head after a failed try."""

    outcome: Outcome
    retry_at: float = 0.0
    """RETRY: the clock time before which the message must not go again."""


def decide(
    err: DingTalkError, item: Item, settings: OutboxSettings, now: float
) -> Decision:
    """Count the failure on ``item`` and decide (policy.POLICIES) what follows."""
    kind = error_kind(err)
    item.streak = item.streak + 1 if item.last_error == kind else 1
    item.last_error = kind
    item.attempts += 1
    outcome = outcome_for(
        err,
        attempts=item.attempts,
        streak=item.streak,
        max_retries=settings.max_retries,
    )
    if outcome is not Outcome.RETRY:
        return Decision(outcome)
    if not policy_for(err).backoff:
        return Decision(outcome, now)
    delay = backoff_delay(
        item.attempts,
        base=settings.retry_base,
        cap=settings.retry_max_delay,
        jitter=settings.jitter(),
    )
    return Decision(outcome, now + delay)
