"""Value types of the emulator: robots, faults, recorded requests and messages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from enum import StrEnum
import hashlib
import ipaddress
import math
from typing import TYPE_CHECKING, Any, Final, Self

from . import codes, rules

if TYPE_CHECKING:
    from .app_models import AppMessage, AppRequest, ChatMessage

MENTION_IGNORED: Final = "mention_ignored"


def fingerprint(token: str) -> str:
    """Return the part of a token safe to show: its first 6 characters and "…"."""
    return f"{token[:6]}…"


def robot_id(token: str) -> str:
    """Return a stable id for a robot that does not reveal its token (for URLs, DOM)."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


class RobotState(StrEnum):
    """What the group admin has done to a robot."""

    ACTIVE = "active"
    DISABLED = "disabled"  # 400102
    REMOVED = "removed"  # 400106
    DISSOLVED = "dissolved"  # 400013: the group itself is gone


def _strings(value: object, what: str) -> tuple[str, ...]:
    """Return ``value`` as a tuple of strings, or raise TypeError."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(f"{what} must be a sequence of strings")
    items = tuple(value)
    if not all(isinstance(item, str) for item in items):
        raise TypeError(f"{what} must be a sequence of strings")
    return items


@dataclass(frozen=True, slots=True, kw_only=True)
class RobotConfig:
    """A custom group robot: its token and its security settings."""

    access_token: str
    secret: str | None = None
    keywords: tuple[str, ...] = ()
    ip_allowlist: tuple[str, ...] = ()
    name: str = ""
    state: RobotState = RobotState.ACTIVE

    def __post_init__(self) -> None:
        """Validate the settings the way DingTalk's robot settings page would."""
        token = self.access_token
        if not token or token != token.strip():
            raise ValueError("access_token must be a non-empty string without spaces")
        if self.secret is not None and not self.secret:
            raise ValueError("secret must be None or a non-empty string")
        keywords = _strings(self.keywords, "keywords")
        if len(keywords) > rules.MAX_KEYWORDS or not all(keywords):
            raise ValueError(
                f"keywords: at most {rules.MAX_KEYWORDS} non-empty strings"
            )
        allowlist = _strings(self.ip_allowlist, "ip_allowlist")
        for entry in allowlist:
            ipaddress.ip_network(entry, strict=False)  # raises ValueError
        object.__setattr__(self, "keywords", keywords)
        object.__setattr__(self, "ip_allowlist", allowlist)
        object.__setattr__(self, "state", RobotState(self.state))

    @property
    def fingerprint(self) -> str:
        """The token's first 6 characters and "…": safe for listings and logs."""
        return fingerprint(self.access_token)

    def __repr__(self) -> str:
        """Show the robot without its token or secret."""
        return (
            f"RobotConfig(fingerprint={self.fingerprint!r}, name={self.name!r}, "
            f"signed={self.secret is not None}, keywords={self.keywords!r}, "
            f"ip_allowlist={self.ip_allowlist!r}, state={self.state.value!r})"
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Self:
        """Build a robot from JSON (robots file, POST /api/robots)."""
        known = {"access_token", "secret", "keywords", "ip_allowlist", "name", "state"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown robot fields: {', '.join(sorted(unknown))}")
        token = data.get("access_token")
        secret = data.get("secret")
        name = data.get("name", "")
        state = data.get("state", RobotState.ACTIVE.value)
        if not isinstance(token, str):
            raise TypeError("access_token must be a string")
        if secret is not None and not isinstance(secret, str):
            raise TypeError("secret must be a string or null")
        if not isinstance(name, str) or not isinstance(state, str):
            raise TypeError("name and state must be strings")
        return cls(
            access_token=token,
            secret=secret,
            keywords=_strings(data.get("keywords", ()), "keywords"),
            ip_allowlist=_strings(data.get("ip_allowlist", ()), "ip_allowlist"),
            name=name,
            state=RobotState(state),
        )


class FaultKind(StrEnum):
    """A way the emulator can misbehave on purpose."""

    BUSY = "busy"  # HTTP 200 {"errcode": -1, "errmsg": "系统繁忙"}, not delivered
    DELAY = "delay"  # wait Fault.delay seconds (real time), then process
    DROP = "drop"  # close the connection without any response
    HTTP_5XX = "http_5xx"  # HTTP Fault.status with a text body
    NON_JSON = "non_json"  # HTTP 200 with an HTML body
    RATE = "rate"  # HTTP 200 with the rate-limit errcode, robot not throttled


#: Kinds that may strike after the request was processed (and maybe delivered).
AFTER_DELIVERY_KINDS: Final = frozenset({FaultKind.DELAY, FaultKind.DROP})


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault for the next ``count`` requests to one robot."""

    kind: FaultKind
    _: KW_ONLY
    count: int = 1
    delay: float = 1.0  # DELAY: seconds of real time
    status: int = 502  # HTTP_5XX: the status code
    errcode: int | None = None  # RATE: one of RATE_LIMIT_ERRORS; None = emulator's
    after_delivery: bool = False  # DELAY/DROP: process (deliver) first, then fail

    def __post_init__(self) -> None:
        """Reject faults that cannot happen."""
        object.__setattr__(self, "kind", FaultKind(self.kind))
        if isinstance(self.count, bool) or not isinstance(self.count, int):
            raise TypeError("count must be an int")
        if self.count < 1:
            raise ValueError("count must be at least 1")
        if not math.isfinite(self.delay) or self.delay < 0:
            raise ValueError("delay must be a finite number of seconds >= 0")
        if not 500 <= self.status <= 599:  # noqa: PLR2004 - the 5xx range
            raise ValueError("status must be a 5xx HTTP status")
        if self.errcode is not None and self.errcode not in codes.RATE_LIMIT_ERRORS:
            raise ValueError(
                f"errcode must be one of {sorted(codes.RATE_LIMIT_ERRORS)}"
            )
        if self.after_delivery and self.kind not in AFTER_DELIVERY_KINDS:
            raise ValueError("after_delivery only applies to DELAY and DROP")

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Self:
        """Build a fault from JSON (POST /api/robots/{token}/faults)."""
        known = {"kind", "count", "delay", "status", "errcode", "after_delivery"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        kind = data.get("kind")
        count = data.get("count", 1)
        delay = data.get("delay", 1.0)
        status = data.get("status", 502)
        errcode = data.get("errcode")
        after = data.get("after_delivery", False)
        if not isinstance(kind, str):
            raise TypeError("kind must be a string")
        if isinstance(delay, bool) or not isinstance(delay, int | float):
            raise TypeError("delay must be a number")
        if isinstance(status, bool) or not isinstance(status, int):
            raise TypeError("status must be an int")
        if errcode is not None and (
            isinstance(errcode, bool) or not isinstance(errcode, int)
        ):
            raise TypeError("errcode must be an int or null")
        if not isinstance(after, bool) or not isinstance(count, int):
            raise TypeError("after_delivery must be a bool and count an int")
        return cls(
            FaultKind(kind),
            count=count,
            delay=float(delay),
            status=status,
            errcode=errcode,
            after_delivery=after,
        )


@dataclass(frozen=True, slots=True)
class Notice:
    """Something worth a developer's attention that DingTalk accepts silently."""

    code: str  # e.g. MENTION_IGNORED
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Mentions:
    """Who an accepted message notifies."""

    rang: tuple[str, ...] = ()  # listed in "at" and written as @X in the body
    silent: tuple[str, ...] = ()  # listed in "at" but not in the body
    at_all: bool = False
    notices: tuple[Notice, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveredMessage:
    """A message that reached the group chat."""

    seq: int
    at: float
    token: str
    msgtype: str
    payload: dict[str, Any] = field(hash=False)
    msg_uuid: str | None = None
    mentions: Mentions = Mentions()

    @property
    def rang(self) -> tuple[str, ...]:
        """Mobiles/userIds whose @mention rings (listed in "at" and in the body)."""
        return self.mentions.rang

    @property
    def silent(self) -> tuple[str, ...]:
        """Mobiles/userIds listed in "at" that do not ring (not in the body)."""
        return self.mentions.silent

    @property
    def at_all(self) -> bool:
        """Whether the message mentions everyone."""
        return self.mentions.at_all

    @property
    def fingerprint(self) -> str:
        """The robot's token fingerprint."""
        return fingerprint(self.token)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedRequest:
    """One request to /robot/send and what the emulator answered."""

    seq: int
    at: float
    token: str | None  # the access_token as sent (None if missing)
    known_robot: bool
    query: dict[str, str] = field(hash=False)  # "sign" masked
    headers: dict[str, str] = field(hash=False)
    body: bytes
    remote: str | None
    http_status: int | None  # None: the connection was dropped (FaultKind.DROP)
    errcode: int | None  # None: no DingTalk JSON answer (DROP, HTTP_5XX, NON_JSON)
    errmsg: str
    signature_verified: bool | None  # None: robot unsigned or never got that far
    delivered: bool = False
    duplicate: bool = False  # msgUuid seen before: acknowledged, not delivered
    msg_uuid: str | None = None
    fault: FaultKind | None = None
    notices: tuple[Notice, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether DingTalk answered errcode 0."""
        return self.errcode == codes.OK

    @property
    def fingerprint(self) -> str | None:
        """The token's fingerprint, if a token was sent."""
        return None if self.token is None else fingerprint(self.token)


@dataclass(frozen=True, slots=True)
class SendResult:
    """The answer to one /robot/send request, before faults shape the HTTP reply."""

    record: RecordedRequest
    message: DeliveredMessage | None = None

    @property
    def response(self) -> dict[str, object]:
        """The JSON body DingTalk would send."""
        return {"errcode": self.record.errcode, "errmsg": self.record.errmsg}


class EventKind(StrEnum):
    """What changed inside the emulator."""

    REQUEST = "request"
    DELIVERED = "delivered"
    ROBOTS = "robots"  # a robot was added, removed or changed state; faults changed
    RESET = "reset"
    CLOCK = "clock"
    APPS = "apps"  # an app, person or group was added or changed; app faults
    APP_ENTRY = "app_entry"  # a robot message or a person's message in a conversation
    APP_REQUEST = "app_request"  # a call to an app API


@dataclass(frozen=True, slots=True)
class Event:
    """A change that live views (the page, SSE) want to hear about."""

    kind: EventKind
    request: RecordedRequest | None = None
    message: DeliveredMessage | None = None
    entry: AppMessage | ChatMessage | None = None
    app_request: AppRequest | None = None
