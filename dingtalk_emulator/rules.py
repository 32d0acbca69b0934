"""DingTalk's limits and the emulator's modelling choices, one constant each.

Points marked UNCONFIRMED are not knowable from public material (dingtalk-api.md §10,
§11); each is a one-line change here.
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

# -- Enterprise app robots (dingtalk-api.md §6, §11.2) -----------------------------

#: Seconds an access token from /v1.0/oauth2/accessToken lives ("expireIn", S7).
TOKEN_TTL_SECONDS: Final = 7200.0
#: A token request while the app's token is still valid answers the same token and
#: renews it for another TOKEN_TTL_SECONDS. UNCONFIRMED (Q&A pages only).
TOKEN_REUSED_WHILE_VALID: Final = True
#: Calls per app per QPS_WINDOW_SECONDS to the send, upload and lookup APIs before
#: HTTP 403 (P5: "20 QPS per app on the standard edition", UNCONFIRMED). The token
#: endpoint, connections/open and sendBySession do not count (UNCONFIRMED).
APP_QPS: Final = 20
QPS_WINDOW_SECONDS: Final = 1.0
#: batchSend: messages one app may send one person per window before the person is
#: listed in flowControlledStaffIdList. UNCONFIRMED (no public number).
PERSON_FLOW_LIMIT: Final = 20
PERSON_FLOW_WINDOW_SECONDS: Final = 60.0
#: userIds per batchSend call (S6).
MAX_BATCH_USERS: Final = 20
#: msgParam size in UTF-8 bytes (S5 states it for groupMessages/send; applied to
#: batchSend too, UNCONFIRMED).
MAX_MSG_PARAM_BYTES: Final = 15_000
#: Permissions a new app has (§11.2).
DEFAULT_PERMISSIONS: Final = frozenset(
    {"qyapi_base", "qyapi_robot_sendmsg", "qyapi_get_member_by_mobile"}
)
#: The permission each API needs (§6.2, §11.2). The token endpoint needs none
#: (UNCONFIRMED).
API_PERMISSIONS: Final = MappingProxyType(
    {
        "batchSend": "qyapi_robot_sendmsg",
        "groupMessages": "qyapi_robot_sendmsg",
        "media": "qyapi_base",
        "getbymobile": "qyapi_get_member_by_mobile",
    }
)

#: msgKey -> the msgParam keys that must be non-empty strings or numbers (S3, §6.4).
#: Which keys are optional is UNCONFIRMED: sampleLink.picUrl and sampleVideo's
#: height/width are optional here; the ActionCard2-6 key spellings are UNCONFIRMED.
MSG_PARAM_KEYS: Final = MappingProxyType(
    {
        "sampleText": ("content",),
        "sampleMarkdown": ("title", "text"),
        "sampleImageMsg": ("photoURL",),
        "sampleLink": ("text", "title", "messageUrl"),
        "sampleActionCard": ("title", "text", "singleTitle", "singleURL"),
        **{
            f"sampleActionCard{n}": (
                "title",
                "text",
                *(
                    f"{key}{i}"
                    for i in range(1, n + 1)
                    for key in ("actionTitle", "actionURL")
                ),
            )
            for n in range(2, 6)
        },
        "sampleActionCard6": (
            "title",
            "text",
            "buttonTitle1",
            "buttonUrl1",
            "buttonTitle2",
            "buttonUrl2",
        ),
        "sampleAudio": ("mediaId", "duration"),
        "sampleFile": ("mediaId", "fileName", "fileType"),
        "sampleVideo": ("duration", "videoMediaId", "videoType", "picMediaId"),
    }
)
#: msgParam keys that hold a media_id from /media/upload ("photoURL" may also be a
#: URL). An unknown media_id is delivered with an "unknown_media" notice (what
#: DingTalk does is UNCONFIRMED).
MEDIA_PARAM_KEYS: Final = ("photoURL", "mediaId", "videoMediaId", "picMediaId")
#: The <family> of "miss.param.<family>To<field>" by msgKey. Only
#: miss.param.markdownTotitle was seen (§11.2); the rest is UNCONFIRMED.
MSG_KEY_FAMILIES: Final = MappingProxyType(
    {
        "sampleText": "text",
        "sampleMarkdown": "markdown",
        "sampleImageMsg": "image",
        "sampleLink": "link",
        "sampleAudio": "audio",
        "sampleFile": "file",
        "sampleVideo": "video",
        **dict.fromkeys(
            ("sampleActionCard", *(f"sampleActionCard{n}" for n in range(2, 7))),
            "actionCard",
        ),
    }
)

#: /media/upload: type -> (max bytes, formats detected from the file's signature).
#: §11.2: image 20 MB jpg/gif/png/bmp, voice 2 MB amr/mp3/wav, video 20 MB mp4,
#: file 20 MB (any format). "MB" is read as MiB (UNCONFIRMED).
MEDIA_LIMITS: Final = MappingProxyType(
    {
        "image": (20 * 1024 * 1024, frozenset({"jpg", "gif", "png", "bmp"})),
        "voice": (2 * 1024 * 1024, frozenset({"amr", "mp3", "wav"})),
        "video": (20 * 1024 * 1024, frozenset({"mp4"})),
        "file": (20 * 1024 * 1024, None),  # None: any format
    }
)
#: The file name's extension must name an allowed format too (jpeg = jpg).
#: UNCONFIRMED whether DingTalk looks at the name.
MEDIA_EXTENSIONS: Final = MappingProxyType({"jpeg": "jpg", "jpe": "jpg"})
#: Uploaded bytes kept for GET /api/media (oldest dropped first; an emulator limit).
MEDIA_STORE_BYTES: Final = 256 * 1024 * 1024
#: Bodies of the upload endpoint may be this large before HTTP 413 (an emulator
#: limit: the largest media plus multipart overhead).
MAX_UPLOAD_HTTP_BYTES: Final = 21 * 1024 * 1024
#: A mobile number getbymobile accepts: digits, optionally "+<country>-" first.
#: UNCONFIRMED (40104 is answered for anything else).
MOBILE_PATTERN: Final = r"(\+\d{1,4}-)?\d{5,15}"

# -- Stream mode (dingtalk-api.md §7, §11.1) ---------------------------------------

#: A ticket from connections/open is valid this long (exactly 90 s passes) and once.
TICKET_TTL_SECONDS: Final = 90.0
#: Seconds of real time between SYSTEM ping frames. UNCONFIRMED (no public number).
PING_INTERVAL_SECONDS: Final = 60.0
#: Seconds of real time after a SYSTEM disconnect frame before the TCP close (S12).
DISCONNECT_GRACE_SECONDS: Final = 10.0
#: Seconds of real time before an un-ACKed callback is pushed again (§11.1: ~60 s).
ACK_TIMEOUT_SECONDS: Final = 60.0
#: Pushes after the first before an un-ACKed callback is given up. UNCONFIRMED.
MAX_REDELIVERIES: Final = 3
#: A connection that got a disconnect frame gets no further pushes (one report,
#: §11.1, UNCONFIRMED).
PUSH_AFTER_DISCONNECT: Final = False
#: ACK codes that settle a callback; any other code counts as no ACK and the
#: callback is pushed again (UNCONFIRMED for robot messages, S12 says so for events).
ACK_OK_CODES: Final = frozenset({200})
#: The topic of robot messages (S12, S13).
ROBOT_TOPIC: Final = "/v1.0/im/bot/messages/get"
#: What a disconnect frame says (observed, dingtalk-stream-sdk-python#22).
DISCONNECT_REASON: Final = "persistent connection is timeout"
#: sessionWebhookExpiredTime - createAt (both official examples: ~90 min, S12).
SESSION_TTL_SECONDS: Final = 5400.0
#: The emulated organisation's corpId (senderCorpId, chatbotCorpId).
CORP_ID: Final = "ding0emulator0corp0000000000000000"
