"""The emulator's core: robots, the /robot/send check chain, history and faults."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
import dataclasses
import json
from typing import TYPE_CHECKING, Any

from . import checks, codes, rules
from .app_models import AppSettings
from .apps import AppRobots
from .clock import Clock, ManualClock, SystemClock
from .models import (
    DeliveredMessage,
    Event,
    EventKind,
    Fault,
    FaultKind,
    Notice,
    RecordedRequest,
    RobotConfig,
    RobotState,
    SendResult,
)
from .stream import StreamHub

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from .server import EmulatorServer

type Listener = Callable[[Event], None]


class _PendingFault:
    """A queued fault and how many more requests it strikes."""

    __slots__ = ("fault", "left")

    def __init__(self, fault: Fault) -> None:
        """Queue ``fault`` for its full count."""
        self.fault = fault
        self.left = fault.count


class _Robot:
    """A robot's configuration plus its runtime state."""

    __slots__ = (
        "config",
        "faults",
        "messages",
        "networks",
        "seen",
        "sent",
        "throttled_until",
    )

    def __init__(self, config: RobotConfig, history_limit: int) -> None:
        """Start with no history."""
        self.config = config
        self.networks = checks.networks(config.ip_allowlist)
        self.sent: deque[float] = deque()  # delivery times inside the rate window
        self.throttled_until: float | None = None
        self.seen: dict[str, float] = {}  # msgUuid -> delivery time, oldest first
        self.faults: deque[_PendingFault] = deque()
        self.messages: deque[DeliveredMessage] = deque(maxlen=history_limit)

    def clear(self) -> None:
        """Forget history, rate windows, throttling, msgUuids and faults."""
        self.sent.clear()
        self.throttled_until = None
        self.seen.clear()
        self.faults.clear()
        self.messages.clear()


@dataclasses.dataclass(frozen=True, slots=True)
class _Incoming:
    """One request to /robot/send, as the checks see it."""

    query: Mapping[str, str]
    content_type: str | None
    body: bytes
    remote: str | None
    now: float


@dataclasses.dataclass(frozen=True, slots=True)
class _Outcome:
    """What the check chain decided about one request."""

    errcode: int | None  # None: the fault sends no DingTalk JSON
    errmsg: str
    signature_verified: bool | None = None
    message: DeliveredMessage | None = None
    duplicate: bool = False
    msg_uuid: str | None = None
    notices: tuple[Notice, ...] = ()


class Emulator:
    """An in-memory DingTalk: custom robots, app robots, Stream (docs §2)."""

    def __init__(  # noqa: PLR0913 - every knob is a documented DingTalk parameter
        self,
        clock: Clock | None = None,
        *,
        wording: codes.Wording | str = codes.DEFAULT_WORDING,
        token_error_code: int = codes.DEFAULT_TOKEN_ERROR,
        rate_limit_code: int = codes.DEFAULT_RATE_LIMIT_ERROR,
        rate_limit: int = rules.RATE_LIMIT,
        rate_window: float = rules.RATE_WINDOW_SECONDS,
        throttle_seconds: float = rules.THROTTLE_SECONDS,
        sign_window: float = rules.SIGN_WINDOW_SECONDS,
        dedupe_retention: float = rules.DEDUPE_RETENTION_SECONDS,
        max_body_bytes: int = rules.MAX_BODY_BYTES,
        history_limit: int = rules.HISTORY_LIMIT,
        app_settings: AppSettings | None = None,
    ) -> None:
        """Create an emulator with no robots; the defaults are DingTalk's limits."""
        if token_error_code not in codes.TOKEN_ERRORS:
            raise ValueError(f"token_error_code must be one of {[*codes.TOKEN_ERRORS]}")
        if rate_limit_code not in codes.RATE_LIMIT_ERRORS:
            raise ValueError(
                f"rate_limit_code must be one of {[*codes.RATE_LIMIT_ERRORS]}"
            )
        if rate_limit < 1 or history_limit < 1:
            raise ValueError("rate_limit and history_limit must be at least 1")
        self._clock: Clock = clock if clock is not None else SystemClock()
        self.wording = codes.Wording(wording)
        self.token_error_code = token_error_code
        self.rate_limit_code = rate_limit_code
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.throttle_seconds = throttle_seconds
        self.sign_window = sign_window
        self.dedupe_retention = dedupe_retention
        self.max_body_bytes = max_body_bytes
        self.history_limit = history_limit
        self._robots: dict[str, _Robot] = {}
        self._requests: deque[RecordedRequest] = deque(maxlen=history_limit)
        self._messages: deque[DeliveredMessage] = deque(maxlen=history_limit)
        self._request_seq = 0
        self._message_seq = 0
        self._listeners: list[Listener] = []
        #: The enterprise app side: apps, people, groups, their APIs' state.
        self.apps = AppRobots(
            self._clock, app_settings or AppSettings(), self._emit, history_limit
        )
        #: The Stream gateway of the apps.
        self.stream = StreamHub(self.apps)

    # -- configuration -------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """The clock every time window uses."""
        return self._clock

    @property
    def texts(self) -> codes.Texts:
        """The errmsg texts of the current wording."""
        return codes.TEXTS[self.wording]

    def add_robot(self, config: RobotConfig) -> RobotConfig:
        """Register a robot; its token must be new."""
        if config.access_token in self._robots:
            raise ValueError(f"robot {config.fingerprint} already exists")
        self._robots[config.access_token] = _Robot(config, self.history_limit)
        self._emit(Event(EventKind.ROBOTS))
        return config

    def remove_robot(self, token: str) -> None:
        """Forget a robot entirely: its token then answers "token is not exist"."""
        del self._robots[self._robot(token).config.access_token]
        self._emit(Event(EventKind.ROBOTS))

    def robot(self, token: str) -> RobotConfig:
        """Return a robot's current configuration (KeyError if unknown)."""
        return self._robot(token).config

    @property
    def robots(self) -> list[RobotConfig]:
        """All robots, in the order they were added."""
        return [robot.config for robot in self._robots.values()]

    def set_robot_state(self, token: str, state: RobotState | str) -> None:
        """Disable, remove or dissolve a robot's group, or make it active again."""
        robot = self._robot(token)
        robot.config = dataclasses.replace(robot.config, state=RobotState(state))
        self._emit(Event(EventKind.ROBOTS))

    def throttled_until(self, token: str) -> float | None:
        """When the robot's throttle lifts (clock seconds), or None if not throttled."""
        robot = self._robot(token)
        until = robot.throttled_until
        return until if until is not None and self._clock.now() < until else None

    def inject_fault(self, token: str, fault: Fault) -> None:
        """Make the robot's next ``fault.count`` requests fail (queued after others)."""
        self._robot(token).faults.append(_PendingFault(fault))
        self._emit(Event(EventKind.ROBOTS))

    def clear_faults(self, token: str) -> None:
        """Drop the robot's pending faults."""
        self._robot(token).faults.clear()
        self._emit(Event(EventKind.ROBOTS))

    def pending_faults(self, token: str) -> list[Fault]:
        """Return the robot's queued faults, each with the count still to strike."""
        return [
            dataclasses.replace(pending.fault, count=pending.left)
            for pending in self._robot(token).faults
        ]

    def take_fault(self, token: str | None) -> Fault | None:
        """Consume one strike of the robot's next fault (used by the HTTP server)."""
        robot = self._robots.get(token) if token is not None else None
        if robot is None or not robot.faults:
            return None
        pending = robot.faults[0]
        pending.left -= 1
        if pending.left == 0:
            robot.faults.popleft()
        return pending.fault

    def advance_clock(self, seconds: float) -> float:
        """Move a ManualClock forward; TypeError for any other clock."""
        if not isinstance(self._clock, ManualClock):
            raise TypeError("the emulator's clock is not a ManualClock")
        now = self._clock.advance(seconds)
        self._emit(Event(EventKind.CLOCK))
        return now

    def reset(self) -> None:
        """Forget requests, messages, rate windows, throttles, msgUuids and faults."""
        # Robots and their states stay as they are; so do apps, people, groups,
        # valid access tokens and open Stream connections.
        self._requests.clear()
        self._messages.clear()
        for robot in self._robots.values():
            robot.clear()
        self.apps.reset()
        self.stream.reset()
        self._emit(Event(EventKind.RESET))

    # -- history ----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request to /robot/send, oldest first (the last ``history_limit``)."""
        return list(self._requests)

    def delivered(self, token: str | None = None) -> list[DeliveredMessage]:
        """Delivered messages, oldest first; only one robot's if ``token`` is given."""
        if token is None:
            return list(self._messages)
        return list(self._robot(token).messages)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every change; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # -- serving ----------------------------------------------------------------------

    def serve(
        self, host: str = "127.0.0.1", port: int = 0
    ) -> AbstractAsyncContextManager[EmulatorServer]:
        """Serve over HTTP while the context is open; yields an EmulatorServer."""
        from .server import serve  # noqa: PLC0415 - server imports this module

        return serve(self, host=host, port=port)

    # -- /robot/send ------------------------------------------------------------------

    def handle_send(  # noqa: PLR0913 - one request's parts
        self,
        raw_query: str,
        *,
        content_type: str | None = "application/json",
        body: bytes = b"",
        remote: str | None = "127.0.0.1",
        headers: Mapping[str, str] | None = None,
        fault: Fault | None = None,
    ) -> SendResult:
        """Run one POST /robot/send through DingTalk's checks, record it, deliver it."""
        # raw_query is the query string exactly as sent (still URL-encoded). A fault
        # taken with take_fault replaces processing unless it is a DELAY or strikes
        # after_delivery; the HTTP server applies its wire behaviour.
        query = checks.parse_query(raw_query)
        token = query.get("access_token") or None
        robot = self._robots.get(token) if token is not None else None
        now = self._clock.now()
        incoming = _Incoming(query, content_type, body, remote, now)
        if fault is None or fault.after_delivery or fault.kind is FaultKind.DELAY:
            outcome = self._decide(robot, incoming)
        else:
            outcome = self._fault_outcome(fault)
        status: int | None = 200
        if fault is not None and fault.kind is FaultKind.DROP:
            status = None
        elif fault is not None and fault.kind is FaultKind.HTTP_5XX:
            status = fault.status
        self._request_seq += 1
        record = RecordedRequest(
            seq=self._request_seq,
            at=now,
            token=token,
            known_robot=robot is not None,
            query={k: "***" if k == "sign" else v for k, v in query.items()},
            headers=dict(headers) if headers is not None else {},
            body=body,
            remote=remote,
            http_status=status,
            errcode=outcome.errcode,
            errmsg=outcome.errmsg,
            signature_verified=outcome.signature_verified,
            delivered=outcome.message is not None,
            duplicate=outcome.duplicate,
            msg_uuid=outcome.msg_uuid,
            fault=None if fault is None else fault.kind,
            notices=outcome.notices,
        )
        self._requests.append(record)
        if outcome.message is not None:
            self._emit(Event(EventKind.DELIVERED, message=outcome.message))
        self._emit(Event(EventKind.REQUEST, request=record))
        return SendResult(record, outcome.message)

    def _fault_outcome(self, fault: Fault) -> _Outcome:
        """Return the answer of a fault that strikes instead of processing."""
        if fault.kind is FaultKind.BUSY:
            return _Outcome(codes.BUSY, codes.BUSY_TEXT)
        if fault.kind is FaultKind.RATE:
            code = fault.errcode if fault.errcode is not None else self.rate_limit_code
            return _Outcome(code, codes.RATE_LIMIT_ERRORS[code])
        if fault.kind is FaultKind.NON_JSON:
            return _Outcome(None, "fault: HTML answer instead of JSON")
        if fault.kind is FaultKind.HTTP_5XX:
            return _Outcome(None, f"fault: HTTP {fault.status}")
        return _Outcome(None, "fault: connection dropped")

    def _decide(self, robot: _Robot | None, incoming: _Incoming) -> _Outcome:
        """Apply DingTalk's checks in order; the first failing one answers."""
        if robot is None:
            code = self.token_error_code
            return _Outcome(code, codes.TOKEN_ERRORS[code])
        failure, verified = self._check_robot(robot, incoming)
        if failure is not None:
            return failure
        parsed = _parse_request(incoming)
        if isinstance(parsed, _Outcome):
            return dataclasses.replace(parsed, signature_verified=verified)
        failure = self._check_message(robot.config, parsed, incoming.body)
        if failure is not None:
            return dataclasses.replace(failure, signature_verified=verified)
        return self._admit(robot, parsed, incoming.now, verified=verified)

    def _check_robot(
        self, robot: _Robot, incoming: _Incoming
    ) -> tuple[_Outcome | None, bool | None]:
        """Check the robot's state, signature and IP allowlist."""
        config = robot.config
        if config.state is not RobotState.ACTIVE:
            return _Outcome(*codes.STATE_ERRORS[config.state.value]), None
        verified: bool | None = None
        if config.secret is not None:
            failure = self._check_signature(config.secret, incoming.query, incoming.now)
            if failure is not None:
                return _Outcome(
                    codes.SECURITY, failure, signature_verified=False
                ), False
            verified = True
        if robot.networks and not checks.ip_allowed(incoming.remote, robot.networks):
            text = self.texts.ip_not_allowed.format(ip=incoming.remote)
            return _Outcome(codes.SECURITY, text, signature_verified=verified), verified
        return None, verified

    def _check_message(
        self, config: RobotConfig, payload: dict[str, Any], body: bytes
    ) -> _Outcome | None:
        """Check keywords, body size, msgtype and required fields, in that order."""
        texts = self.texts
        if config.keywords and not checks.has_keyword(payload, config.keywords):
            return _Outcome(codes.SECURITY, texts.keywords_missing)
        if len(body) > self.max_body_bytes:
            return _Outcome(codes.BODY_TOO_LONG, texts.body_too_long)
        if payload.get("msgtype") not in rules.SUPPORTED_MSGTYPES:
            return _Outcome(codes.UNSUPPORTED_MSGTYPE, codes.UNSUPPORTED_MSGTYPE_TEXT)
        missing = checks.missing_field(payload)
        if missing is not None:
            path = texts.path_separator.join(missing)
            code = codes.MISSING_FIELD_CODES[missing[-1]]
            return _Outcome(code, texts.missing_field.format(path=path))
        return None

    def _check_signature(
        self, secret: str, query: Mapping[str, str], now: float
    ) -> str | None:
        """Return the errmsg if the timestamp/sign pair is missing, stale or wrong."""
        timestamp = query.get("timestamp")
        sign = query.get("sign")
        if not timestamp or not sign:
            return self.texts.sign_mismatch
        millis = checks.parse_timestamp(timestamp)
        if millis is None or abs(now * 1000 - millis) > self.sign_window * 1000:
            return self.texts.invalid_timestamp
        if not checks.sign_matches(secret, timestamp, sign):
            return self.texts.sign_mismatch
        return None

    def _admit(
        self,
        robot: _Robot,
        payload: dict[str, Any],
        now: float,
        *,
        verified: bool | None,
    ) -> _Outcome:
        """Throttle, msgUuid de-duplication and the rate window; then deliver."""
        uuid = checks.msg_uuid(payload)
        mentions = checks.analyse_mentions(payload)
        notices = mentions.notices
        rate_code = self.rate_limit_code
        rate_text = codes.RATE_LIMIT_ERRORS[rate_code]
        if robot.throttled_until is not None:
            if now < robot.throttled_until:
                return _Outcome(rate_code, rate_text, verified, msg_uuid=uuid)
            robot.throttled_until = None
        seen = robot.seen
        horizon = now - self.dedupe_retention
        while seen:
            oldest = next(iter(seen))
            if seen[oldest] > horizon:
                break
            del seen[oldest]
        if uuid is not None and uuid in seen:
            return _Outcome(
                codes.OK,
                codes.OK_TEXT,
                verified,
                duplicate=True,
                msg_uuid=uuid,
                notices=notices,
            )
        sent = robot.sent
        window_start = now - self.rate_window
        while sent and sent[0] <= window_start:
            sent.popleft()
        if len(sent) >= self.rate_limit:
            robot.throttled_until = now + self.throttle_seconds
            return _Outcome(rate_code, rate_text, verified, msg_uuid=uuid)
        sent.append(now)
        if uuid is not None:
            seen[uuid] = now
        self._message_seq += 1
        message = DeliveredMessage(
            seq=self._message_seq,
            at=now,
            token=robot.config.access_token,
            msgtype=str(payload["msgtype"]),
            payload=payload,
            msg_uuid=uuid,
            mentions=mentions,
        )
        robot.messages.append(message)
        self._messages.append(message)
        return _Outcome(
            codes.OK, codes.OK_TEXT, verified, message, msg_uuid=uuid, notices=notices
        )

    # -- internals --------------------------------------------------------------------

    def _robot(self, token: str) -> _Robot:
        """Return the robot with this token, or raise KeyError (with a fingerprint)."""
        try:
            return self._robots[token]
        except KeyError:
            raise KeyError(f"no robot {token[:6]}…") from None

    def _emit(self, event: Event) -> None:
        """Tell every listener about a change."""
        for listener in tuple(self._listeners):
            listener(event)


def _parse_request(incoming: _Incoming) -> dict[str, Any] | _Outcome:
    """Check the content type, then return the body as a JSON object."""
    if not checks.content_type_ok(incoming.content_type):
        return _Outcome(codes.BAD_CONTENT_TYPE, codes.BAD_CONTENT_TYPE_TEXT)
    try:
        payload = json.loads(incoming.body.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError is a ValueError too
        payload = None
    if not isinstance(payload, dict):
        return _Outcome(codes.BAD_JSON, codes.BAD_JSON_TEXT)
    return payload
