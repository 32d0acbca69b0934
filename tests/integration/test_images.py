"""Loading a message's picture: cameras, image entities, media, files and URLs."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any, Final, override
from unittest.mock import patch

import aiohttp
from homeassistant.components import media_source
from homeassistant.components.camera import Camera
from homeassistant.components.image import ImageEntity
from homeassistant.components.media_source import PlayMedia
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    setup_test_component_platform,
)

from custom_components.dingtalk import images
from custom_components.dingtalk.const import DOMAIN
from custom_components.dingtalk.images import (
    ALLOWED_FORMATS,
    IMAGE_MAX_BYTES,
    ImageData,
    ImageSource,
    async_load_image,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.test_util.aiohttp import (
        AiohttpClientMocker,
    )

PNG: Final = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
JPEG: Final = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(40))
GIF: Final = b"GIF89a" + bytes(range(40))
BMP: Final = b"BM" + bytes(12) + (40).to_bytes(4, "little") + bytes(30)
MP4: Final = b"\x00\x00\x00\x18ftypisom" + bytes(20)
SECRET_QUERY: Final = "token=s3cr3t-T0KEN"
CAMERA_ID: Final = "camera.front_door"
IMAGE_ID: Final = "image.floor_plan"
PICTURE_URL: Final = "https://pictures.example.com/cam/now.png"


class FakeCamera(Camera):
    """A camera whose snapshot a test sets."""

    _attr_name = "Front door"
    _attr_has_entity_name = False

    def __init__(self, picture: bytes | None = JPEG) -> None:
        """Start with a JPEG snapshot."""
        super().__init__()
        self.content_type = "image/jpeg"
        self.picture = picture

    @override
    async def async_camera_image(
        self, width: int | None = None, height: int | None = None
    ) -> bytes | None:
        """Return the snapshot."""
        return self.picture


class FakeImage(ImageEntity):
    """An image entity whose picture a test sets."""

    _attr_name = "Floor plan"
    _attr_content_type = "image/png"

    def __init__(self, hass: HomeAssistant, picture: bytes | None = PNG) -> None:
        """Start with a PNG picture."""
        super().__init__(hass)
        self.picture = picture
        self._attr_image_last_updated = dt_util.utcnow()

    @override
    def image(self) -> bytes | None:
        """Return the picture."""
        return self.picture


async def set_up_entity(hass: HomeAssistant, entity: Camera | ImageEntity) -> None:
    """Set up the entity's component with the entity on a test platform."""
    domain = "camera" if isinstance(entity, Camera) else "image"
    setup_test_component_platform(hass, domain, [entity])
    assert await async_setup_component(hass, domain, {domain: {"platform": "test"}})
    await hass.async_block_till_done()


@pytest.fixture
async def camera(hass: HomeAssistant) -> FakeCamera:
    """Set up the camera component with camera.front_door."""
    await set_up_entity(hass, entity := FakeCamera())
    assert hass.states.get(CAMERA_ID) is not None
    return entity


@pytest.fixture
async def image_entity(hass: HomeAssistant) -> FakeImage:
    """Set up the image component with image.floor_plan."""
    await set_up_entity(hass, entity := FakeImage(hass))
    assert hass.states.get(IMAGE_ID) is not None
    return entity


@pytest.fixture
def allowed_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """Return a directory listed in allowlist_external_dirs."""
    folder = tmp_path / "allowed"
    folder.mkdir()
    hass.config.allowlist_external_dirs = {str(folder)}
    return folder


@pytest.fixture
async def media_dir(hass: HomeAssistant, allowed_dir: Path) -> Path:
    """Set up media_source with the allowed directory as its local media."""
    hass.config.media_dirs = {"local": str(allowed_dir)}
    assert await async_setup_component(hass, "media_source", {})
    await hass.async_block_till_done()
    return allowed_dir


@pytest.fixture
def resolved() -> Iterator[list[PlayMedia]]:
    """Make media sources resolve to the PlayMedia a test puts in the list."""
    answers: list[PlayMedia] = []

    async def resolve(_hass: HomeAssistant, _media_id: str, _player: None) -> PlayMedia:
        return answers[0]

    with patch.object(media_source, "async_resolve_media", resolve):
        yield answers


async def refused(
    hass: HomeAssistant,
    spec: str,
    key: str,
    error: type[HomeAssistantError] = ServiceValidationError,
    **kwargs: int,
) -> dict[str, str]:
    """Check that loading ``spec`` raises ``error`` with ``key``; return its values."""
    with pytest.raises(error) as info:
        await async_load_image(hass, spec, **kwargs)
    err = info.value
    assert type(err) is error
    assert err.translation_domain == DOMAIN
    assert err.translation_key == key
    return dict(err.translation_placeholders or {})


# Cameras and image entities.


@pytest.mark.usefixtures("camera")
async def test_camera_snapshot(hass: HomeAssistant) -> None:
    """A camera's snapshot is read exactly, named after the camera."""
    loaded = await async_load_image(hass, f"  {CAMERA_ID} ")
    assert loaded == ImageData(
        content=JPEG,
        content_type="image/jpeg",
        filename="front_door.jpg",
        source=ImageSource.CAMERA,
    )
    assert "content=" not in repr(loaded)
    assert loaded.source == "camera"


async def test_camera_without_snapshot(hass: HomeAssistant, camera: FakeCamera) -> None:
    """A camera that gives no picture is unavailable (not bad input)."""
    camera.picture = None
    assert await refused(
        hass, CAMERA_ID, "image_entity_unavailable", HomeAssistantError
    ) == {"entity_id": CAMERA_ID}


async def test_camera_off(hass: HomeAssistant, camera: FakeCamera) -> None:
    """A camera that is off is unavailable."""
    camera._attr_is_on = False
    assert await refused(
        hass, CAMERA_ID, "image_entity_unavailable", HomeAssistantError
    ) == {"entity_id": CAMERA_ID}


async def test_camera_snapshot_checked(hass: HomeAssistant, camera: FakeCamera) -> None:
    """A camera's bytes are checked like any: format and size."""
    camera.picture = b"<html>not a picture</html>"
    assert await refused(hass, CAMERA_ID, "image_unsupported_format") == {
        "allowed": ALLOWED_FORMATS
    }
    camera.picture = JPEG
    assert await refused(
        hass, CAMERA_ID, "image_too_large", max_bytes=len(JPEG) - 1
    ) == {"limit_mb": f"{(len(JPEG) - 1) / 1_000_000:g}"}


async def test_image_entity(hass: HomeAssistant, image_entity: FakeImage) -> None:
    """An image entity's picture is read exactly."""
    loaded = await async_load_image(hass, IMAGE_ID)
    assert loaded == ImageData(
        content=PNG,
        content_type="image/png",
        filename="floor_plan.png",
        source=ImageSource.IMAGE,
    )
    image_entity.picture = None
    assert await refused(
        hass, IMAGE_ID, "image_entity_unavailable", HomeAssistantError
    ) == {"entity_id": IMAGE_ID}


@pytest.mark.usefixtures("camera")
async def test_unknown_entities(hass: HomeAssistant) -> None:
    """Unknown cameras and image entities, and other domains, are bad input."""
    assert await refused(hass, "camera.back_door", "image_unknown_entity") == {
        "entity_id": "camera.back_door"
    }
    # The image component is not set up: its entities cannot exist.
    hass.states.async_set(IMAGE_ID, "2026-01-01T00:00:00+00:00")
    assert await refused(hass, IMAGE_ID, "image_unknown_entity") == {
        "entity_id": IMAGE_ID
    }
    hass.states.async_set("sensor.door", "on")
    assert await refused(hass, "sensor.door", "image_unsupported_entity") == {
        "entity_id": "sensor.door"
    }


# Media sources.


@pytest.mark.usefixtures("camera", "image_entity")
async def test_media_source_entities(hass: HomeAssistant) -> None:
    """A camera's or an image entity's media source item is its snapshot."""
    loaded = await async_load_image(hass, f"media-source://camera/{CAMERA_ID}")
    assert (loaded.content, loaded.source) == (JPEG, ImageSource.CAMERA)
    loaded = await async_load_image(hass, f"media-source://image/{IMAGE_ID}")
    assert (loaded.content, loaded.source) == (PNG, ImageSource.IMAGE)


async def test_media_source_local_file(hass: HomeAssistant, media_dir: Path) -> None:
    """A local media item is read from its file."""
    (media_dir / "snapshots").mkdir()
    (media_dir / "snapshots" / "porch.gif").write_bytes(GIF)
    loaded = await async_load_image(
        hass, "media-source://media_source/local/snapshots/porch.gif"
    )
    assert loaded == ImageData(
        content=GIF,
        content_type="image/gif",
        filename="porch.gif",
        source=ImageSource.MEDIA_SOURCE,
    )


async def test_media_source_refusals(hass: HomeAssistant, media_dir: Path) -> None:
    """Unknown items, items that are not pictures, and files not allowed."""
    missing = "media-source://media_source/local/../../etc/passwd"
    assert await refused(hass, missing, "image_media_not_found") == {
        "media_id": missing
    }
    unknown = "media-source://nowhere/x"
    assert await refused(hass, unknown, "image_media_not_found") == {
        "media_id": unknown
    }
    # Not an entity id: resolved by the camera media source, which does not know it.
    not_entity = "media-source://camera/front door"
    assert await refused(hass, not_entity, "image_media_not_found") == {
        "media_id": not_entity
    }
    (media_dir / "clip.mp4").write_bytes(MP4)
    assert await refused(
        hass, "media-source://media_source/local/clip.mp4", "image_not_image"
    ) == {"content_type": "video/mp4"}
    hass.config.allowlist_external_dirs = set()
    (media_dir / "a.png").write_bytes(PNG)
    assert await refused(
        hass, "media-source://media_source/local/a.png", "image_path_not_allowed"
    ) == {"path": str(media_dir / "a.png")}


async def test_media_source_not_loaded(hass: HomeAssistant) -> None:
    """Without media_source, no item resolves."""
    assert await refused(
        hass, "media-source://media_source/local/a.png", "image_media_not_found"
    ) == {"media_id": "media-source://media_source/local/a.png"}


async def test_media_source_own_relative_url(
    hass: HomeAssistant,
    resolved: list[PlayMedia],
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """A relative URL is fetched from HA's own URL with a short-lived signature."""
    hass.config.internal_url = "http://homeassistant.local:8123"
    resolved.append(PlayMedia("/api/custom_media/shot.png?size=big", "image/png"))
    aioclient_mock.get(
        "http://homeassistant.local:8123/api/custom_media/shot.png",
        content=PNG,
        headers={"Content-Type": "image/png"},
    )
    assert await async_setup_component(hass, "http", {})
    loaded = await async_load_image(hass, "media-source://custom/shot")
    assert loaded == ImageData(
        content=PNG,
        content_type="image/png",
        filename="shot.png",
        source=ImageSource.MEDIA_SOURCE,
    )
    (_method, url, _data, headers) = aioclient_mock.mock_calls[0]
    assert url.query["size"] == "big"
    assert url.query["authSig"]
    assert headers == {"Accept": "image/*"}


async def test_media_source_own_absolute_url(
    hass: HomeAssistant,
    resolved: list[PlayMedia],
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """An absolute URL of HA itself is fetched (signed); any other is refused."""
    hass.config.external_url = "https://ha.example.com"
    assert await async_setup_component(hass, "http", {})
    resolved.append(PlayMedia("https://ha.example.com/api/x/y.bmp", "image/bmp"))
    aioclient_mock.get("https://ha.example.com/api/x/y.bmp", content=BMP)
    loaded = await async_load_image(hass, "media-source://custom/y")
    assert (loaded.content, loaded.content_type, loaded.filename) == (
        BMP,
        "image/bmp",
        "y.bmp",
    )
    assert "authSig" in aioclient_mock.mock_calls[0][1].query
    resolved[0] = PlayMedia("https://cdn.example.org/y.png", "image/png")
    assert await refused(hass, "media-source://custom/y", "image_media_not_local") == {
        "media_id": "media-source://custom/y"
    }


async def test_media_source_no_own_url(
    hass: HomeAssistant, resolved: list[PlayMedia]
) -> None:
    """Without a URL of its own, HA cannot fetch a relative media URL."""
    assert await async_setup_component(hass, "http", {})
    hass.config.api = None
    resolved.append(PlayMedia("/api/x/y.png?token=abc", "image/png"))
    assert await refused(
        hass, "media-source://custom/y", "image_download_failed", HomeAssistantError
    ) == {"url": "/api/x/y.png"}


# Files.


async def test_file(hass: HomeAssistant, allowed_dir: Path) -> None:
    """An allowed file is read; its name gets the extension of its content."""
    (allowed_dir / "photo.jpg").write_bytes(PNG)
    loaded = await async_load_image(hass, str(allowed_dir / "photo.jpg"))
    assert loaded == ImageData(
        content=PNG,
        content_type="image/png",
        filename="photo.png",
        source=ImageSource.FILE,
    )
    (allowed_dir / "exact").write_bytes(JPEG)
    loaded = await async_load_image(
        hass, str(allowed_dir / "exact"), max_bytes=len(JPEG)
    )
    assert (loaded.content, loaded.filename) == (JPEG, "exact.jpg")


async def test_file_refusals(
    hass: HomeAssistant, allowed_dir: Path, tmp_path: Path
) -> None:
    """Files outside the allowed directories, missing, not regular, too large."""
    outside = tmp_path / "secret.png"
    outside.write_bytes(PNG)
    assert await refused(hass, str(outside), "image_path_not_allowed") == {
        "path": str(outside)
    }
    escape = f"{allowed_dir}/../secret.png"
    assert await refused(hass, escape, "image_path_not_allowed") == {"path": escape}
    missing = str(allowed_dir / "missing.png")
    assert await refused(hass, missing, "image_file_not_found") == {"path": missing}
    assert await refused(hass, str(allowed_dir), "image_file_not_found") == {
        "path": str(allowed_dir)
    }
    fifo = allowed_dir / "pipe"
    os.mkfifo(fifo)  # opened without blocking, refused as not a regular file
    assert await refused(hass, str(fifo), "image_file_not_found") == {"path": str(fifo)}
    (allowed_dir / "big.png").write_bytes(PNG)
    assert await refused(
        hass, str(allowed_dir / "big.png"), "image_too_large", max_bytes=10
    ) == {"limit_mb": "1e-05"}
    (allowed_dir / "empty.png").write_bytes(b"")
    assert await refused(
        hass, str(allowed_dir / "empty.png"), "image_unsupported_format"
    ) == {"allowed": "jpg, png, gif, bmp"}


async def test_file_unreadable(hass: HomeAssistant, allowed_dir: Path) -> None:
    """A file that cannot be read (permissions, I/O) is an error of the source."""
    (allowed_dir / "locked.png").write_bytes(PNG)
    path = str(allowed_dir / "locked.png")
    real_open = os.open

    def denied(name: str, flags: int, *args: int) -> int:
        if name == path:
            raise PermissionError(13, "Permission denied", name)
        return real_open(name, flags, *args)

    with patch.object(os, "open", denied):
        assert await refused(
            hass, path, "image_file_unreadable", HomeAssistantError
        ) == {"path": path}


async def test_file_read_in_executor(hass: HomeAssistant, allowed_dir: Path) -> None:
    """The allowlist check and the read run in the executor, not the event loop."""
    (allowed_dir / "a.png").write_bytes(PNG)
    jobs: list[object] = []
    real = hass.async_add_executor_job

    def spy(target: object, *args: object) -> object:
        jobs.append(target)
        return real(target, *args)  # type: ignore[arg-type] # forwards any job

    with patch.object(hass, "async_add_executor_job", spy):
        await async_load_image(hass, str(allowed_dir / "a.png"))
    assert jobs == [images._read_file]


# URLs.


async def test_url(hass: HomeAssistant, aioclient_mock: AiohttpClientMocker) -> None:
    """A URL is downloaded with HA's session; octet-stream and no type are fine."""
    aioclient_mock.get(PICTURE_URL, content=PNG, headers={"Content-Type": "image/png"})
    loaded = await async_load_image(hass, f"{PICTURE_URL}?{SECRET_QUERY}")
    assert loaded == ImageData(
        content=PNG,
        content_type="image/png",
        filename="now.png",
        source=ImageSource.URL,
    )
    aioclient_mock.clear_requests()
    aioclient_mock.get(
        "http://pictures.example.com/",
        content=GIF,
        headers={"Content-Type": "application/octet-stream"},
    )
    loaded = await async_load_image(hass, "HTTP://pictures.example.com/")
    assert (loaded.content, loaded.filename) == (GIF, "image.gif")
    aioclient_mock.clear_requests()
    aioclient_mock.get("https://pictures.example.com/%07.jpg", content=JPEG)
    loaded = await async_load_image(hass, "https://pictures.example.com/%07.jpg")
    assert (loaded.content, loaded.filename) == (JPEG, "image.jpg")


async def test_url_secrets_scrubbed(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No query, user info or fragment of a URL reaches an error or the log."""
    caplog.set_level(logging.DEBUG)
    aioclient_mock.get(PICTURE_URL, status=403)
    spec = f"https://user:pa55@pictures.example.com/cam/now.png?{SECRET_QUERY}#frag"
    placeholders = await refused(hass, spec, "image_download_http", HomeAssistantError)
    assert placeholders == {"url": PICTURE_URL, "status": "403"}
    aioclient_mock.clear_requests()
    aioclient_mock.get(
        PICTURE_URL,
        exc=aiohttp.InvalidURL(f"{PICTURE_URL}?{SECRET_QUERY}"),
    )
    assert await refused(hass, spec, "image_download_failed", HomeAssistantError) == {
        "url": PICTURE_URL
    }
    assert "s3cr3t" not in caplog.text
    assert "pa55" not in caplog.text
    assert PICTURE_URL in caplog.text


async def hang(*_args: object) -> None:
    """Answer never (the download's timeout ends it)."""
    await asyncio.sleep(10)


@pytest.mark.parametrize(
    "answer",
    [
        {"exc": aiohttp.ClientConnectionError("refused")},
        {"exc": TimeoutError()},
        {"side_effect": hang},
    ],
    ids=["connection", "timeout", "no_answer"],
)
async def test_url_download_failed(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, answer: dict[str, Any]
) -> None:
    """Connection errors and timeouts (DOWNLOAD_TIMEOUT) fail the download."""
    aioclient_mock.get(PICTURE_URL, **answer)
    with patch.object(images, "DOWNLOAD_TIMEOUT", 0.01):
        assert await refused(
            hass, PICTURE_URL, "image_download_failed", HomeAssistantError
        ) == {"url": PICTURE_URL}


async def test_url_not_a_picture(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    """An answer declared as something else, or not a picture, is refused."""
    aioclient_mock.get(
        PICTURE_URL, text="<html/>", headers={"Content-Type": "text/HTML; charset=x"}
    )
    assert await refused(hass, PICTURE_URL, "image_not_image") == {
        "content_type": "text/html"
    }
    aioclient_mock.clear_requests()
    aioclient_mock.get(PICTURE_URL, content=MP4, headers={"Content-Type": "image/png"})
    assert await refused(hass, PICTURE_URL, "image_unsupported_format") == {
        "allowed": ALLOWED_FORMATS
    }


async def test_url_too_large(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    """A declared or a streamed size over the limit stops the download."""
    aioclient_mock.get(
        PICTURE_URL, headers={"Content-Length": str(IMAGE_MAX_BYTES + 1)}
    )
    assert await refused(hass, PICTURE_URL, "image_too_large", max_bytes=10**9) == {
        "limit_mb": "20"
    }
    aioclient_mock.clear_requests()
    aioclient_mock.get(
        PICTURE_URL, content=PNG * 4000, headers={"Content-Length": "oops"}
    )
    assert await refused(hass, PICTURE_URL, "image_too_large", max_bytes=100_000) == {
        "limit_mb": "0.1"
    }


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "   ",
        "front door",
        "relative/file.png",
        "ftp://example.com/a.png",
        "http://",
        "http://example.com:99999/a.png",
        "file:///etc/passwd",
    ],
)
async def test_invalid_spec(hass: HomeAssistant, spec: str) -> None:
    """Anything else is not a picture source."""
    assert await refused(hass, spec, "image_invalid") == {}
