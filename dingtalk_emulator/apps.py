"""The app robot side's state: apps, people, groups, tokens, limits, media, history."""

from __future__ import annotations

import base64
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
import secrets
from typing import TYPE_CHECKING, Any

from . import app_checks, chat, rules
from .app_models import (
    AppConfig,
    AppFault,
    AppMessage,
    AppRequest,
    AppSettings,
    ChatMessage,
    Group,
    Person,
    Session,
)
from .fault_queue import FaultQueue
from .models import Event, EventKind

if TYPE_CHECKING:
    from .clock import Clock

type Emit = Callable[[Event], None]
#: Pushes a robot callback to the app's Stream connections; returns its messageId.
type Pusher = Callable[[str, dict[str, Any]], str | None]
type Entry = AppMessage | ChatMessage


@dataclass(frozen=True, slots=True)
class Media:
    """An uploaded file, kept for GET /api/media/{media_id}."""

    media_id: str
    client_id: str
    media_type: str  # image, voice, video, file
    file_format: str | None  # detected from the signature
    filename: str
    content_type: str
    created_at: float
    data: bytes = field(repr=False)


class _App:
    """An app's configuration plus its runtime state."""

    __slots__ = (
        "calls",
        "config",
        "faults",
        "flow",
        "next_token_ttl",
        "token",
        "token_requests",
    )

    def __init__(self, config: AppConfig) -> None:
        """Start with no token and no history."""
        self.config = config
        self.token: str | None = None  # the current token (TOKEN_REUSED_WHILE_VALID)
        self.token_requests = 0
        self.next_token_ttl: int | None = None  # the next token's lifetime, once
        self.calls: deque[float] = deque()  # call times inside the QPS window
        self.flow: dict[str, deque[float]] = {}  # user_id -> batchSend delivery times
        self.faults: FaultQueue[AppFault] = FaultQueue()

    def clear(self) -> None:
        """Forget counters, windows and faults (the token stays valid)."""
        self.token_requests = 0
        self.calls.clear()
        self.flow.clear()
        self.faults.clear()


class AppRobots:
    """Apps with robots, the organisation's people and groups (docs §2)."""

    def __init__(
        self, clock: Clock, settings: AppSettings, emit: Emit, history_limit: int
    ) -> None:
        """Start with no apps, people or groups."""
        self.clock = clock
        self.settings = settings
        self.history_limit = history_limit
        self.base_url = "http://127.0.0.1"  # set by serve(): sessionWebhook URLs
        self.pusher: Pusher | None = None  # set by the StreamHub
        self._emit = emit
        self._apps: dict[str, _App] = {}
        self._people: dict[str, Person] = {}
        self._groups: dict[str, Group] = {}
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (client_id, until)
        self._sessions: dict[str, Session] = {}
        self._media: dict[str, Media] = {}
        self._media_bytes = 0
        self._entries: deque[Entry] = deque(maxlen=history_limit)
        self._requests: deque[AppRequest] = deque(maxlen=history_limit)
        self._entry_seq = 0
        self._request_seq = 0

    # -- configuration -------------------------------------------------------------

    def add_app(self, config: AppConfig) -> AppConfig:
        """Register an app; its client_id must be new."""
        if config.client_id in self._apps:
            raise ValueError(f"app {config.client_id} already exists")
        self._apps[config.client_id] = _App(config)
        self._changed()
        return config

    def app(self, client_id: str) -> AppConfig:
        """Return an app's configuration (KeyError if unknown)."""
        return self._app(client_id).config

    @property
    def apps(self) -> list[AppConfig]:
        """All apps, in the order they were added."""
        return [app.config for app in self._apps.values()]

    def set_published(self, client_id: str, published: bool) -> None:  # noqa: FBT001
        """Publish or unpublish an app's robot."""
        app = self._app(client_id)
        app.config = replace(app.config, published=published)
        self._changed()

    def set_permissions(self, client_id: str, permissions: frozenset[str]) -> None:
        """Replace an app's permissions."""
        app = self._app(client_id)
        app.config = replace(app.config, permissions=frozenset(permissions))
        self._changed()

    def add_person(self, person: Person) -> Person:
        """Add someone to the organisation; the user_id must be new."""
        if person.user_id in self._people:
            raise ValueError(f"user {person.user_id} already exists")
        self._people[person.user_id] = person
        self._changed()
        return person

    def remove_person(self, user_id: str) -> Person:
        """Let someone leave the organisation (and its groups); return them."""
        person = self.person(user_id)
        del self._people[user_id]
        for cid, group in list(self._groups.items()):
            if user_id in group.members:
                members = tuple(m for m in group.members if m != user_id)
                self._groups[cid] = replace(group, members=members)
        self._changed()
        return person

    def person(self, user_id: str) -> Person:
        """Return a person (KeyError if unknown)."""
        try:
            return self._people[user_id]
        except KeyError:
            raise KeyError(f"no user {user_id}") from None

    @property
    def people(self) -> list[Person]:
        """Everyone in the organisation, in the order they were added."""
        return list(self._people.values())

    def person_by_mobile(self, mobile: str) -> Person | None:
        """Return the person with this mobile number, if any."""
        return next((p for p in self._people.values() if p.mobile == mobile), None)

    def add_group(self, group: Group) -> Group:
        """Add a group; its members and robots must exist."""
        cid = group.open_conversation_id
        if cid in self._groups:
            raise ValueError(f"group {cid} already exists")
        for user_id in group.members:
            self.person(user_id)
        for client_id in group.robots:
            self._app(client_id)
        self._groups[cid] = group
        self._changed()
        return group

    def join_group(self, open_conversation_id: str, client_id: str) -> Group:
        """Put an app's robot into a group (no change if it is in already)."""
        group = self.group(open_conversation_id)
        self._app(client_id)
        if client_id not in group.robots:
            group = replace(group, robots=(*group.robots, client_id))
            self._groups[open_conversation_id] = group
            self._changed()
        return group

    def leave_group(self, open_conversation_id: str, client_id: str) -> Group:
        """Remove an app's robot from a group (no change if it is not in it)."""
        group = self.group(open_conversation_id)
        if client_id in group.robots:
            robots = tuple(r for r in group.robots if r != client_id)
            group = replace(group, robots=robots)
            self._groups[open_conversation_id] = group
            self._changed()
        return group

    def group(self, open_conversation_id: str) -> Group:
        """Return a group (KeyError if unknown)."""
        try:
            return self._groups[open_conversation_id]
        except KeyError:
            raise KeyError(f"no group {open_conversation_id}") from None

    @property
    def groups(self) -> list[Group]:
        """All groups, in the order they were added."""
        return list(self._groups.values())

    def conversation_id(self, client_id: str, user_id: str) -> str:
        """Return the conversationId of a person's 1:1 chat with the app's robot."""
        return app_checks.single_conversation_id(client_id, user_id)

    # -- tokens, limits and faults ---------------------------------------------------

    def issue_token(self, client_id: str) -> tuple[str, int]:
        """Answer a token request: the current token (renewed) or a new one.

        Returns the token and its lifetime in seconds (the answer's expireIn).
        """
        app = self._app(client_id)
        app.token_requests += 1
        now = self.clock.now()
        ttl = app.next_token_ttl or int(self.settings.token_ttl)
        app.next_token_ttl = None
        until = now + ttl
        token = app.token
        reuse = rules.TOKEN_REUSED_WHILE_VALID and self.token_app(token) == client_id
        if token is None or not reuse:
            token = secrets.token_hex(16)
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
        app.token = token
        self._tokens[token] = (client_id, until)
        return token, ttl

    def token_app(self, token: str | None) -> str | None:
        """Return the client_id a valid token belongs to, or None."""
        found = self._tokens.get(token) if token is not None else None
        if found is None or self.clock.now() >= found[1]:
            return None
        return found[0]

    def token_requests(self, client_id: str) -> int:
        """How many token requests the app made (since the last reset)."""
        return self._app(client_id).token_requests

    def shorten_next_token(self, client_id: str, seconds: int) -> None:
        """Make the app's next token live ``seconds`` (expireIn says so), once."""
        if seconds < 1:
            raise ValueError("expire_in must be at least 1")
        self._app(client_id).next_token_ttl = seconds

    def expire_tokens(self, client_id: str) -> None:
        """Make every token of the app invalid at once (tests of the refresh path)."""
        app = self._app(client_id)
        app.token = None
        self._tokens = {t: v for t, v in self._tokens.items() if v[0] != client_id}

    def admit_call(self, client_id: str) -> bool:
        """Count a call against the app's QPS; False when it is over the limit."""
        limit = self.settings.qps_limit
        if limit is None:
            return True
        calls = self._app(client_id).calls
        now = self.clock.now()
        while calls and calls[0] <= now - self.settings.qps_window:
            calls.popleft()
        if len(calls) >= limit:
            return False
        calls.append(now)
        return True

    def admit_person(self, client_id: str, user_id: str) -> bool:
        """Count a batchSend delivery to a person; False when flow-controlled."""
        limit = self.settings.flow_limit
        if limit is None:
            return True
        sent = self._app(client_id).flow.setdefault(user_id, deque())
        now = self.clock.now()
        while sent and sent[0] <= now - self.settings.flow_window:
            sent.popleft()
        if len(sent) >= limit:
            return False
        sent.append(now)
        return True

    def inject_fault(self, client_id: str, fault: AppFault) -> None:
        """Make the app's next ``fault.count`` API calls fail (queued after others)."""
        self._app(client_id).faults.add(fault)
        self._changed()

    def clear_faults(self, client_id: str) -> None:
        """Drop the app's pending faults."""
        self._app(client_id).faults.clear()
        self._changed()

    def pending_faults(self, client_id: str) -> list[AppFault]:
        """Return the app's queued faults, each with the count still to strike."""
        return self._app(client_id).faults.pending()

    def take_fault(self, client_id: str | None) -> AppFault | None:
        """Consume one strike of the app's next fault (used by the HTTP server)."""
        app = self._apps.get(client_id) if client_id is not None else None
        return None if app is None else app.faults.take()

    # -- media and sessions ----------------------------------------------------------

    def store_media(self, media: Media) -> Media:
        """Keep an upload; the oldest go when MEDIA_STORE_BYTES is exceeded."""
        self._media[media.media_id] = media
        self._media_bytes += len(media.data)
        while self._media_bytes > rules.MEDIA_STORE_BYTES and len(self._media) > 1:
            oldest = self._media.pop(next(iter(self._media)))
            self._media_bytes -= len(oldest.data)
        return media

    def media(self, media_id: str) -> Media:
        """Return an upload (KeyError if unknown)."""
        try:
            return self._media[media_id]
        except KeyError:
            raise KeyError(f"no media {media_id}") from None

    def has_media(self, media_id: str) -> bool:
        """Whether a media_id was uploaded (and is still kept)."""
        return media_id in self._media

    def open_session(self, session: Session) -> str:
        """Remember a sessionWebhook; return its session token."""
        token = secrets.token_urlsafe(24)
        self._sessions[token] = session
        while len(self._sessions) > self.history_limit:
            del self._sessions[next(iter(self._sessions))]
        return token

    def session(self, token: str | None) -> Session | None:
        """Return the session behind a token if it has not expired."""
        session = self._sessions.get(token) if token is not None else None
        if session is None or self.clock.now() >= session.expires_at:
            return None
        return session

    def session_url(self, token: str) -> str:
        """Return the sessionWebhook URL of a session token."""
        return f"{self.base_url}/robot/sendBySession?session={token}"

    # -- people writing ----------------------------------------------------------------

    def chat(
        self,
        client_id: str,
        user_id: str,
        text: str,
        *,
        group: str | None = None,
        at_robot: bool = False,
    ) -> ChatMessage:
        """Write ``text`` as a person, 1:1 or in a group; pushes a Stream callback."""
        return chat.write(
            self, client_id, user_id, text, group=group, at_robot=at_robot
        )

    # -- history ---------------------------------------------------------------------

    def next_seq(self) -> int:
        """Return the next sequence number of a conversation entry."""
        self._entry_seq += 1
        return self._entry_seq

    def add_entry(self, entry: Entry) -> Entry:
        """Record a robot message or a person's message; tell live views."""
        self._entries.append(entry)
        self._emit(Event(EventKind.APP_ENTRY, entry=entry))
        return entry

    def record_request(self, **fields: Any) -> AppRequest:  # noqa: ANN401 - AppRequest's
        """Record one API call (AppRequest fields but seq and at); tell live views."""
        self._request_seq += 1
        record = AppRequest(seq=self._request_seq, at=self.clock.now(), **fields)
        self._requests.append(record)
        self._emit(Event(EventKind.APP_REQUEST, app_request=record))
        return record

    @property
    def requests(self) -> list[AppRequest]:
        """Every app API call, oldest first (the last ``history_limit``)."""
        return list(self._requests)

    def messages(
        self, client_id: str | None = None, conversation: str | None = None
    ) -> list[AppMessage]:
        """Robot messages, oldest first; only one app's or conversation's if given."""
        return [
            entry
            for entry in self._entries
            if isinstance(entry, AppMessage)
            and client_id in {None, entry.client_id}
            and conversation in {None, entry.conversation_id}
        ]

    def chats(
        self, client_id: str | None = None, conversation: str | None = None
    ) -> list[ChatMessage]:
        """Messages people wrote, oldest first; filtered like ``messages``."""
        return [
            entry
            for entry in self._entries
            if isinstance(entry, ChatMessage)
            and client_id in {None, entry.client_id}
            and conversation in {None, entry.conversation_id}
        ]

    def conversation(self, conversation_id: str) -> list[Entry]:
        """Everything said in one conversation, oldest first."""
        return [e for e in self._entries if e.conversation_id == conversation_id]

    def deliver(self, **fields: Any) -> AppMessage:  # noqa: ANN401 - AppMessage's
        """Deliver a robot message (AppMessage fields but seq and at)."""
        message = AppMessage(seq=self.next_seq(), at=self.clock.now(), **fields)
        self.add_entry(message)
        return message

    def reset(self) -> None:
        """Forget history, windows, counters, faults, sessions and media."""
        # Apps, people, groups and valid tokens stay.
        for app in self._apps.values():
            app.clear()
        self._entries.clear()
        self._requests.clear()
        self._sessions.clear()
        self._media.clear()
        self._media_bytes = 0

    # -- internals -------------------------------------------------------------------

    def _app(self, client_id: str) -> _App:
        """Return the app with this client_id, or raise KeyError."""
        try:
            return self._apps[client_id]
        except KeyError:
            raise KeyError(f"no app {client_id}") from None

    def _changed(self) -> None:
        """Tell live views that the configuration changed."""
        self._emit(Event(EventKind.APPS))


def new_process_query_key() -> str:
    """Return a processQueryKey like DingTalk's (base64 of 32 random bytes)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()
