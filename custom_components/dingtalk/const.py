"""Constants for the DingTalk integration."""

from __future__ import annotations

from enum import StrEnum
import logging
from typing import Final

DOMAIN: Final = "dingtalk"
LOGGER: Final = logging.getLogger(__package__)

# Config entry data.
CONF_KIND: Final = "kind"
CONF_WEBHOOK: Final = "webhook"
CONF_CLIENT_ID: Final = "client_id"
CONF_CLIENT_SECRET: Final = "client_secret"  # noqa: S105 - a config key, not a secret
CONF_ROBOT_CODE: Final = "robot_code"
CONF_API_BASE: Final = "api_base"
CONF_OAPI_BASE: Final = "oapi_base"
CONF_ADVANCED: Final = "advanced"

# Subentries of an app entry: the people and groups it sends to.
SUBENTRY_PERSON: Final = "person"
SUBENTRY_GROUP: Final = "group"
CONF_PERSON: Final = "person"
CONF_USER_ID: Final = "user_id"
CONF_MOBILE: Final = "mobile"
CONF_CONVERSATION_ID: Final = "open_conversation_id"
CONF_SECRET: Final = "secret"  # noqa: S105 - a config key, not a secret
CONF_KEYWORDS: Final = "keywords"
CONF_SEND_TEST_MESSAGE: Final = "send_test_message"

# Config entry options.
CONF_DEFAULT_FORMAT: Final = "default_format"
CONF_DEFAULT_TARGET: Final = "default_target"
CONF_COMBINE: Final = "combine"
CONF_UNSURE: Final = "unsure_delivery"

# App options: receiving messages over Stream mode, and answering them with Assist.
CONF_RECEIVE: Final = "receive_messages"
CONF_CONVERSATION_AGENT: Final = "conversation_agent"
CONF_ASSIST_LANGUAGE: Final = "assist_language"
CONF_ALLOWED_USERS: Final = "allowed_users"

EVENT_MESSAGE_RECEIVED: Final = "dingtalk_message_received"
"""The bus event of a message a person sent to an app's robot."""

MAX_KEYWORDS: Final = 10

MAX_MESSAGE_BYTES: Final = 100_000
"""Our cap on a message's text (UTF-8 bytes): at most six parts of 20 000 bytes.

It bounds the work one call costs, and the spam one call can cause."""

MAX_MENTIONS: Final = 50
"""Our cap on the people one message mentions (DingTalk's own is UNCONFIRMED)."""

# Legacy notify: discovery info key holding the shared service name.
LEGACY_SERVICE_NAME: Final = DOMAIN

# Fields of dingtalk.send_message and keys of `data` in the legacy notify actions.
ATTR_MSGTYPE: Final = "msgtype"
ATTR_AT_MOBILES: Final = "at_mobiles"
ATTR_AT_USER_IDS: Final = "at_user_ids"
ATTR_AT_ALL: Final = "at_all"
ATTR_URL: Final = "url"
ATTR_PICTURE: Final = "picture"
ATTR_BUTTON_TITLE: Final = "button_title"
ATTR_BUTTON_URL: Final = "button_url"
ATTR_BUTTONS: Final = "buttons"
ATTR_ORIENTATION: Final = "orientation"
ATTR_LINKS: Final = "links"
ATTR_IMAGE: Final = "image"

SERVICE_SEND_MESSAGE: Final = "send_message"
SERVICE_REPLY: Final = "reply"


class EntryKind(StrEnum):
    """What a config entry is: a group webhook robot, or an enterprise app."""

    ROBOT = "robot"
    APP = "app"


class DingTalkFormat(StrEnum):
    """Default format of a message sent without a message type."""

    AUTO = "auto"
    TEXT = "text"
    MARKDOWN = "markdown"


class DingTalkMsgType(StrEnum):
    """Message types of dingtalk.send_message."""

    TEXT = "text"
    MARKDOWN = "markdown"
    LINK = "link"
    ACTION_CARD = "action_card"
    FEED_CARD = "feed_card"


class DingTalkOrientation(StrEnum):
    """Layout of action card buttons."""

    VERTICAL = "vertical"
    HORIZONTAL = "horizontal"


class DingTalkIssue(StrEnum):
    """Repair issues a robot can raise; each clears after the next delivery."""

    ROBOT_UNAVAILABLE = "robot_unavailable"
    IP_NOT_ALLOWED = "ip_not_allowed"
    CLOCK_OUT_OF_SYNC = "clock_out_of_sync"
    KEYWORDS_REJECTED = "keywords_rejected"
    PERMISSION_DENIED = "permission_denied"
    RECIPIENT_UNAVAILABLE = "recipient_unavailable"
    STREAM_UNAVAILABLE = "stream_unavailable"
    """An app cannot receive messages (clears once it is connected again)."""


class DingTalkNotice(StrEnum):
    """Repair issues about something that happened; the user dismisses them."""

    OUTBOX_UNREADABLE = "outbox_unreadable"
    """Queued messages of a robot could not be restored (damaged rows)."""
    OUTBOX_DAMAGED = "outbox_damaged"
    """The queue file could not be read and was replaced."""
    FOREIGN_ENTRY = "foreign_entry"
    """An entry another DingTalk integration made could not be taken over."""


DEFAULT_FORMAT: Final = DingTalkFormat.AUTO
DEFAULT_TARGET: Final = True
DEFAULT_COMBINE: Final = True
