"""Requests the config flow makes count in the robot's rate window too."""

from __future__ import annotations

import time
from typing import Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN

FLOW_SEND_WINDOW: Final = 61.0
"""Seconds a flow's request is remembered (the outbox's rate window)."""

FLOW_SENDS: Final[HassKey[dict[str, list[float]]]] = HassKey(f"{DOMAIN}_flow_sends")
"""Wall-clock times of the config flow's requests, by robot unique id (the token
fingerprint), kept until the robot's outbox takes them over when it is set up."""


@callback
def async_record_flow_send(
    hass: HomeAssistant,
    robot_id: str,
    at: float,
    *,
    window: float = FLOW_SEND_WINDOW,
) -> None:
    """Count a request made outside the outbox (the config flow's) at wall time `at`.

    DingTalk counts it in the robot's minute like any other, so the outbox set up
    next must count it too. Times older than `window` are forgotten, for every robot.
    """
    flow_sends = hass.data.setdefault(FLOW_SENDS, {})
    flow_sends.setdefault(robot_id, []).append(at)
    for key, times in list(flow_sends.items()):
        if kept := [sent for sent in times if sent > at - window]:
            flow_sends[key] = kept
        else:
            del flow_sends[key]


@callback
def async_pop_flow_sends(
    hass: HomeAssistant,
    robot_id: str | None,
    *,
    now: float | None = None,
    window: float = FLOW_SEND_WINDOW,
) -> list[float]:
    """Take the wall times of the flow's requests to a robot still in its window."""
    flow_sends = hass.data.get(FLOW_SENDS)
    if flow_sends is None or robot_id is None:
        return []
    cutoff = (time.time() if now is None else now) - window
    return [at for at in flow_sends.pop(robot_id, ()) if at > cutoff]
