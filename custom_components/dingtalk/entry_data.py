"""What a robot's config entry stores, in one canonical form."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from yarl import URL

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .api import Webhook

KEYWORD_SEPARATORS: Final = re.compile(r"[,，、;；\n]")


def normalize_keywords(value: Iterable[str] | str | None) -> list[str]:
    """Split comma lists, strip blanks and duplicates, keep the order."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else [str(item) for item in value]
    words = (word.strip() for item in items for word in KEYWORD_SEPARATORS.split(item))
    return list(dict.fromkeys(word for word in words if word))


def webhook_url(webhook: Webhook) -> str:
    """Return the canonical webhook URL stored in the entry."""
    return str(URL(webhook.endpoint).with_query(access_token=webhook.access_token))
