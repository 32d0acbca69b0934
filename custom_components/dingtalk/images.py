"""Load the picture of a message: a camera, an image entity, media, a file or a URL.

``async_load_image`` turns the ``image`` field of ``dingtalk.send_message`` into
bytes DingTalk accepts: a jpg, png, gif or bmp picture (recognised by its content)
of at most 20 MB (``api.media``). Nothing blocks the event loop (files are read in
the executor, downloads stream with a size and a time bound), and every failure is a
translated error (``image_<reason>``) whose placeholders are language-neutral. No URL
in a log line or an error keeps its user info, query or fragment (signatures and
tokens live there).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from http import HTTPStatus
import os
from pathlib import Path
import stat
from typing import TYPE_CHECKING, Final, NamedTuple

import aiohttp
from aiohttp import hdrs
from homeassistant.components import media_source
from homeassistant.components.http.auth import async_sign_path
from homeassistant.components.media_source.const import URI_SCHEME
from homeassistant.const import Platform
from homeassistant.core import split_entity_id, valid_entity_id
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.network import NoURLAvailableError, get_url, is_hass_url
from yarl import URL

from .api import MEDIA_MAX_BYTES, InvalidMessageError, MediaType, check_media
from .api.media import MEDIA_FORMATS, MEGABYTE, upload_filename
from .const import DOMAIN, LOGGER

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant
    from homeassistant.core_config import Config

    from .api import MediaInfo

IMAGE_MAX_BYTES: Final = MEDIA_MAX_BYTES[MediaType.IMAGE]
"""DingTalk's limit for a picture (20 MB); a caller may only lower it."""

SNAPSHOT_TIMEOUT: Final = 10
"""Seconds a camera or an image entity may take to give its picture."""

DOWNLOAD_TIMEOUT: Final = 30.0
"""Seconds a whole download may take (connecting, answering, every byte)."""

SIGNED_FETCH_TTL: Final = timedelta(seconds=60)
"""Lifetime of the signature on a fetch of Home Assistant's own media URL."""

CHUNK_BYTES: Final = 64 * 1024
ALLOWED_FORMATS: Final = ", ".join(MEDIA_FORMATS[MediaType.IMAGE])
"""The formats DingTalk shows, as the ``allowed`` placeholder (jpg, png, gif, bmp)."""

DEFAULT_NAME: Final = "image"
_BINARY_TYPES: Final = frozenset({"application/octet-stream", "binary/octet-stream"})
_ENTITY_SOURCES: Final = (Platform.CAMERA, Platform.IMAGE)


class ImageSource(StrEnum):
    """Where a picture was read from."""

    CAMERA = "camera"
    IMAGE = "image"
    MEDIA_SOURCE = "media_source"
    FILE = "file"
    URL = "url"


@dataclass(frozen=True, slots=True)
class ImageData:
    """A checked picture: its bytes, their type, a file name that fits, its source."""

    content: bytes = field(repr=False)
    content_type: str
    filename: str
    source: ImageSource


class _Raw(NamedTuple):
    """Bytes as read, before they are checked."""

    content: bytes
    name: str
    source: ImageSource


async def async_load_image(
    hass: HomeAssistant, spec: str, *, max_bytes: int = IMAGE_MAX_BYTES
) -> ImageData:
    """Return the picture ``spec`` names, checked; raise a translated error."""
    spec = spec.strip()
    limit = min(max_bytes, IMAGE_MAX_BYTES)
    if media_source.is_media_source_id(spec):
        raw = await _async_from_media_source(hass, spec, limit)
    elif valid_entity_id(spec):
        raw = await _async_from_entity(hass, spec)
    elif Path(spec).is_absolute():
        content = await _async_read_file(hass, spec, limit)
        raw = _Raw(content, Path(spec).name, ImageSource.FILE)
    else:
        url = _web_url(spec)
        raw = _Raw(await _async_download(hass, url, limit), url.name, ImageSource.URL)
    return _checked(raw, limit)


def _checked(raw: _Raw, limit: int) -> ImageData:
    """Check the size and the format of what was read."""
    if len(raw.content) > limit:
        raise _too_large(limit)
    try:
        info = check_media(raw.content, MediaType.IMAGE)
    except InvalidMessageError:
        raise _invalid("image_unsupported_format", allowed=ALLOWED_FORMATS) from None
    return ImageData(
        content=raw.content,
        content_type=info.mime_type,
        filename=_filename(raw.name, info),
        source=raw.source,
    )


def _filename(name: str, info: MediaInfo) -> str:
    """Return the name to upload, with the extension of the content."""
    try:
        return upload_filename(name, info)
    except InvalidMessageError:
        return upload_filename(DEFAULT_NAME, info)


def _web_url(spec: str) -> URL:
    """Return ``spec`` as an http(s) URL with a host, or raise image_invalid."""
    try:
        url = URL(spec)
    except ValueError:
        raise _invalid("image_invalid") from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise _invalid("image_invalid")
    return url


# Cameras and image entities.


async def _async_from_entity(hass: HomeAssistant, entity_id: str) -> _Raw:
    """Return a camera's snapshot or an image entity's picture."""
    domain, object_id = split_entity_id(entity_id)
    if domain not in _ENTITY_SOURCES:
        raise _invalid("image_unsupported_entity", entity_id=entity_id)
    if hass.states.get(entity_id) is None or domain not in hass.config.components:
        raise _invalid("image_unknown_entity", entity_id=entity_id)
    # Imported here: the component is loaded by now (checked above), and importing
    # camera and image at module level cost about 1.4 s for homes without them.
    try:
        if domain == Platform.CAMERA:
            from homeassistant.components import camera  # noqa: PLC0415

            snapshot = await camera.async_get_image(
                hass, entity_id, timeout=SNAPSHOT_TIMEOUT
            )
            return _Raw(snapshot.content, object_id, ImageSource.CAMERA)
        from homeassistant.components import image  # noqa: PLC0415

        picture = await image.async_get_image(hass, entity_id, timeout=SNAPSHOT_TIMEOUT)
    except HomeAssistantError as err:
        LOGGER.debug("No picture from %s: %s", entity_id, err)
        raise _failed(
            translation_key="image_entity_unavailable",
            translation_placeholders={"entity_id": entity_id},
        ) from err
    return _Raw(picture.content, object_id, ImageSource.IMAGE)


# Media sources.


async def _async_from_media_source(
    hass: HomeAssistant, media_id: str, limit: int
) -> _Raw:
    """Return the picture of a media source item."""
    # A camera's or an image entity's item is its snapshot (its media source would
    # answer a stream); a local item is read from its file; any other must resolve
    # to a URL of Home Assistant itself, fetched with a short-lived signature.
    for domain in _ENTITY_SOURCES:
        entity_id = media_id.removeprefix(f"{URI_SCHEME}{domain}/")
        if entity_id.startswith(f"{domain}.") and valid_entity_id(entity_id):
            return await _async_from_entity(hass, entity_id)
    try:
        play = await media_source.async_resolve_media(hass, media_id, None)
    except media_source.MediaSourceError as err:
        LOGGER.debug("Cannot resolve %s: %s", media_id, err)
        raise _invalid("image_media_not_found", media_id=media_id) from err
    if not play.mime_type.startswith("image/"):
        raise _invalid("image_not_image", content_type=play.mime_type)
    if play.path is not None:
        content = await _async_read_file(hass, str(play.path), limit)
        return _Raw(content, play.path.name, ImageSource.MEDIA_SOURCE)
    url = _own_url(hass, media_id, play.url)
    content = await _async_download(hass, url, limit)
    return _Raw(content, url.name, ImageSource.MEDIA_SOURCE)


def _own_url(hass: HomeAssistant, media_id: str, url: str) -> URL:
    """Return Home Assistant's own media URL, absolute and signed for a minute."""
    parsed = URL(url)
    if parsed.is_absolute():
        if not is_hass_url(hass, url):
            raise _invalid("image_media_not_local", media_id=media_id)
        base = parsed
    else:
        try:
            base = URL(get_url(hass))
        except NoURLAvailableError:
            raise _failed(
                translation_key="image_download_failed",
                translation_placeholders={"url": _scrubbed(parsed)},
            ) from None
    signed = async_sign_path(
        hass, parsed.raw_path_qs, SIGNED_FETCH_TTL, use_content_user=True
    )
    return base.join(URL(signed))


# Files.


async def _async_read_file(hass: HomeAssistant, path: str, limit: int) -> bytes:
    """Read a file under an allowed directory, in the executor."""
    return await hass.async_add_executor_job(_read_file, hass.config, path, limit)


def _read_file(config: Config, path: str, limit: int) -> bytes:
    """Read a regular file under an allowed directory (blocking: the executor)."""
    if not config.is_allowed_path(path):
        raise _invalid("image_path_not_allowed", path=path)
    try:
        # O_NONBLOCK: a FIFO does not block the open (a regular file reads the same).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise _invalid("image_file_not_found", path=path)
            with os.fdopen(fd, "rb", closefd=False) as file:
                content = file.read(limit + 1)
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise _invalid("image_file_not_found", path=path) from None
    except OSError as err:
        LOGGER.debug("Cannot read %s: %s", path, type(err).__name__)
        raise _failed(
            translation_key="image_file_unreadable",
            translation_placeholders={"path": path},
        ) from None
    if len(content) > limit:
        raise _too_large(limit)
    return content


# Downloads.


async def _async_download(hass: HomeAssistant, url: URL, limit: int) -> bytes:
    """Download a picture with HA's shared session: time and size bounded."""
    where = _scrubbed(url)
    LOGGER.debug("Downloading a picture from %s", where)
    session = async_get_clientsession(hass)
    content = bytearray()
    try:
        async with (
            asyncio.timeout(DOWNLOAD_TIMEOUT),
            session.get(url, headers={hdrs.ACCEPT: "image/*"}) as response,
        ):
            if response.status != HTTPStatus.OK:
                raise _failed(
                    translation_key="image_download_http",
                    translation_placeholders={
                        "url": where,
                        "status": str(response.status),
                    },
                )
            _check_headers(response.headers, limit)
            async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                content += chunk
                if len(content) > limit:
                    raise _too_large(limit)
    except (TimeoutError, aiohttp.ClientError) as err:
        # The error's text may hold the full URL (InvalidURL, redirects): not kept.
        LOGGER.debug("Download from %s failed: %s", where, type(err).__name__)
        raise _failed(
            translation_key="image_download_failed",
            translation_placeholders={"url": where},
        ) from None
    return bytes(content)


def _check_headers(headers: Mapping[str, str], limit: int) -> None:
    """Refuse an answer that says it is not a picture, or is too large."""
    declared = headers.get(hdrs.CONTENT_TYPE, "").partition(";")[0].strip().lower()
    if declared and not declared.startswith("image/") and declared not in _BINARY_TYPES:
        raise _invalid("image_not_image", content_type=declared)
    length = headers.get(hdrs.CONTENT_LENGTH, "")
    if length.isdigit() and int(length) > limit:
        raise _too_large(limit)


def _scrubbed(url: URL) -> str:
    """Return ``url`` without user info, query and fragment (they hold secrets)."""
    url = url.with_query(None).with_fragment(None)
    return str(url.with_user(None) if url.absolute else url)


# Errors.


def _invalid(key: str, **placeholders: str) -> ServiceValidationError:
    """Return the translated error for bad input."""
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders,
    )


def _failed(
    *, translation_key: str, translation_placeholders: dict[str, str]
) -> HomeAssistantError:
    """Return the translated error for a source that failed."""
    # Keyword arguments, as HomeAssistantError's: tests find the keys in the code.
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=translation_key,
        translation_placeholders=translation_placeholders,
    )


def _too_large(limit: int) -> ServiceValidationError:
    """Return image_too_large with the limit in DingTalk's megabytes."""
    return _invalid("image_too_large", limit_mb=f"{limit / MEGABYTE:g}")
