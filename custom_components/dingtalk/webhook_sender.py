"""The outbox's sender for a group webhook robot, and how it combines messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .api import MAX_BODY_BYTES, serialize_payload

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .api import DingTalkClient

COMBINABLE: Final = frozenset({"text", "markdown"})
TEXT_SEPARATOR: Final = "\n\n────────\n\n"
MARKDOWN_SEPARATOR: Final = "\n\n---\n\n"
RESENT_MARK: Final = "🔁 "
"""Starts a message sent again after its first answer was lost (language-neutral)."""


class WebhookSender:
    """Send stored webhook payloads through a robot's client (msgUuid: idempotent)."""

    idempotent = True

    def __init__(self, client: DingTalkClient) -> None:
        """Wrap the robot's client."""
        self._client = client

    async def send_payload(self, payload: Mapping[str, Any]) -> None:
        """Send one payload in one request."""
        await self._client.send_payload(payload)

    def combine(
        self, payloads: Sequence[Mapping[str, Any]], key: str
    ) -> dict[str, Any] | None:
        """Return one text or markdown payload showing all, or None (see module)."""
        return combine_payloads(payloads, key)

    def mark_resent(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Return the payload with RESENT_MARK before its text."""
        return mark_resent(payload)


def combine_payloads(
    payloads: Sequence[Mapping[str, Any]], key: str, *, max_bytes: int = MAX_BODY_BYTES
) -> dict[str, Any] | None:
    """Combine text or markdown payloads of one type, in order, visibly separated.

    The bodies are joined with a separator line; the mentions (``at``) are merged,
    so everyone mentioned in any part is rung; a markdown title is the first one's
    with " (+n)". None when the types differ or are not text/markdown, or when the
    result would be over ``max_bytes``. The same payloads give the same result.
    """
    msgtypes = {payload.get("msgtype") for payload in payloads}
    if len(payloads) < 2 or len(msgtypes) != 1:  # noqa: PLR2004 - two or more
        return None
    msgtype = next(iter(msgtypes))
    if msgtype not in COMBINABLE:
        return None
    try:
        if msgtype == "text":
            body: dict[str, Any] = {
                "content": TEXT_SEPARATOR.join(
                    str(p["text"]["content"]) for p in payloads
                )
            }
        else:
            body = {
                "title": f"{payloads[0]['markdown']['title']} (+{len(payloads) - 1})",
                "text": MARKDOWN_SEPARATOR.join(
                    str(p["markdown"]["text"]) for p in payloads
                ),
            }
    except KeyError, TypeError:
        return None
    combined: dict[str, Any] = {"msgtype": msgtype, msgtype: body}
    if mentions := _merged_mentions(payloads):
        combined["at"] = mentions
    combined["msgUuid"] = key
    if len(serialize_payload(combined)) > max_bytes:
        return None
    return combined


def _merged_mentions(payloads: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Return the union of the payloads' ``at`` objects (None: nobody)."""
    mobiles: dict[str, None] = {}
    user_ids: dict[str, None] = {}
    at_all = False
    for payload in payloads:
        at = payload.get("at")
        if not isinstance(at, dict):
            continue
        mobiles.update(dict.fromkeys(at.get("atMobiles") or ()))
        user_ids.update(dict.fromkeys(at.get("atUserIds") or ()))
        at_all = at_all or bool(at.get("isAtAll"))
    if not (mobiles or user_ids or at_all):
        return None
    return {"atMobiles": list(mobiles), "atUserIds": list(user_ids), "isAtAll": at_all}


def mark_resent(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of a webhook payload with RESENT_MARK before its text."""
    marked = {**payload}
    msgtype = str(payload.get("msgtype"))
    body = payload.get(msgtype)
    field = {"text": "content", "markdown": "text", "actionCard": "text"}.get(msgtype)
    if (
        isinstance(body, dict)
        and field is not None
        and isinstance(body.get(field), str)
    ):
        marked[msgtype] = {**body, field: RESENT_MARK + body[field]}
    return marked
