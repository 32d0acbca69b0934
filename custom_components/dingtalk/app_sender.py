"""The outbox's sender for an app's person or group, and how it combines messages.

The app APIs have no idempotency key (no msgUuid): ``idempotent`` is False, so the
outbox marks a message it sends again after a lost answer, or reports it as
possibly lost, as the app's option says (outbox.sender.UnsureDelivery).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .api import AppMessage, InvalidMessageError
from .runtime import TargetKind
from .webhook_sender import MARKDOWN_SEPARATOR, RESENT_MARK, TEXT_SEPARATOR

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .api import DingTalkAppClient

TEXT_FIELDS: Final = {"sampleText": "content", "sampleMarkdown": "text"}
"""The msgParam field holding the text, for the templates that are combined/marked."""


class AppSender:
    """Send stored app messages to one person or one group."""

    idempotent = False

    def __init__(self, client: DingTalkAppClient, kind: TargetKind, to: str) -> None:
        """Send to the person ``to`` (a user id) or the group ``to`` (its id)."""
        self._client = client
        self._kind = kind
        self._to = to

    async def send_payload(self, payload: Mapping[str, Any]) -> None:
        """Send one stored message; a person not reached raises (retry or fail)."""
        message = AppMessage.from_payload(payload)
        if self._kind is TargetKind.PERSON:
            result = await self._client.async_send_to_users([self._to], message)
            result.raise_for_recipients()
        else:
            await self._client.async_send_to_group(self._to, message)

    def combine(
        self, payloads: Sequence[Mapping[str, Any]], _key: str
    ) -> dict[str, Any] | None:
        """Return one sampleText or sampleMarkdown showing all, in order, or None.

        Joined with a separator line; a markdown title is the first one's with
        " (+n)". None when the templates differ or are not these two, or when the
        result would be over the msgParam limit. (The key is the outbox's: the app
        APIs have no idempotency key to put it in.)
        """
        keys = {payload.get("msgKey") for payload in payloads}
        if len(payloads) < 2 or len(keys) != 1:  # noqa: PLR2004 - two or more
            return None
        msg_key = str(next(iter(keys)))
        field = TEXT_FIELDS.get(msg_key)
        if field is None:
            return None
        try:
            params = [dict(AppMessage.from_payload(p).msg_param) for p in payloads]
            separator = (
                TEXT_SEPARATOR if msg_key == "sampleText" else MARKDOWN_SEPARATOR
            )
            combined = dict(params[0])
            combined[field] = separator.join(param[field] for param in params)
            if msg_key == "sampleMarkdown":
                combined["title"] = f"{params[0]['title']} (+{len(params) - 1})"
            return AppMessage(msg_key, combined).to_payload()
        except InvalidMessageError, KeyError:
            return None

    def mark_resent(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Return the payload with RESENT_MARK before its text (text and markdown)."""
        params = dict(payload.get("msgParam") or {})
        field = TEXT_FIELDS.get(str(payload.get("msgKey")))
        if field is not None and isinstance(params.get(field), str):
            params[field] = RESENT_MARK + params[field]
        return {**payload, "msgParam": params}
