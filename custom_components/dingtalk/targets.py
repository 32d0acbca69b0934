"""Start a target: its outbox, with the failure and delivery callbacks wired."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .const import (
    CONF_COMBINE,
    CONF_DEFAULT_FORMAT,
    CONF_UNSURE,
    DEFAULT_COMBINE,
    DEFAULT_FORMAT,
    DingTalkFormat,
    DingTalkNotice,
)
from .delivery import async_notice, async_target_delivered, async_target_failed
from .outbox import Outbox, UnsureDelivery, outbox_settings
from .runtime import Target, TargetKind

if TYPE_CHECKING:
    from collections.abc import Sequence

    from homeassistant.core import HomeAssistant

    from .api import DingTalkAppClient, DingTalkError
    from .outbox import Sender
    from .runtime import DingTalkConfigEntry


async def async_start_target(  # noqa: PLR0913 - a target's parts, keyword-only
    hass: HomeAssistant,
    entry: DingTalkConfigEntry,
    subentry_id: str | None,
    name: str,
    sender: Sender,
    *,
    kind: TargetKind,
    default_target: bool,
    keywords: tuple[str, ...] = (),
    app: DingTalkAppClient | None = None,
    recent_sends: Sequence[float] = (),
) -> Target:
    """Start the outbox of one target (stopped when the entry unloads)."""

    # The callbacks run once the outbox has started, after ``target`` is bound.
    def delivered() -> None:
        """Clear the target's repair issues."""
        async_target_delivered(hass, target)

    def failed(err: DingTalkError) -> None:
        """Reauthenticate or raise a repair issue, as the error model says."""
        async_target_failed(hass, target, err)

    outbox = Outbox(
        hass,
        subentry_id or entry.entry_id,
        name,
        sender,
        settings=outbox_settings(hass),
        on_delivered=delivered,
        on_failed=failed,
        recent_sends=recent_sends,
        combine=entry.options.get(CONF_COMBINE, DEFAULT_COMBINE),
        unsure=UnsureDelivery(entry.options.get(CONF_UNSURE, UnsureDelivery.RESEND)),
    )
    target = Target(
        entry=entry,
        subentry_id=subentry_id,
        name=name,
        kind=kind,
        outbox=outbox,
        default_format=DingTalkFormat(
            entry.options.get(CONF_DEFAULT_FORMAT, DEFAULT_FORMAT)
        ),
        default_target=default_target,
        keywords=keywords,
        app=app,
    )
    await outbox.async_start()
    entry.async_on_unload(outbox.async_stop)
    if outbox.unreadable:
        async_notice(
            hass,
            target.key,
            DingTalkNotice.OUTBOX_UNREADABLE,
            robot=name,
            count=str(outbox.unreadable),
        )
    return target
