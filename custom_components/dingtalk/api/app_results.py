"""Read the answer of a 1:1 batch send and tell who did not get the message.

batchSend answers HTTP 200 even when some people were skipped (dingtalk-api.md
§6.3): ``invalidStaffIdList`` (unknown ids: permanent), ``flowControlledStaffIdList``
(per-person throttling: retry later) and, in some SDK versions,
``filteredStaffIdList`` (meaning UNCONFIRMED; treated like unknown ids: not retried).
Everyone else requested was delivered.

``BatchSendResult.raise_for_recipients()`` raises when anyone requested was not
delivered, whether or not others were (a partial delivery is not silent):

* someone was flow-controlled → BatchFlowControlledError (a UserFlowControlledError,
  retryable): resend to ``error.user_ids`` only, later; it wins over unknown ids so a
  retry is never skipped, and ``error.result`` still lists the unknown ones;
* otherwise someone was unknown or filtered → BatchRecipientsNotFoundError (a
  RecipientNotFoundError, permanent for those ids).

Both carry ``user_ids`` (whom the error is about) and ``result`` (the whole answer,
``result.delivered_user_ids`` included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from .errors import (
    DingTalkBadResponseError,
    RecipientNotFoundError,
    UserFlowControlledError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


def _id_list(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """Return the user ids listed under ``key`` (none if it is missing)."""
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
        isinstance(item, (str, int)) and not isinstance(item, bool) for item in value
    ):
        raise DingTalkBadResponseError(f"DingTalk's {key} is not a list of user ids")
    return tuple(str(item) for item in value)


@dataclass(frozen=True, slots=True)
class BatchSendResult:
    """Hold a batch send's answer, and the user ids it was sent to."""

    user_ids: tuple[str, ...]
    process_query_key: str | None
    invalid_user_ids: tuple[str, ...] = ()
    flow_controlled_user_ids: tuple[str, ...] = ()
    filtered_user_ids: tuple[str, ...] = ()

    @classmethod
    def from_api(cls, user_ids: Sequence[str], data: Mapping[str, Any]) -> Self:
        """Return the result of a batchSend answer (raise if it is malformed)."""
        key = data.get("processQueryKey")
        return cls(
            user_ids=tuple(user_ids),
            process_query_key=key if isinstance(key, str) and key else None,
            invalid_user_ids=_id_list(data, "invalidStaffIdList"),
            flow_controlled_user_ids=_id_list(data, "flowControlledStaffIdList"),
            filtered_user_ids=_id_list(data, "filteredStaffIdList"),
        )

    @property
    def delivered_user_ids(self) -> tuple[str, ...]:
        """Return the requested ids DingTalk did not list as skipped."""
        skipped = {
            *self.invalid_user_ids,
            *self.flow_controlled_user_ids,
            *self.filtered_user_ids,
        }
        return tuple(user_id for user_id in self.user_ids if user_id not in skipped)

    @property
    def complete(self) -> bool:
        """Return whether everyone requested was delivered."""
        return self.delivered_user_ids == self.user_ids

    def raise_for_recipients(self) -> None:
        """Raise if anyone requested was not delivered (see the module docstring)."""
        if self.flow_controlled_user_ids:
            raise BatchFlowControlledError(self)
        if self.invalid_user_ids or self.filtered_user_ids:
            raise BatchRecipientsNotFoundError(self)


def _summary(result: BatchSendResult, user_ids: tuple[str, ...], what: str) -> str:
    """Return the English message for ``user_ids`` of ``result`` (no ids: PII)."""
    delivered = len(result.delivered_user_ids)
    return (
        f"{len(user_ids)} of {len(result.user_ids)} user ids {what}; "
        f"{delivered} delivered"
    )


class BatchFlowControlledError(UserFlowControlledError):
    """Report people DingTalk throttled in a batch send: resend to them later."""

    def __init__(self, result: BatchSendResult) -> None:
        """Store the throttled ids and the whole result."""
        self.user_ids = result.flow_controlled_user_ids
        self.result = result
        super().__init__(
            "flowControlledStaffIdList",
            _summary(result, self.user_ids, "flow-controlled"),
            status=200,
        )


class BatchRecipientsNotFoundError(RecipientNotFoundError):
    """Report people DingTalk does not know (or filtered) in a batch send."""

    def __init__(self, result: BatchSendResult) -> None:
        """Store the unknown and filtered ids and the whole result."""
        self.user_ids = result.invalid_user_ids + result.filtered_user_ids
        self.result = result
        super().__init__(
            "invalidStaffIdList", _summary(result, self.user_ids, "unknown"), status=200
        )
