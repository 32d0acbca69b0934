"""A sender without idempotency keys: a lost answer is never a silent duplicate or loss.

The app robot's APIs have no msgUuid: when the request went out and its answer was
lost, sending it again may duplicate the message and not sending it may lose it.
The outbox either resends it marked as possibly sent before, or reports it as
possibly lost; a request that surely did not go out is simply retried.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.dingtalk.api import DingTalkConnectionError, DingTalkTimeoutError
from custom_components.dingtalk.outbox import (
    EVENT_DELIVERY_FAILED,
    MaybeLostError,
    UnsureDelivery,
)
from custom_components.dingtalk.webhook_sender import RESENT_MARK

from .test_outbox_units import FakeClient, Harness, idle, text, wait_until

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant

    from dingtalk_emulator import ManualClock


class AppLikeClient(FakeClient):
    """A fake sender without idempotency keys (like the app robot's APIs)."""

    idempotent = False

    def __init__(self, clock: ManualClock) -> None:
        """Also keep every payload sent."""
        super().__init__(clock)
        self.payloads: list[str] = []

    async def send_payload(self, payload: Mapping[str, Any]) -> None:
        """Record the text, then play the script."""
        self.payloads.append(payload["text"]["content"])
        await super().send_payload(payload)


async def test_lost_answer_is_resent_marked(hass: HomeAssistant) -> None:
    """The default: sent again with a visible mark, counted; never silently twice."""
    async with Harness(hass, client_factory=AppLikeClient) as h:
        h.client.script = [DingTalkTimeoutError("timeout"), None]
        await h.outbox.async_send([text(1)])
        await wait_until(idle(h.outbox))
        assert isinstance(h.client, AppLikeClient)
        assert h.client.payloads == ["alarm 1", f"{RESENT_MARK}alarm 1"]
        assert h.outbox.stats()["resent_unsure"] == 1


async def test_lost_answer_is_reported_when_asked(hass: HomeAssistant) -> None:
    """REPORT: not sent again, the caller told it may be lost; never silently lost."""
    events = async_capture_events(hass, EVENT_DELIVERY_FAILED)
    async with Harness(
        hass, client_factory=AppLikeClient, unsure=UnsureDelivery.REPORT
    ) as h:
        h.client.script = [DingTalkTimeoutError("timeout")]
        with pytest.raises(MaybeLostError):
            await h.outbox.async_send([text(1)])
        await wait_until(idle(h.outbox))
        assert not (await h.stored()).items
        await asyncio.sleep(0.01)  # the worker goes on after the store's answer
        assert isinstance(h.client, AppLikeClient)
        assert h.client.payloads == ["alarm 1"]
    assert [e.data["reason"] for e in events] == ["maybe_lost"]
    assert [type(err) for err in h.failures] == [MaybeLostError]


async def test_request_that_never_left_is_retried_unmarked(
    hass: HomeAssistant,
) -> None:
    """No connection at all: nothing can have arrived, so no mark and no report."""
    async with Harness(
        hass, client_factory=AppLikeClient, unsure=UnsureDelivery.REPORT
    ) as h:
        h.client.script = [
            DingTalkConnectionError("refused", maybe_delivered=False),
            None,
        ]
        await h.outbox.async_send([text(1)])
        await wait_until(idle(h.outbox))
        assert isinstance(h.client, AppLikeClient)
        assert h.client.payloads == ["alarm 1", "alarm 1"]
        assert h.outbox.stats()["resent_unsure"] == 0
        assert not (await h.stored()).items


async def test_crash_during_a_request_is_an_unsure_delivery(
    hass: HomeAssistant,
) -> None:
    """A request recorded but never answered: the message is marked after a restart."""
    first = Harness(hass, client_factory=AppLikeClient, stop_timeout=0.01)
    await first.outbox.async_start()
    first.client.gate = asyncio.Event()
    await first.outbox.async_send([text(1)])
    await first.client.entered.wait()
    await first.outbox.async_stop()  # the request hangs: as if the process died
    [stored] = (await first.stored()).items
    assert stored.attempted
    async with Harness(hass, client_factory=AppLikeClient) as again:
        await wait_until(idle(again.outbox))
        assert isinstance(again.client, AppLikeClient)
        assert again.client.payloads == [f"{RESENT_MARK}alarm 1"]
