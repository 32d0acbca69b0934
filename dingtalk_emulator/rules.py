"""DingTalk's limits and the emulator's modelling choices, one constant each.

Points marked UNCONFIRMED are not knowable from public material (dingtalk-api.md §10);
each is a one-line change here.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

#: Signed requests: |server time - timestamp| may be at most this (S2: "1 hour").
SIGN_WINDOW_SECONDS: Final = 3600.0
#: Deliveries per robot per rolling window, and the window (S1, P1).
RATE_LIMIT: Final = 20
RATE_WINDOW_SECONDS: Final = 60.0
#: How long a robot stays throttled after exceeding the rate (S1, P1).
THROTTLE_SECONDS: Final = 600.0
#: Request body limit in bytes (I2, I3).
MAX_BODY_BYTES: Final = 20_000
#: Keywords per robot (S2, P3).
MAX_KEYWORDS: Final = 10
#: How long a delivered msgUuid is remembered. UNCONFIRMED (S1 gives no number).
DEDUPE_RETENTION_SECONDS: Final = 86_400.0
#: Requests and delivered messages kept in memory (oldest dropped first).
HISTORY_LIMIT: Final = 10_000
#: Bodies larger than this never reach the checks: HTTP 413 (an emulator limit).
MAX_HTTP_BODY_BYTES: Final = 4 * 1024 * 1024

#: msgtype values the webhook accepts (S3). L1's "image" is UNCONFIRMED: rejected.
SUPPORTED_MSGTYPES: Final = frozenset(
    {"text", "markdown", "link", "actionCard", "feedCard"}
)

#: Fields scanned for a robot's keywords, by msgtype; "links[].title" means the
#: title of every element of links. UNCONFIRMED (§5: which fields DingTalk scans);
#: buttons (singleTitle, btns[].title) are not scanned. A client that puts the
#: keyword in the body (§5: "to be safe") passes whichever fields are scanned.
KEYWORD_FIELDS: Final = MappingProxyType(
    {
        "text": ("content",),
        "markdown": ("title", "text"),
        "link": ("title", "text"),
        "actionCard": ("title", "text"),
        "feedCard": ("links[].title",),
    }
)

#: The body field where "@<mobile>"/"@<userId>" must appear for a mention to ring,
#: by msgtype (S3, S4). Types not listed ignore "at". actionCard is UNCONFIRMED
#: (S3 2026 says @userId in actionCard.text works; S3/S4 list only text, markdown).
MENTION_FIELDS: Final = MappingProxyType(
    {"text": "content", "markdown": "text", "actionCard": "text"}
)

#: Keys that belong inside "at". Found at the top level (a widely copied mistake)
#: they are ignored and the request is still delivered, with a "mention_ignored"
#: notice in the request log. UNCONFIRMED: DingTalk might reject instead.
AT_KEYS: Final = ("isAtAll", "atMobiles", "atUserIds")

#: Which content types pass: application/json, with no charset or a UTF-8 one.
#: UNCONFIRMED whether DingTalk rejects another charset; modelled as 43004.
JSON_MEDIA_TYPE: Final = "application/json"
ACCEPTED_CHARSETS: Final = frozenset({"utf-8", "utf8"})
