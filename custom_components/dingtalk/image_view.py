"""Serve pictures to group webhook robots, which cannot upload them.

``async_publish_image`` keeps a picture in memory and returns its URL on Home
Assistant's external https address, signed with ``authSig`` for as long as the
picture is kept. The view requires authentication, which the signature gives (HA's
auth middleware checks it: path, expiry, issuer); a request without one is refused
(401), and an unknown, evicted or expired picture is not found (404). Pictures are
bounded in number and bytes (the oldest go first) and none outlives its signature.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus
import secrets
import time
from typing import TYPE_CHECKING, Final

from aiohttp import hdrs, web
from homeassistant.components.http.auth import async_sign_path
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.http import HomeAssistantView
from homeassistant.helpers.network import NoURLAvailableError, get_url
from homeassistant.util.hass_dict import HassKey

from .api.media import MEGABYTE
from .const import DOMAIN

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .images import ImageData

IMAGE_URL: Final = "/api/dingtalk/image/{image_id}"
MAX_PUBLISHED_IMAGES: Final = 256
"""Pictures kept at most (a week of snapshots at a few an hour)."""
MAX_PUBLISHED_BYTES: Final = 64 * MEGABYTE
"""Bytes kept at most: three pictures of DingTalk's 20 MB limit fit."""

DATA_PUBLISHED_IMAGES: Final[HassKey[PublishedImages]] = HassKey(
    f"{DOMAIN}_published_images"
)


@dataclass(frozen=True, slots=True)
class PublishedImage:
    """A picture being served, and when it stops (as its signature: whole seconds)."""

    image: ImageData
    expires: float


class PublishedImages:
    """Pictures served by id, bounded in number and bytes, oldest evicted first."""

    def __init__(
        self,
        *,
        max_images: int = MAX_PUBLISHED_IMAGES,
        max_bytes: int = MAX_PUBLISHED_BYTES,
    ) -> None:
        """Start empty."""
        self._max_images = max_images
        self._max_bytes = max_bytes
        self._images: OrderedDict[str, PublishedImage] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        """Return how many pictures are kept."""
        return len(self._images)

    @property
    def total_bytes(self) -> int:
        """Return the bytes of the kept pictures."""
        return self._bytes

    def add(self, image: ImageData, seconds: int) -> str:
        """Keep ``image`` for ``seconds``; return its new random id."""
        size = len(image.content)
        if size > self._max_bytes:
            raise ValueError("picture larger than the store")
        self._purge(time.time())
        while self._images and (
            len(self._images) >= self._max_images
            or self._bytes + size > self._max_bytes
        ):
            self._drop(next(iter(self._images)))
        image_id = secrets.token_hex(16)
        self._images[image_id] = PublishedImage(image, int(time.time()) + seconds)
        self._bytes += size
        return image_id

    def get(self, image_id: str) -> PublishedImage | None:
        """Return the picture with this id, if it is kept and not expired."""
        self._purge(time.time())
        return self._images.get(image_id)

    def _purge(self, now: float) -> None:
        """Forget expired pictures."""
        for image_id in [i for i, kept in self._images.items() if kept.expires <= now]:
            self._drop(image_id)

    def _drop(self, image_id: str) -> None:
        """Forget one picture."""
        self._bytes -= len(self._images.pop(image_id).image.content)


class PublishedImageView(HomeAssistantView):
    """Serve a published picture to whoever holds its signed URL."""

    url = IMAGE_URL
    name = "api:dingtalk:image"
    requires_auth = True  # a valid authSig authenticates (http/auth.py)

    def __init__(self, images: PublishedImages) -> None:
        """Serve from ``images``."""
        self._images = images

    async def get(self, request: web.Request, image_id: str) -> web.Response:  # noqa: ARG002 - the view's signature
        """Answer the picture, or 404."""
        if (kept := self._images.get(image_id)) is None:
            return web.Response(status=HTTPStatus.NOT_FOUND)
        max_age = max(0, int(kept.expires - time.time()))
        return web.Response(
            body=kept.image.content,
            content_type=kept.image.content_type,
            headers={
                hdrs.CACHE_CONTROL: f"private, max-age={max_age}",
                "X-Content-Type-Options": "nosniff",
            },
        )


async def async_publish_image(
    hass: HomeAssistant, image: ImageData, *, ttl: timedelta
) -> str:
    """Serve ``image`` for ``ttl``; return its signed URL on the external https URL."""
    # DingTalk's clients load the picture from outside: only an https external URL
    # (HA's setting or Home Assistant Cloud) with a host name will do.
    seconds = int(ttl.total_seconds())
    if seconds < 1:
        raise ValueError("ttl must be at least one second")
    try:
        base = get_url(
            hass,
            allow_internal=False,
            allow_ip=False,
            require_ssl=True,
            prefer_external=True,
        )
    except NoURLAvailableError:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="image_no_external_url"
        ) from None
    if (images := hass.data.get(DATA_PUBLISHED_IMAGES)) is None:
        images = hass.data[DATA_PUBLISHED_IMAGES] = PublishedImages()
        hass.http.register_view(PublishedImageView(images))
    path = IMAGE_URL.format(image_id=images.add(image, seconds))
    # The content user (read-only, HA's own): not the caller's login, so the URL
    # stays valid when that user logs out and says nothing about who sent it.
    signed = async_sign_path(
        hass, path, timedelta(seconds=seconds), use_content_user=True
    )
    return f"{base}{signed}"
