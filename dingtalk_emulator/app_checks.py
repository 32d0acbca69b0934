"""The individual checks and ids of the app robot APIs, as pure functions."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import TYPE_CHECKING, Any, Final

from . import app_codes, rules

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .app_codes import OapiError

#: File signatures (magic bytes) of the media formats DingTalk accepts (§11.2).
_SIGNATURES: Final = (
    ("jpg", 0, b"\xff\xd8\xff"),
    ("png", 0, b"\x89PNG\r\n\x1a\n"),
    ("gif", 0, b"GIF87a"),
    ("gif", 0, b"GIF89a"),
    ("bmp", 0, b"BM"),
    ("amr", 0, b"#!AMR"),
    ("mp3", 0, b"ID3"),
    ("mp3", 0, b"\xff\xfb"),
    ("mp3", 0, b"\xff\xf3"),
    ("mp3", 0, b"\xff\xf2"),
    ("mp4", 4, b"ftyp"),
)
#: Content types GET /api/media answers, by detected format.
CONTENT_TYPES: Final = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "amr": "audio/amr",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "mp4": "video/mp4",
}
#: JSON keys whose values the request log never shows.
SECRET_KEYS: Final = frozenset({"appSecret", "clientSecret", "client_secret"})
_MOBILE: Final = re.compile(rules.MOBILE_PATTERN)
_URL: Final = re.compile(r"^https?://", re.IGNORECASE)


def sniff(data: bytes) -> str | None:
    """Return the media format the bytes' signature shows, or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    for name, offset, magic in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return name
    return None


def extension(filename: str) -> str:
    """Return the file name's extension, lower case, jpeg as jpg ("" if none)."""
    _, dot, ext = filename.rpartition(".")
    ext = ext.lower() if dot else ""
    return rules.MEDIA_EXTENSIONS.get(ext, ext)


def check_media(media_type: str, filename: str, data: bytes) -> OapiError | None:
    """Check an upload's type, size, file name and signature (§11.2)."""
    limits = rules.MEDIA_LIMITS.get(media_type)
    if limits is None:
        return app_codes.MEDIA_BAD_TYPE
    if not data:
        return app_codes.MEDIA_MISSING
    max_bytes, formats = limits
    if len(data) > max_bytes:
        return app_codes.MEDIA_BAD_SIZE
    if formats is not None and (
        sniff(data) not in formats or extension(filename) not in formats
    ):
        return app_codes.MEDIA_BAD_FORMAT
    return None


def json_object(body: bytes) -> dict[str, Any] | None:
    """Return the body as a JSON object, or None."""
    try:
        value = json.loads(body.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError is a ValueError too
        return None
    return value if isinstance(value, dict) else None


def parse_msg_param(raw: object) -> dict[str, Any] | None:
    """Return msgParam (a JSON *string* of an object) parsed, or None."""
    if not isinstance(raw, str):
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def missing_param(msg_key: str, param: Mapping[str, object]) -> str | None:
    """Return the first required msgParam key that is absent or blank, or None."""
    for key in rules.MSG_PARAM_KEYS[msg_key]:
        value = param.get(key)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return key
        if isinstance(value, str) and not value.strip():
            return key
    return None


def media_refs(param: Mapping[str, object]) -> list[str]:
    """Return the media_ids a msgParam refers to (photoURL only if not a URL)."""
    refs = []
    for key in rules.MEDIA_PARAM_KEYS:
        value = param.get(key)
        if isinstance(value, str) and value and not _URL.match(value):
            refs.append(value)
    return refs


def valid_mobile(mobile: object) -> bool:
    """Whether getbymobile accepts the number's form."""
    return isinstance(mobile, str) and _MOBILE.fullmatch(mobile) is not None


def mask_body(body: bytes) -> str:
    """Return a JSON body as text with every secret value replaced by "***"."""
    value = json_object(body)
    if value is None:
        return body.decode("utf-8", "replace")
    masked = {k: "***" if k in SECRET_KEYS else v for k, v in value.items()}
    return json.dumps(masked, ensure_ascii=False)


def mask(token: str | None) -> str | None:
    """Return the part of a token or session safe to show: 6 characters and "…"."""
    return None if token is None else f"{token[:6]}…"


def _digest(*parts: str) -> bytes:
    """Return a stable 16-byte digest of ``parts``."""
    joined = "\x00".join(("dingtalk-emulator", *parts))
    return hashlib.sha256(joined.encode()).digest()[:16]


def single_conversation_id(client_id: str, user_id: str) -> str:
    """Return the conversationId of a person's 1:1 chat with an app's robot."""
    return "cid" + base64.b64encode(_digest("1:1", client_id, user_id)).decode()


def dingtalk_id(kind: str, value: str) -> str:
    """Return an encrypted-looking DingTalk id (senderId, chatbotUserId)."""
    encoded = base64.b64encode(_digest(kind, value)).decode()
    return f"$:LWCP_v1:${encoded}"


def short_id(*parts: str) -> str:
    """Return 12 hex characters derived from ``parts`` (for DOM ids and appIds)."""
    return _digest(*parts).hex()[:12]
