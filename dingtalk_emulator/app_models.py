"""Value types of the app robot side: apps, people, groups, faults, records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from enum import StrEnum
import math
from typing import Any, Final, Self

from . import rules


def _no_spaces(value: object, what: str) -> str:
    """Return ``value`` if it is a non-empty string without surrounding spaces."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string")
    if not value or value != value.strip():
        raise ValueError(f"{what} must be a non-empty string without spaces")
    return value


def _strings(value: object, what: str) -> tuple[str, ...]:
    """Return ``value`` as a tuple of strings, or raise TypeError."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(f"{what} must be a sequence of strings")
    items = tuple(value)
    if not all(isinstance(item, str) for item in items):
        raise TypeError(f"{what} must be a sequence of strings")
    return items


def _fields(data: Mapping[str, object], known: Iterable[str], what: str) -> None:
    """Reject keys of ``data`` that are not in ``known``."""
    unknown = set(data) - set(known)
    if unknown:
        raise ValueError(f"unknown {what} fields: {', '.join(sorted(unknown))}")


def _get[T](data: Mapping[str, object], key: str, kind: type[T], *, default: T) -> T:
    """Return ``data[key]`` (or ``default``) if it has the type ``kind``."""
    value = data.get(key, default)
    if isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind):
        raise TypeError(f"{key} must be {kind.__name__}")
    return value


def _number(data: Mapping[str, object], key: str, default: float) -> float:
    """Return ``data[key]`` (or ``default``) as a float; bools are refused."""
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{key} must be a number")
    return float(value)


def _check_count(count: object) -> None:
    """Reject a fault count that is not an int of at least 1."""
    if isinstance(count, bool) or not isinstance(count, int):
        raise TypeError("count must be an int")
    if count < 1:
        raise ValueError("count must be at least 1")


def _check_seconds(seconds: float, what: str) -> None:
    """Reject a duration that is not a finite number of seconds >= 0."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{what} must be a finite number of seconds >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class AppConfig:
    """An enterprise internal app with a robot: its credentials and its state."""

    client_id: str  # AppKey
    client_secret: str  # AppSecret
    robot_code: str = ""  # "" = the client_id (§11.2)
    name: str = ""
    published: bool = True  # unpublished: the send APIs answer "robot not found"
    permissions: frozenset[str] = rules.DEFAULT_PERMISSIONS

    def __post_init__(self) -> None:
        """Validate the credentials; default robot_code to client_id."""
        _no_spaces(self.client_id, "client_id")
        _no_spaces(self.client_secret, "client_secret")
        if not self.robot_code:
            object.__setattr__(self, "robot_code", self.client_id)
        _no_spaces(self.robot_code, "robot_code")
        permissions = frozenset(_strings(self.permissions, "permissions"))
        object.__setattr__(self, "permissions", permissions)

    def __repr__(self) -> str:
        """Show the app without its secret."""
        return (
            f"AppConfig(client_id={self.client_id!r}, robot_code={self.robot_code!r}, "
            f"name={self.name!r}, published={self.published!r}, "
            f"permissions={sorted(self.permissions)!r})"
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Self:
        """Build an app from JSON (apps file, POST /api/apps)."""
        known = ("client_id", "client_secret", "robot_code", "name", "published")
        _fields(data, (*known, "permissions"), "app")
        return cls(
            client_id=_get(data, "client_id", str, default=""),
            client_secret=_get(data, "client_secret", str, default=""),
            robot_code=_get(data, "robot_code", str, default=""),
            name=_get(data, "name", str, default=""),
            published=_get(data, "published", bool, default=True),
            permissions=frozenset(
                _strings(
                    data.get("permissions", rules.DEFAULT_PERMISSIONS), "permissions"
                )
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Person:
    """Someone in the organisation: staffId (userId), name, mobile."""

    user_id: str
    name: str = ""
    mobile: str = ""
    admin: bool = False  # isAdmin in the robot messages they send

    def __post_init__(self) -> None:
        """Validate the ids."""
        _no_spaces(self.user_id, "user_id")

    @property
    def nick(self) -> str:
        """The name DingTalk shows (the user id when there is no name)."""
        return self.name or self.user_id

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Self:
        """Build a person from JSON (apps file, POST /api/users)."""
        _fields(data, ("user_id", "name", "mobile", "admin"), "user")
        return cls(
            user_id=_get(data, "user_id", str, default=""),
            name=_get(data, "name", str, default=""),
            mobile=_get(data, "mobile", str, default=""),
            admin=_get(data, "admin", bool, default=False),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """A group chat: its openConversationId, title, members and robots (client ids)."""

    open_conversation_id: str
    title: str = ""
    members: tuple[str, ...] = ()
    robots: tuple[str, ...] = ()  # client_ids of the apps whose robot is in it

    def __post_init__(self) -> None:
        """Validate the id and the lists."""
        _no_spaces(self.open_conversation_id, "open_conversation_id")
        object.__setattr__(self, "members", _strings(self.members, "members"))
        object.__setattr__(self, "robots", _strings(self.robots, "robots"))

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Self:
        """Build a group from JSON (apps file, POST /api/groups)."""
        _fields(data, ("open_conversation_id", "title", "members", "robots"), "group")
        return cls(
            open_conversation_id=_get(data, "open_conversation_id", str, default=""),
            title=_get(data, "title", str, default=""),
            members=_strings(data.get("members", ()), "members"),
            robots=_strings(data.get("robots", ()), "robots"),
        )


class AppFaultKind(StrEnum):
    """A way the app APIs can misbehave on purpose."""

    BUSY = "busy"  # v1.0: HTTP AppFault.status + JSON; oapi: errcode -1 系统繁忙
    DELAY = "delay"  # wait AppFault.delay seconds (real time), then process
    DROP = "drop"  # close the connection without any response
    NON_JSON = "non_json"  # HTTP 200 with an HTML body
    QPS = "qps"  # the QPS answer (v1.0: HTTP 403; oapi: errcode 90002)


@dataclass(frozen=True, slots=True)
class AppFault:
    """A fault for the next ``count`` calls to one app's APIs."""

    kind: AppFaultKind
    _: KW_ONLY
    count: int = 1
    delay: float = 1.0  # DELAY: seconds of real time
    status: int = 503  # BUSY on a v1.0 API: the HTTP status (5xx)
    after_delivery: bool = False  # DELAY/DROP: process (deliver) first, then fail

    def __post_init__(self) -> None:
        """Reject faults that cannot happen."""
        object.__setattr__(self, "kind", AppFaultKind(self.kind))
        _check_count(self.count)
        _check_seconds(self.delay, "delay")
        if not 500 <= self.status <= 599:  # noqa: PLR2004 - the 5xx range
            raise ValueError("status must be a 5xx HTTP status")
        delayed = {AppFaultKind.DELAY, AppFaultKind.DROP}
        if self.after_delivery and self.kind not in delayed:
            raise ValueError("after_delivery only applies to DELAY and DROP")

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Self:
        """Build a fault from JSON (POST /api/apps/{client_id}/faults)."""
        _fields(data, ("kind", "count", "delay", "status", "after_delivery"), "fault")
        return cls(
            AppFaultKind(_get(data, "kind", str, default="")),
            count=_get(data, "count", int, default=1),
            delay=_number(data, "delay", 1.0),
            status=_get(data, "status", int, default=503),
            after_delivery=_get(data, "after_delivery", bool, default=False),
        )


class StreamFaultKind(StrEnum):
    """A way the Stream gateway can misbehave on purpose."""

    # At once, to StreamFault.connection (or every connection of the app):
    DISCONNECT = "disconnect"  # send a SYSTEM disconnect frame, close later
    SILENT = "silent"  # keep TCP open, send nothing, ignore everything
    CLOSE = "close"  # close the TCP connection without a word
    # Queued, for the next StreamFault.count occasions:
    REFUSE_OPEN = "refuse_open"  # connections/open answers HTTP StreamFault.status
    IGNORE_ACKS = "ignore_acks"  # ACKs are dropped: the callback is pushed again
    DELAY_PUSH = "delay_push"  # a push waits StreamFault.delay seconds (real time)


#: Stream faults that act at once instead of waiting in a queue.
IMMEDIATE_STREAM_FAULTS: Final = frozenset(
    {StreamFaultKind.DISCONNECT, StreamFaultKind.SILENT, StreamFaultKind.CLOSE}
)


@dataclass(frozen=True, slots=True)
class StreamFault:
    """A Stream fault for one app."""

    kind: StreamFaultKind
    _: KW_ONLY
    count: int = 1
    delay: float = 1.0  # DELAY_PUSH: seconds of real time
    status: int = 503  # REFUSE_OPEN: the HTTP status
    connection: str | None = None  # immediate kinds: one connection id, None = all

    def __post_init__(self) -> None:
        """Reject faults that cannot happen."""
        object.__setattr__(self, "kind", StreamFaultKind(self.kind))
        _check_count(self.count)
        _check_seconds(self.delay, "delay")
        if not 400 <= self.status <= 599:  # noqa: PLR2004 - HTTP's error range
            raise ValueError("status must be an HTTP error status (4xx or 5xx)")

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Self:
        """Build a fault from JSON (POST /api/apps/{client_id}/stream/faults)."""
        _fields(data, ("kind", "count", "delay", "status", "connection"), "fault")
        connection = data.get("connection")
        if connection is not None and not isinstance(connection, str):
            raise TypeError("connection must be a string or null")
        return cls(
            StreamFaultKind(_get(data, "kind", str, default="")),
            count=_get(data, "count", int, default=1),
            delay=_number(data, "delay", 1.0),
            status=_get(data, "status", int, default=503),
            connection=connection,
        )


class Via(StrEnum):
    """How a robot message reached its conversation."""

    BATCH_SEND = "batchSend"
    GROUP_SEND = "groupMessages"
    SESSION = "sendBySession"


class ConversationType(StrEnum):
    """DingTalk's conversationType strings."""

    SINGLE = "1"  # a person's 1:1 chat with the robot
    GROUP = "2"


@dataclass(frozen=True, slots=True)
class Session:
    """Where a sessionWebhook answers: an app's conversation, until it expires."""

    client_id: str
    conversation_id: str
    conversation_type: ConversationType
    user_id: str | None  # 1:1: the person
    expires_at: float  # clock seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class AppMessage:
    """A robot message delivered to a 1:1 chat or a group."""

    seq: int  # shared with ChatMessage: the order of a conversation
    at: float
    client_id: str
    conversation_id: str
    conversation_type: ConversationType
    via: Via
    user_id: str | None = None  # 1:1: the person
    msg_key: str | None = None  # APIs: the msgKey; sendBySession: None
    msg_param: dict[str, Any] = field(default_factory=dict, hash=False)
    payload: dict[str, Any] | None = field(default=None, hash=False)  # session JSON
    process_query_key: str | None = None
    at_user_ids: tuple[str, ...] = ()  # sendBySession: at.atUserIds
    notices: tuple[str, ...] = ()  # e.g. "unknown_media: @lA…"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatMessage:
    """A message a person wrote to the robot (1:1) or in a group."""

    seq: int
    at: float
    client_id: str
    conversation_id: str
    conversation_type: ConversationType
    sender: str  # user_id
    text: str  # as typed
    at_robot: bool
    msg_id: str
    callback: dict[str, Any] | None = field(default=None, hash=False)  # pushed data
    message_id: str | None = None  # the Stream push's headers.messageId


@dataclass(frozen=True, slots=True, kw_only=True)
class AppRequest:
    """One call to an app API (token, send, upload, lookup, session, gateway)."""

    seq: int
    at: float
    api: str  # "token", "batchSend", "groupMessages", "media", "getbymobile", …
    client_id: str | None  # the app the call was for, if known
    path: str
    query: dict[str, str] = field(hash=False)  # access_token/session masked
    headers: dict[str, str] = field(hash=False)  # the access token masked
    body: str  # secrets masked; uploads summarised
    remote: str | None
    http_status: int | None  # None: the connection was dropped
    code: str | None  # v1.0 error code, or str(errcode) of an oapi answer
    message: str
    fault: AppFaultKind | None = None
    delivered: int = 0  # messages delivered by this call

    @property
    def ok(self) -> bool:
        """Whether the call succeeded: HTTP 200, no error code, no failing fault."""
        failed = self.fault not in {None, AppFaultKind.DELAY}
        return self.http_status == 200 and self.code in {None, "0"} and not failed  # noqa: PLR2004


@dataclass(frozen=True, slots=True, kw_only=True)
class AppSettings:
    """The app and Stream knobs; the defaults are DingTalk's (see rules.py)."""

    token_ttl: float = rules.TOKEN_TTL_SECONDS
    qps_limit: int | None = rules.APP_QPS  # None: no QPS limit
    qps_window: float = rules.QPS_WINDOW_SECONDS
    flow_limit: int | None = rules.PERSON_FLOW_LIMIT  # None: no per-person limit
    flow_window: float = rules.PERSON_FLOW_WINDOW_SECONDS
    ticket_ttl: float = rules.TICKET_TTL_SECONDS
    ping_interval: float | None = rules.PING_INTERVAL_SECONDS  # None: no pings
    ack_timeout: float = rules.ACK_TIMEOUT_SECONDS  # real time
    max_redeliveries: int = rules.MAX_REDELIVERIES
    disconnect_grace: float = rules.DISCONNECT_GRACE_SECONDS  # real time
    session_ttl: float = rules.SESSION_TTL_SECONDS
    seed: int | None = None  # the RNG that picks a connection per push

    def __post_init__(self) -> None:
        """Reject settings that cannot work."""
        for name in ("token_ttl", "qps_window", "flow_window", "ticket_ttl"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        for name in ("ack_timeout", "disconnect_grace", "session_ttl"):
            _check_seconds(getattr(self, name), name)
        if self.ping_interval is not None and not self.ping_interval > 0:
            raise ValueError("ping_interval must be > 0 or None")
        for name in ("qps_limit", "flow_limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 or None")
        if self.max_redeliveries < 0:
            raise ValueError("max_redeliveries must be >= 0")
