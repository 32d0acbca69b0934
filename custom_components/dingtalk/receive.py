"""Receive the messages people send to an app's robot (Stream mode), as events.

One StreamClient per app with receiving switched on runs as a background task of the
entry on Home Assistant's shared aiohttp session; unloading the entry cancels it.
Every message fires dingtalk_message_received and the app's event entity, is
remembered for dingtalk.reply, and goes to Assist when the options allow it.
Rejected credentials start reauthentication; no connection for ISSUE_AFTER seconds
raises a repair issue, which clears once the app is connected again.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_call_later

from .api import (
    DEFAULT_API_BASE,
    AppCredentialsError,
    StreamClient,
    StreamState,
    StreamTuning,
)
from .assist import AssistBridge, assist_settings
from .const import (
    CONF_ALLOWED_USERS,
    CONF_API_BASE,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_RECEIVE,
    DOMAIN,
    EVENT_MESSAGE_RECEIVED,
    LOGGER,
    DingTalkIssue,
)
from .delivery import issue_id
from .receive_models import ConversationBook, Received
from .seen_groups import SeenGroups

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .api import DingTalkAppClient, RobotMessage
    from .runtime import DingTalkConfigEntry

STREAM_TUNING: Final = StreamTuning()
"""Timings of the Stream client (tests shorten them)."""
ISSUE_AFTER: Final = 600.0
"""Seconds without a connection before the stream_unavailable repair issue."""

MANUFACTURER: Final = "DingTalk"
MODEL: Final = "App robot · 应用机器人"
"""The app's own device (not translatable in Home Assistant): both languages."""

SHARED_APP_KEY_NOTE: Final = (
    "DingTalk sends each message to one connection of the app, chosen at random: "
    "another program or Home Assistant using this Client ID gets a share of them."
)

# Unique id suffixes of the receiving entities (removed when receiving is off).
MESSAGE_KEY: Final = "message"
STREAM_KEY: Final = "stream"


def receiving(entry: DingTalkConfigEntry) -> bool:
    """Return whether an app's options switch receiving on."""
    return bool(entry.options.get(CONF_RECEIVE, False))


def allowed_users(values: Iterable[object] | None) -> list[str]:
    """Return the allowlist: user ids stripped, without blanks and duplicates."""
    stripped = (str(value).strip() for value in values or ())
    return list(dict.fromkeys(value for value in stripped if value))


def state_signal(entry_id: str) -> str:
    """Return the dispatcher signal of an app's connection state."""
    return f"{DOMAIN}_stream_state_{entry_id}"


def message_signal(entry_id: str) -> str:
    """Return the dispatcher signal of an app's received messages."""
    return f"{DOMAIN}_message_{entry_id}"


class DingTalkReceiver:
    """Receive one app's messages; know its connection; answer with Assist."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: DingTalkConfigEntry,
        client: DingTalkAppClient,
    ) -> None:
        """Prepare receiving; ``async_start`` connects."""
        self.hass = hass
        self.entry = entry
        self.client = client
        self.allowed = frozenset(allowed_users(entry.options.get(CONF_ALLOWED_USERS)))
        self.book = ConversationBook()
        self.seen_groups = SeenGroups(hass, entry.entry_id)
        settings = assist_settings(entry)
        self.assist = None if settings is None else AssistBridge(hass, self, *settings)
        self.connected = False
        self._stream = StreamClient(
            str(entry.data[CONF_CLIENT_ID]),
            str(entry.data[CONF_CLIENT_SECRET]),
            session=async_get_clientsession(hass),
            on_message=self._on_message,
            on_state=self._on_state,
            api_base=str(entry.data.get(CONF_API_BASE) or DEFAULT_API_BASE),
            tuning=STREAM_TUNING,
        )
        self._issue_timer: CALLBACK_TYPE | None = None
        self._issue_raised = False

    @property
    def device_info(self) -> DeviceInfo:
        """Return the app's own device (its event and connectivity entities)."""
        return DeviceInfo(
            entry_type=DeviceEntryType.SERVICE,
            identifiers={(DOMAIN, self.entry.entry_id)},
            manufacturer=MANUFACTURER,
            model=MODEL,
            name=self.entry.title,
        )

    @property
    def state(self) -> StreamState:
        """Return what the Stream client is doing."""
        return self._stream.state

    async def async_start(self) -> None:
        """Load the groups heard from, then connect in the background."""
        await self.seen_groups.async_load()
        self.entry.async_on_unload(self._async_stop)
        self._arm_issue_timer()
        self.entry.async_create_background_task(
            self.hass, self._async_run(), f"{DOMAIN} stream {self.entry.title}"
        )

    async def _async_run(self) -> None:
        """Receive until the entry unloads; start reauthentication if refused."""
        try:
            await self._stream.run()
        except AppCredentialsError:
            LOGGER.warning(
                "DingTalk refused the credentials of app %s for Stream mode",
                self.entry.title,
            )
            self.entry.async_start_reauth(self.hass)

    async def _async_stop(self) -> None:
        """Stop the repair-issue timer and write the groups heard from."""
        self._cancel_issue_timer()
        await self.seen_groups.async_flush()

    # -- connection state ------------------------------------------------------------

    @callback
    def _on_state(self, state: StreamState) -> None:
        """Follow the connection: log changes once, raise or clear the issue."""
        if state is StreamState.CONNECTED:
            self._cancel_issue_timer()
            if self._issue_raised:
                ir.async_delete_issue(self.hass, DOMAIN, self._issue_id)
                self._issue_raised = False
            # Never CONNECTED twice in a row: the client reports changes only.
            LOGGER.info("DingTalk app %s is receiving messages", self.entry.title)
            self.connected = True
        else:
            lost, self.connected = self.connected, False
            if state in {StreamState.CONNECTING, StreamState.BACKING_OFF}:
                if lost:
                    LOGGER.warning(
                        "DingTalk app %s lost its Stream connection", self.entry.title
                    )
                self._arm_issue_timer()
            else:  # unloaded, or refused credentials (logged; reauthentication)
                self._cancel_issue_timer()
        async_dispatcher_send(self.hass, state_signal(self.entry.entry_id))

    @property
    def _issue_id(self) -> str:
        """Return the id of the app's stream_unavailable repair issue."""
        return issue_id(self.entry.entry_id, DingTalkIssue.STREAM_UNAVAILABLE)

    def _arm_issue_timer(self) -> None:
        """Raise the repair issue if there is no connection within ISSUE_AFTER."""
        if self._issue_timer is None:
            self._issue_timer = async_call_later(
                self.hass, ISSUE_AFTER, self._async_issue_due
            )

    def _cancel_issue_timer(self) -> None:
        """Stop waiting to raise the repair issue."""
        if self._issue_timer is not None:
            self._issue_timer()
            self._issue_timer = None

    @callback
    def _async_issue_due(self, _now: object) -> None:
        """Raise the repair issue: still no connection."""
        self._issue_timer = None  # CONNECTED cancels it: not connected since
        self._issue_raised = True
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=DingTalkIssue.STREAM_UNAVAILABLE,
            translation_placeholders={
                "robot": self.entry.title,
                "reason": self._stream.stats().last_error or self.state.value,
            },
        )

    # -- messages --------------------------------------------------------------------

    @callback
    def _on_message(self, message: RobotMessage) -> None:
        """Fire the event of a message; remember it; hand it to Assist if allowed."""
        received = Received.from_message(message, allowed=self.allowed, now=time.time())
        self.book.remember(received)
        if received.in_group and received.conversation_id:
            self.seen_groups.note(received.conversation_id, received.conversation_title)
        data = received.event_data(self.entry.entry_id)
        self.hass.bus.async_fire(EVENT_MESSAGE_RECEIVED, data)
        async_dispatcher_send(
            self.hass, message_signal(self.entry.entry_id), received.kind, data
        )
        if self.assist is not None:
            self.assist.submit(received)

    def diagnostics(self) -> dict[str, Any]:
        """Return the connection statistics and settings (no ids, no secrets)."""
        stats = self._stream.stats().as_dict()
        since = stats.pop("connected_since")
        stats["connected_for"] = (
            None if since is None else round(time.monotonic() - since, 1)
        )
        return {
            "stats": stats,
            "assist": self.assist is not None,
            "allowed_users": len(self.allowed),
            "remembered_messages": len(self.book),
            "remembered_conversations": self.book.conversations,
            "seen_groups": len(self.seen_groups),
            "note": SHARED_APP_KEY_NOTE,
        }


async def async_start_receiver(
    hass: HomeAssistant, entry: DingTalkConfigEntry, client: DingTalkAppClient
) -> DingTalkReceiver | None:
    """Start receiving if the options say so; else remove the receiving entities."""
    if not receiving(entry):
        async_remove_receiving_entities(hass, entry)
        return None
    receiver = DingTalkReceiver(hass, entry, client)
    await receiver.async_start()
    return receiver


@callback
def async_remove_receiving_entities(
    hass: HomeAssistant, entry: DingTalkConfigEntry
) -> None:
    """Remove the event and connectivity entities (and their device) of an app."""
    registry = er.async_get(hass)
    unique_ids = {f"{entry.entry_id}_{key}" for key in (MESSAGE_KEY, STREAM_KEY)}
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        if entity.unique_id in unique_ids:
            registry.async_remove(entity.entity_id)
    devices = dr.async_get(hass)
    device = devices.async_get_device_by_identifier(
        (DOMAIN, entry.entry_id), entry.entry_id
    )
    if device is not None:
        devices.async_update_device(device.id, remove_config_entry_id=entry.entry_id)
