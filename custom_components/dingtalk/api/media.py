"""Check media for the app robot's upload: type, format (by content) and size."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from .errors import InvalidMessageError, Problem

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

# The format is recognised from the content's leading bytes, never from the file
# name: a text file renamed photo.png is refused as an image. Limits and formats are
# dingtalk-api.md §11.2 (image ≤ 20 MB jpg/gif/png/bmp; voice ≤ 2 MB amr/mp3/wav;
# video ≤ 20 MB mp4; file ≤ 20 MB, any content). Whether DingTalk's "MB" is 10^6 or
# 2^20 bytes is UNCONFIRMED: the smaller (10^6) is used, so nothing we let through is
# refused for its size.

MEGABYTE: Final = 1_000_000
"""Bytes in DingTalk's "MB" (UNCONFIRMED: 10^6 is the safe reading)."""


class MediaType(StrEnum):
    """The ``type`` of a media upload."""

    IMAGE = "image"
    VOICE = "voice"
    VIDEO = "video"
    FILE = "file"


class MediaFormat(StrEnum):
    """A format recognised by its content; the value is its usual file extension."""

    JPEG = "jpg"
    PNG = "png"
    GIF = "gif"
    BMP = "bmp"
    AMR = "amr"
    MP3 = "mp3"
    WAV = "wav"
    MP4 = "mp4"


MEDIA_MAX_BYTES: Final[Mapping[MediaType, int]] = {
    MediaType.IMAGE: 20 * MEGABYTE,
    MediaType.VOICE: 2 * MEGABYTE,
    MediaType.VIDEO: 20 * MEGABYTE,
    MediaType.FILE: 20 * MEGABYTE,
}
"""DingTalk's size cap for each media type."""

MEDIA_FORMATS: Final[Mapping[MediaType, tuple[MediaFormat, ...]]] = {
    MediaType.IMAGE: (
        MediaFormat.JPEG,
        MediaFormat.PNG,
        MediaFormat.GIF,
        MediaFormat.BMP,
    ),
    MediaType.VOICE: (MediaFormat.AMR, MediaFormat.MP3, MediaFormat.WAV),
    MediaType.VIDEO: (MediaFormat.MP4,),
}
"""The formats each media type accepts (a file accepts any content)."""

MIME_TYPES: Final[Mapping[MediaFormat, str]] = {
    MediaFormat.JPEG: "image/jpeg",
    MediaFormat.PNG: "image/png",
    MediaFormat.GIF: "image/gif",
    MediaFormat.BMP: "image/bmp",
    MediaFormat.AMR: "audio/amr",
    MediaFormat.MP3: "audio/mpeg",
    MediaFormat.WAV: "audio/wav",
    MediaFormat.MP4: "video/mp4",
}
"""The Content-Type of each format's upload part."""

GENERIC_MIME_TYPE: Final = "application/octet-stream"
"""The Content-Type of an upload part whose format is not recognised."""

_EXTENSIONS: Final[Mapping[MediaFormat, frozenset[str]]] = {
    **{fmt: frozenset({fmt.value}) for fmt in MediaFormat},
    MediaFormat.JPEG: frozenset({"jpg", "jpeg"}),
}
_ALL_EXTENSIONS: Final = frozenset().union(*_EXTENSIONS.values())
# DIB header sizes of real BMP files: "BM" alone is too weak (a text "BMW ...").
_BMP_DIB_SIZES: Final = frozenset({12, 40, 52, 56, 64, 108, 124})
# ISO base media brands of MP4 video (HEIC/AVIF pictures and M4A audio also use ftyp).
_MP4_BRANDS: Final = frozenset(
    {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V "}
)
_MPEG_RESERVED_VERSION: Final = 1
_MPEG_BAD_BITRATE: Final = 15
_MPEG_RESERVED_RATE: Final = 3


def _is_bmp(head: bytes) -> bool:
    """Return whether ``head`` starts a Windows bitmap."""
    return head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_DIB_SIZES


def _is_mp3(head: bytes) -> bool:
    """Return whether ``head`` starts an MP3 file (an ID3 tag or an MPEG frame)."""
    if head.startswith(b"ID3"):
        return True
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:  # noqa: PLR2004
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    return (
        version != _MPEG_RESERVED_VERSION
        and layer != 0
        and bitrate != _MPEG_BAD_BITRATE
        and rate != _MPEG_RESERVED_RATE
    )


_SIGNATURES: Final[tuple[tuple[MediaFormat, Callable[[bytes], bool]], ...]] = (
    (MediaFormat.JPEG, lambda head: head.startswith(b"\xff\xd8\xff")),
    (MediaFormat.PNG, lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    (MediaFormat.GIF, lambda head: head[:6] in {b"GIF87a", b"GIF89a"}),
    (MediaFormat.BMP, _is_bmp),
    (MediaFormat.AMR, lambda head: head.startswith((b"#!AMR\n", b"#!AMR-WB\n"))),
    (MediaFormat.WAV, lambda head: head[:4] == b"RIFF" and head[8:12] == b"WAVE"),
    (MediaFormat.MP4, lambda head: head[4:8] == b"ftyp" and head[8:12] in _MP4_BRANDS),
    (MediaFormat.MP3, _is_mp3),
)


def detect_format(content: bytes) -> MediaFormat | None:
    """Return the format ``content`` starts with, or None if it is not recognised."""
    head = bytes(content[:32])
    for fmt, matches in _SIGNATURES:
        if matches(head):
            return fmt
    return None


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """Describe checked media: its upload type, its format (if known) and its size."""

    media_type: MediaType
    media_format: MediaFormat | None
    size: int

    @property
    def mime_type(self) -> str:
        """Return the Content-Type of the upload part."""
        if self.media_format is None:
            return GENERIC_MIME_TYPE
        return MIME_TYPES[self.media_format]


def check_media(
    content: object, media_type: MediaType | str | None = None
) -> MediaInfo:
    """Check ``content`` for ``media_type`` (None: inferred from the content).

    Raise InvalidMessageError with MEDIA_EMPTY, MEDIA_TYPE (``value``: the format
    found or "unknown", ``allowed``: the accepted formats) or MEDIA_TOO_LARGE
    (``limit``: bytes). Unrecognised content is inferred to be a file.
    """
    if not isinstance(content, (bytes, bytearray, memoryview)):
        raise InvalidMessageError(Problem.INVALID_VALUE, field="content")
    if not content:
        raise InvalidMessageError(Problem.MEDIA_EMPTY)
    media_format = detect_format(bytes(content[:32]))
    if media_type is None:
        kind = next(
            (kind for kind, fmts in MEDIA_FORMATS.items() if media_format in fmts),
            MediaType.FILE,
        )
    else:
        try:
            kind = MediaType(media_type)
        except ValueError:
            raise InvalidMessageError(
                Problem.INVALID_VALUE, field="media_type"
            ) from None
    allowed = MEDIA_FORMATS.get(kind)
    if allowed is not None and media_format not in allowed:
        raise InvalidMessageError(
            Problem.MEDIA_TYPE,
            value=media_format.value if media_format else "unknown",
            allowed=",".join(allowed),
        )
    size = len(content)
    if size > MEDIA_MAX_BYTES[kind]:
        raise InvalidMessageError(Problem.MEDIA_TOO_LARGE, limit=MEDIA_MAX_BYTES[kind])
    return MediaInfo(media_type=kind, media_format=media_format, size=size)


def upload_filename(filename: object, info: MediaInfo) -> str:
    """Return the name to upload: the base name, with the extension of the format.

    A recognised format gets its own extension, so the name never contradicts the
    content: "snapshot" becomes "snapshot.jpg", "a.png" holding a JPEG "a.jpg"; an
    unrecognised file keeps its name.
    """
    if not isinstance(filename, str):
        raise InvalidMessageError(Problem.INVALID_VALUE, field="filename")
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name or not name.isprintable():
        raise InvalidMessageError(Problem.REQUIRED, field="filename")
    if info.media_format is None:
        return name
    stem, dot, suffix = name.rpartition(".")
    if dot and stem and suffix.casefold() in _EXTENSIONS[info.media_format]:
        return name
    if dot and stem and suffix.casefold() in _ALL_EXTENSIONS:
        name = stem
    return f"{name}.{info.media_format.value}"
