"""Build an action's message for a target, with its picture where DingTalk gets it.

An app robot uploads the picture and shows it inline (an image message, or inside
markdown). A group webhook robot cannot upload: Home Assistant serves the picture
under a signed, expiring path on its external URL, and the message shows that URL.
The picture is loaded once per action, whatever the number of targets.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Final

from .api import DingTalkError, MediaType
from .delivery import async_failed, error_to_ha
from .image_view import async_publish_image
from .images import async_load_image
from .runtime import TargetKind

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

    from .api import DingTalkAppClient
    from .compose import DingTalkRequest
    from .images import ImageData
    from .runtime import Sendable, Target

PUBLISHED_IMAGE_TTL: Final = timedelta(days=7)
"""How long a robot's picture stays served: DingTalk's clients load it when they show
the message, not once when it is sent (UNCONFIRMED), so it outlives a queued send and
a few days of scrolling back."""


async def async_load_request_image(
    hass: HomeAssistant, request: DingTalkRequest
) -> ImageData | None:
    """Load the request's picture (camera, image entity, media, file or URL)."""
    if request.image is None:
        return None
    return await async_load_image(hass, request.image)


async def async_image_ref(hass: HomeAssistant, target: Target, image: ImageData) -> str:
    """Return how ``target`` refers to the picture: a media id, or a served URL."""
    if target.kind is TargetKind.ROBOT or target.app is None:
        return await async_publish_image(hass, image, ttl=PUBLISHED_IMAGE_TTL)
    return await async_upload_image(
        hass, target.app, image, entry=target.entry, key=target.key, name=target.name
    )


async def async_upload_image(  # noqa: PLR0913 - the picture, and whose failure it is
    hass: HomeAssistant,
    client: DingTalkAppClient,
    image: ImageData,
    *,
    entry: ConfigEntry,
    key: str,
    name: str,
) -> str:
    """Upload the picture for an app; return its media id, or raise a translated error.

    A refusal is handled as a refused send: reauthentication, or a repair issue
    (``key``) for lasting ones.
    """
    try:
        return await client.async_upload_media(
            image.content, filename=image.filename, media_type=MediaType.IMAGE
        )
    except DingTalkError as err:
        async_failed(hass, entry, key, name, err)
        raise error_to_ha(err, name) from err


async def async_build(
    hass: HomeAssistant,
    target: Target,
    request: DingTalkRequest,
    image: ImageData | None,
) -> Sendable:
    """Build the request's message for ``target`` with the loaded picture, if any."""
    if image is None:
        return request.build(target.default_format)
    return request.build(
        target.default_format,
        image=await async_image_ref(hass, target, image),
        image_message=target.kind is not TargetKind.ROBOT,
    )
