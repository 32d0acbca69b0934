"""Recognise media by content and check type and size before any upload."""

from __future__ import annotations

import pytest

from custom_components.dingtalk.api.errors import InvalidMessageError, Problem
from custom_components.dingtalk.api.media import (
    GENERIC_MIME_TYPE,
    MEDIA_MAX_BYTES,
    MediaFormat,
    MediaInfo,
    MediaType,
    check_media,
    detect_format,
    upload_filename,
)

from .app_fakes import (
    AMR,
    AMR_WB,
    BMP,
    GIF,
    JPEG,
    MP3_FRAME,
    MP3_ID3,
    MP4,
    PNG,
    TEXT,
    WAV,
)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (PNG, MediaFormat.PNG),
        (JPEG, MediaFormat.JPEG),
        (GIF, MediaFormat.GIF),
        (b"GIF87a" + bytes(10), MediaFormat.GIF),
        (BMP, MediaFormat.BMP),
        (AMR, MediaFormat.AMR),
        (AMR_WB, MediaFormat.AMR),
        (MP3_FRAME, MediaFormat.MP3),
        (MP3_ID3, MediaFormat.MP3),
        (WAV, MediaFormat.WAV),
        (MP4, MediaFormat.MP4),
        (TEXT, None),
        (b"BMW is a car brand, not a bitmap at all", None),
        (b"RIFF\x00\x00\x00\x00AVI LIST", None),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", None),  # a HEIC picture
        (b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00", None),  # M4A audio
        (b"\xff", None),
        (b"\xff\xe8\x90\x00", None),  # reserved MPEG version
        (b"\xff\xf9\x90\x00", None),  # reserved layer
        (b"\xff\xfb\xf0\x00", None),  # bad bitrate index
        (b"\xff\xfb\x9c\x00", None),  # reserved sample rate
        (b"\xff\x10\x00\x00", None),  # no frame sync
        (b"", None),
    ],
)
def test_detect_format(content: bytes, expected: MediaFormat | None) -> None:
    """Recognise each format from its leading bytes only."""
    assert detect_format(content) is expected


@pytest.mark.parametrize(
    ("content", "media_format", "media_type"),
    [
        (PNG, MediaFormat.PNG, MediaType.IMAGE),
        (JPEG, MediaFormat.JPEG, MediaType.IMAGE),
        (GIF, MediaFormat.GIF, MediaType.IMAGE),
        (BMP, MediaFormat.BMP, MediaType.IMAGE),
        (AMR, MediaFormat.AMR, MediaType.VOICE),
        (MP3_FRAME, MediaFormat.MP3, MediaType.VOICE),
        (WAV, MediaFormat.WAV, MediaType.VOICE),
        (MP4, MediaFormat.MP4, MediaType.VIDEO),
        (TEXT, None, MediaType.FILE),
    ],
)
def test_check_media_infers_the_type(
    content: bytes, media_format: MediaFormat | None, media_type: MediaType
) -> None:
    """Infer the upload type from the content when none is given."""
    assert check_media(content) == MediaInfo(media_type, media_format, len(content))


def test_check_media_with_a_type() -> None:
    """Accept a matching type, as an enum or its string, and any content as a file."""
    assert check_media(PNG, MediaType.IMAGE).media_type is MediaType.IMAGE
    assert check_media(bytearray(JPEG), "image").media_format is MediaFormat.JPEG
    assert check_media(memoryview(PNG), MediaType.FILE).media_type is MediaType.FILE
    assert check_media(TEXT, MediaType.FILE).media_format is None


def test_renamed_text_file_is_not_an_image() -> None:
    """Refuse a text file as an image, whatever its name says."""
    with pytest.raises(InvalidMessageError) as excinfo:
        check_media(TEXT, MediaType.IMAGE)
    assert excinfo.value.problem is Problem.MEDIA_TYPE
    assert excinfo.value.params == {"value": "unknown", "allowed": "jpg,png,gif,bmp"}


def test_wrong_format_for_the_type() -> None:
    """Refuse a picture as voice, and name the format found."""
    with pytest.raises(InvalidMessageError) as excinfo:
        check_media(PNG, MediaType.VOICE)
    assert excinfo.value.problem is Problem.MEDIA_TYPE
    assert excinfo.value.params == {"value": "png", "allowed": "amr,mp3,wav"}
    with pytest.raises(InvalidMessageError) as excinfo:
        check_media(MP3_FRAME, MediaType.VIDEO)
    assert excinfo.value.params == {"value": "mp3", "allowed": "mp4"}


def test_empty_media() -> None:
    """Refuse empty content."""
    with pytest.raises(InvalidMessageError) as excinfo:
        check_media(b"", MediaType.IMAGE)
    assert excinfo.value.problem is Problem.MEDIA_EMPTY


@pytest.mark.parametrize(
    ("content", "media_type", "limit"),
    [
        (MP3_FRAME, MediaType.VOICE, 2_000_000),
        (PNG, MediaType.IMAGE, 20_000_000),
        (MP4, MediaType.VIDEO, 20_000_000),
        (TEXT, MediaType.FILE, 20_000_000),
    ],
)
def test_too_large(content: bytes, media_type: MediaType, limit: int) -> None:
    """Refuse content one byte over the type's limit; accept it at the limit."""
    assert MEDIA_MAX_BYTES[media_type] == limit
    at_limit = content + bytes(limit - len(content))
    assert check_media(at_limit, media_type).size == limit
    with pytest.raises(InvalidMessageError) as excinfo:
        check_media(at_limit + b"\x00", media_type)
    assert excinfo.value.problem is Problem.MEDIA_TOO_LARGE
    assert excinfo.value.params == {"limit": limit}


@pytest.mark.parametrize(
    ("content", "media_type", "field"),
    [("text", None, "content"), (None, None, "content"), (PNG, "photo", "media_type")],
)
def test_invalid_arguments(content: object, media_type: object, field: str) -> None:
    """Refuse content that is not bytes and an unknown media type."""
    with pytest.raises(InvalidMessageError) as excinfo:
        check_media(content, media_type)  # type: ignore[arg-type]  # on purpose
    assert excinfo.value.problem is Problem.INVALID_VALUE
    assert excinfo.value.field == field


def test_mime_type() -> None:
    """Give each recognised format its Content-Type, anything else a generic one."""
    assert check_media(JPEG).mime_type == "image/jpeg"
    assert check_media(MP4).mime_type == "video/mp4"
    assert check_media(TEXT).mime_type == GENERIC_MIME_TYPE


@pytest.mark.parametrize(
    ("filename", "content", "expected"),
    [
        ("snapshot", JPEG, "snapshot.jpg"),
        ("cam.JPEG", JPEG, "cam.JPEG"),
        ("cam.jpg", JPEG, "cam.jpg"),
        ("a.png", JPEG, "a.jpg"),
        ("archive.tar", PNG, "archive.tar.png"),
        (".png", PNG, ".png.png"),
        ("/config/www/x.png", PNG, "x.png"),
        ("C:\\temp\\y.gif", GIF, "y.gif"),
        ("  voice  ", AMR, "voice.amr"),
        ("report.txt", TEXT, "report.txt"),
        ("数据.xlsx", TEXT, "数据.xlsx"),
    ],
)
def test_upload_filename(filename: str, content: bytes, expected: str) -> None:
    """Use the base name, with the extension of the recognised format."""
    assert upload_filename(filename, check_media(content)) == expected


@pytest.mark.parametrize(
    ("filename", "problem"),
    [
        ("", Problem.REQUIRED),
        ("dir/", Problem.REQUIRED),
        ("a\x00.png", Problem.REQUIRED),
        (None, Problem.INVALID_VALUE),
    ],
)
def test_upload_filename_refused(filename: object, problem: Problem) -> None:
    """Refuse a missing, empty or unprintable name."""
    with pytest.raises(InvalidMessageError) as excinfo:
        upload_filename(filename, check_media(PNG))
    assert excinfo.value.problem is problem
    assert excinfo.value.field == "filename"
