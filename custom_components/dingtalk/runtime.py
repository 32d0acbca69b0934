"""Runtime data of a loaded entry: what each of its notify entities sends to."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import uuid4

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import callback

from .api import MAX_BODY_BYTES, MAX_MSG_PARAM_BYTES, File, Image, to_app_message

if TYPE_CHECKING:
    from collections.abc import Callable

    from .api import DingTalkAppClient, DingTalkClient, Message, Webhook
    from .const import DingTalkFormat
    from .outbox import Outbox, Part
    from .receive import DingTalkReceiver


class TargetKind(StrEnum):
    """What a target is."""

    ROBOT = "robot"
    """A group webhook robot (its own config entry)."""
    PERSON = "person"
    """A person, in their 1:1 chat with an app's robot (a subentry)."""
    GROUP = "group"
    """A group an app's robot is in (a subentry)."""


type Sendable = Message | Image | File
"""What a target can send (images and files only through an app)."""


@dataclass(slots=True, kw_only=True, eq=False)
class Target:
    """Something one notify entity sends to, with its own outbox."""

    entry: ConfigEntry
    subentry_id: str | None
    name: str
    kind: TargetKind
    outbox: Outbox
    default_format: DingTalkFormat
    default_target: bool
    keywords: tuple[str, ...] = ()
    app: DingTalkAppClient | None = field(default=None, repr=False)
    """The app's client (to upload images); None for a webhook robot."""
    sent_listener: Callable[[], None] | None = field(default=None, repr=False)
    """Called after a legacy action sent to it: its notify entity's last-sent time."""

    @property
    def key(self) -> str:
        """Return the target's id: its subentry id, or its entry id for a robot."""
        return self.subentry_id or self.entry.entry_id

    @callback
    def async_record_sent(self) -> None:
        """Tell the target's notify entity (if any) that a message was sent."""
        if self.sent_listener is not None:
            self.sent_listener()

    @property
    def max_bytes(self) -> int:
        """Return the largest part it takes (a webhook body, or an app's msgParam)."""
        return MAX_BODY_BYTES if self.app is None else MAX_MSG_PARAM_BYTES

    def encode(self, part: Sendable) -> Part:
        """Return a prepared part as the target's outbox queues it."""
        if isinstance(part, Image | File):
            return uuid4().hex, to_app_message(part).to_payload()
        if self.app is None:
            return part.msg_uuid, part.to_payload()
        return part.msg_uuid, to_app_message(part).to_payload()


@dataclass(slots=True)
class DingTalkRuntime:
    """Hold what a loaded group robot needs to send."""

    client: DingTalkClient
    outbox: Outbox
    webhook: Webhook
    keywords: tuple[str, ...]
    default_format: DingTalkFormat
    default_target: bool
    target: Target


@dataclass(slots=True)
class DingTalkAppRuntime:
    """Hold a loaded app: its client and one target per person or group."""

    client: DingTalkAppClient
    targets: dict[str | None, Target]
    subentries: frozenset[str] = frozenset()
    """The subentries it was set up with (a change reloads the entry)."""
    receiver: DingTalkReceiver | None = None
    """Its Stream-mode receiver, when receiving is switched on."""


type DingTalkConfigEntry = ConfigEntry[DingTalkRuntime | DingTalkAppRuntime]
