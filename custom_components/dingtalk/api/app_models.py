"""Define the app robot's own messages and AppMessage, a msgKey with its msgParam."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import json
import re
from types import MappingProxyType
from typing import Any, Final, Self
from urllib.parse import urlsplit

from .errors import InvalidMessageError, Problem
from .models import serialize_payload

MAX_MSG_PARAM_BYTES: Final = 15_000
"""DingTalk's cap on msgParam (UTF-8, compact JSON) (dingtalk-api.md §6.2)."""

MSG_KEYS: Final = frozenset(
    {
        "sampleText",
        "sampleMarkdown",
        "sampleImageMsg",
        "sampleLink",
        "sampleActionCard",
        "sampleActionCard2",
        "sampleActionCard3",
        "sampleActionCard4",
        "sampleActionCard5",
        "sampleActionCard6",
        "sampleAudio",
        "sampleFile",
        "sampleVideo",
    }
)
"""The 13 msgKey templates of dingtalk-api.md §6.4 (there is no sampleActionCard1)."""

_FILE_TYPE_RE: Final = re.compile(r"[a-z0-9]{1,16}")


def _require_text(value: object, name: str) -> str:
    """Return ``value`` if it is a non-blank string."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidMessageError(Problem.REQUIRED, field=name)
    return value


def _require_token(value: object, name: str) -> str:
    """Return a non-blank string that has no whitespace at all (an id or a URL)."""
    text = _require_text(value, name)
    if any(char.isspace() for char in text):
        raise InvalidMessageError(Problem.INVALID_VALUE, field=name)
    return text


@dataclass(frozen=True, kw_only=True, slots=True)
class Image:
    """Send a picture: an http(s) URL or the media_id of an uploaded image."""

    photo_url: str

    def __post_init__(self) -> None:
        """Require an http(s) URL with a host, or a media id (no whitespace)."""
        text = _require_token(self.photo_url, "photo_url")
        if "://" in text:
            parts = urlsplit(text)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise InvalidMessageError(Problem.INVALID_URL, field="photo_url")


@dataclass(frozen=True, kw_only=True, slots=True)
class File:
    """Send an uploaded file; ``file_type`` is its extension (e.g. "pdf", "xlsx")."""

    media_id: str
    file_name: str
    file_type: str

    def __post_init__(self) -> None:
        """Validate; normalise the type to lower case without a leading dot."""
        _require_token(self.media_id, "media_id")
        _require_text(self.file_name, "file_name")
        file_type = _require_token(self.file_type, "file_type").lstrip(".").casefold()
        # DingTalk documents xlsx, pdf, zip, rar, doc, docx; whether it takes others
        # is UNCONFIRMED, so any short extension passes.
        if not _FILE_TYPE_RE.fullmatch(file_type):
            raise InvalidMessageError(Problem.INVALID_VALUE, field="file_type")
        object.__setattr__(self, "file_type", file_type)


type AppOnlyMessage = Image | File
"""A message only app robots can send."""


@dataclass(frozen=True, slots=True)
class AppMessage:
    """Hold one app robot message: a msgKey and its msgParam (strings only).

    Validated on construction: a known msgKey, string keys and values, and msgParam
    at most MAX_MSG_PARAM_BYTES as it is sent (UTF-8 compact JSON).
    """

    msg_key: str
    msg_param: Mapping[str, str]

    def __post_init__(self) -> None:
        """Validate, and freeze msg_param as a read-only copy."""
        msg_key: object = self.msg_key
        msg_param: object = self.msg_param
        if not isinstance(msg_key, str) or msg_key not in MSG_KEYS:
            raise InvalidMessageError(Problem.INVALID_VALUE, field="msg_key")
        if not isinstance(msg_param, Mapping) or not all(
            isinstance(key, str) and isinstance(value, str)
            for key, value in msg_param.items()
        ):
            raise InvalidMessageError(Problem.INVALID_VALUE, field="msg_param")
        object.__setattr__(self, "msg_param", MappingProxyType(dict(msg_param)))
        if self.size > MAX_MSG_PARAM_BYTES:
            raise InvalidMessageError(Problem.TOO_LONG, limit=MAX_MSG_PARAM_BYTES)

    @property
    def msg_param_json(self) -> str:
        """Return msgParam as DingTalk wants it: a compact JSON string."""
        return serialize_payload(dict(self.msg_param)).decode()

    @property
    def size(self) -> int:
        """Return the size of msgParam in bytes, as it is sent."""
        return len(serialize_payload(dict(self.msg_param)))

    def to_payload(self) -> dict[str, Any]:
        """Return this message as JSON for storage."""
        return {"msgKey": self.msg_key, "msgParam": dict(self.msg_param)}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        """Return the message ``to_payload`` stored (msgParam: object or string)."""
        if not isinstance(payload, Mapping):
            raise InvalidMessageError(Problem.INVALID_VALUE, field="payload")
        msg_key: Any = payload.get("msgKey")
        msg_param: Any = payload.get("msgParam")
        if isinstance(msg_param, str):
            try:
                msg_param = json.loads(msg_param)
            except ValueError:
                raise InvalidMessageError(
                    Problem.INVALID_VALUE, field="msg_param"
                ) from None
        return cls(msg_key, msg_param)
