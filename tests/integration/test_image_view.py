"""Pictures served to group robots under signed, expiring URLs."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus
from typing import TYPE_CHECKING, Final

from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
import pytest
from yarl import URL

from custom_components.dingtalk.const import DOMAIN
from custom_components.dingtalk.image_view import (
    DATA_PUBLISHED_IMAGES,
    MAX_PUBLISHED_BYTES,
    MAX_PUBLISHED_IMAGES,
    PublishedImages,
    async_publish_image,
)
from custom_components.dingtalk.images import ImageData, ImageSource

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

EXTERNAL_URL: Final = "https://ha.example.com:8443"
PNG: Final = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
PICTURE: Final = ImageData(
    content=PNG, content_type="image/png", filename="a.png", source=ImageSource.FILE
)
TTL: Final = timedelta(minutes=10)


def picture(size: int, name: str = "p.png") -> ImageData:
    """Return a picture of ``size`` bytes."""
    return ImageData(
        content=PNG[:size].ljust(size, b"\0"),
        content_type="image/png",
        filename=name,
        source=ImageSource.URL,
    )


@pytest.fixture
async def http(hass: HomeAssistant) -> None:
    """Set up HTTP with an https external URL."""
    hass.config.external_url = EXTERNAL_URL
    assert await async_setup_component(hass, "http", {})


def path_of(url: str) -> str:
    """Return the path and query of a published URL, as a client requests it."""
    return URL(url).raw_path_qs


@pytest.mark.usefixtures("http")
async def test_published_url_serves_the_picture(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """The signed URL serves the exact bytes without any other authentication."""
    url = await async_publish_image(hass, PICTURE, ttl=TTL)
    parsed = URL(url)
    assert str(parsed.origin()) == EXTERNAL_URL
    assert parsed.path.startswith("/api/dingtalk/image/")
    assert set(parsed.query) == {"authSig"}
    client = await hass_client_no_auth()
    response = await client.get(path_of(url))
    assert response.status == HTTPStatus.OK
    assert await response.read() == PNG
    assert response.content_type == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # The age left: the 600 s signature less the time this test took.
    cache, _, max_age = response.headers["Cache-Control"].partition(", max-age=")
    assert cache == "private"
    assert 570 <= int(max_age) <= 600


@pytest.mark.usefixtures("http")
async def test_unsigned_or_forged_requests_refused(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """Without a valid signature for this very path, nothing is served."""
    url = await async_publish_image(hass, PICTURE, ttl=TTL)
    other = await async_publish_image(hass, PICTURE, ttl=TTL)
    client = await hass_client_no_auth()
    assert (await client.get(URL(url).path)).status == HTTPStatus.UNAUTHORIZED
    forged = f"{URL(url).path}?authSig=not-a-signature"
    assert (await client.get(forged)).status == HTTPStatus.UNAUTHORIZED
    swapped = f"{URL(url).path}?authSig={URL(other).query['authSig']}"
    assert (await client.get(swapped)).status == HTTPStatus.UNAUTHORIZED


@pytest.mark.usefixtures("http")
async def test_expired_picture_refused(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """After its ttl the signature is refused, and the picture is gone."""
    url = await async_publish_image(hass, PICTURE, ttl=TTL)
    client = await hass_client_no_auth()
    assert (await client.get(path_of(url))).status == HTTPStatus.OK
    freezer.tick(TTL - timedelta(seconds=2))
    response = await client.get(path_of(url))
    assert response.status == HTTPStatus.OK
    # Whole seconds, as in the signature: 1 or 2 are left.
    assert response.headers["Cache-Control"] in {
        "private, max-age=1",
        "private, max-age=2",
    }
    freezer.tick(timedelta(seconds=3))
    assert (await client.get(path_of(url))).status == HTTPStatus.UNAUTHORIZED
    # Even an authenticated user finds nothing: the picture itself expired.
    user_client = await hass_client()
    assert (await user_client.get(URL(url).path)).status == HTTPStatus.NOT_FOUND
    assert len(hass.data[DATA_PUBLISHED_IMAGES]) == 0


@pytest.mark.usefixtures("http")
async def test_unknown_picture_not_found(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """An id that was never published is not found."""
    await async_publish_image(hass, PICTURE, ttl=TTL)
    client = await hass_client()
    response = await client.get("/api/dingtalk/image/0123456789abcdef")
    assert response.status == HTTPStatus.NOT_FOUND


@pytest.mark.usefixtures("http")
async def test_view_registered_once(hass: HomeAssistant) -> None:
    """Publishing again reuses the store and the view."""
    await async_publish_image(hass, PICTURE, ttl=TTL)
    store = hass.data[DATA_PUBLISHED_IMAGES]
    await async_publish_image(hass, PICTURE, ttl=TTL)
    assert hass.data[DATA_PUBLISHED_IMAGES] is store
    assert len(store) == 2
    routes = [
        resource
        for resource in hass.http.app.router.resources()
        if resource.canonical == "/api/dingtalk/image/{image_id}"
    ]
    assert len(routes) == 1


@pytest.mark.parametrize(
    "external_url",
    [None, "http://ha.example.com", "https://203.0.113.7"],
)
async def test_no_external_https_url(
    hass: HomeAssistant, external_url: str | None
) -> None:
    """Without an https external URL with a host name, nothing is published."""
    hass.config.internal_url = "https://ha.local"
    hass.config.external_url = external_url
    assert await async_setup_component(hass, "http", {})
    with pytest.raises(ServiceValidationError) as info:
        await async_publish_image(hass, PICTURE, ttl=TTL)
    assert info.value.translation_domain == DOMAIN
    assert info.value.translation_key == "image_no_external_url"
    assert DATA_PUBLISHED_IMAGES not in hass.data


@pytest.mark.usefixtures("http")
async def test_ttl_must_be_a_second(hass: HomeAssistant) -> None:
    """A ttl under one second is a programming error."""
    with pytest.raises(ValueError, match="ttl"):
        await async_publish_image(hass, PICTURE, ttl=timedelta(milliseconds=999))


def test_store_bounded_by_count() -> None:
    """Past the count, the oldest pictures go first."""
    store = PublishedImages(max_images=2, max_bytes=1000)
    first = store.add(picture(10), 60)
    second = store.add(picture(10), 60)
    third = store.add(picture(10), 60)
    assert store.get(first) is None
    assert store.get(second) is not None
    assert store.get(third) is not None
    assert (len(store), store.total_bytes) == (2, 20)


def test_store_bounded_by_bytes() -> None:
    """Past the bytes, the oldest pictures go until the new one fits."""
    store = PublishedImages(max_images=10, max_bytes=100)
    ids = [store.add(picture(40), 60) for _ in range(2)]
    big = store.add(picture(70), 60)
    assert [store.get(i) for i in ids] == [None, None]
    kept = store.get(big)
    assert kept is not None
    assert kept.image.content == picture(70).content
    assert store.total_bytes == 70
    with pytest.raises(ValueError, match="larger"):
        store.add(picture(101), 60)


def test_store_expiry(freezer: FrozenDateTimeFactory) -> None:
    """Expired pictures are forgotten, whatever their order."""
    store = PublishedImages()
    short = store.add(picture(10), 5)
    long = store.add(picture(10), 50)
    freezer.tick(timedelta(seconds=5))
    assert store.get(short) is None
    assert store.get(long) is not None
    assert store.total_bytes == 10


def test_default_bounds() -> None:
    """The defaults hold at least three pictures of DingTalk's largest size."""
    assert MAX_PUBLISHED_BYTES >= 3 * 20_000_000
    assert MAX_PUBLISHED_IMAGES >= 100
