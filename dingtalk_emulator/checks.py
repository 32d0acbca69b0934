"""The individual checks of POST /robot/send, as pure functions."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping, Sequence
import hashlib
import hmac
import ipaddress
import re
from urllib.parse import parse_qsl

from . import rules
from .models import MENTION_IGNORED, Mentions, Notice

type Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_query(raw_query: str) -> dict[str, str]:
    """Decode a raw query string once (parse_qsl); the first value of a key wins."""
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query.setdefault(key, value)
    return query


def expected_sign(secret: str, timestamp: str) -> str:
    """Return base64(HMAC-SHA256(secret, timestamp + LF + secret)), not URL-encoded."""
    digest = hmac.new(
        secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def sign_matches(secret: str, timestamp: str, sign: str) -> bool:
    """Whether ``sign`` (already URL-decoded once) is the right signature."""
    return hmac.compare_digest(
        expected_sign(secret, timestamp).encode(), sign.encode("utf-8", "replace")
    )


def parse_timestamp(value: str) -> int | None:
    """Return the millisecond timestamp in ``value``, or None if it is not one."""
    if not value.isascii() or not value.isdigit():
        return None
    return int(value)


def networks(allowlist: Sequence[str]) -> tuple[Network, ...]:
    """Parse an IP allowlist of addresses and CIDR ranges."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in allowlist)


def ip_allowed(remote: str | None, allowed: Sequence[Network]) -> bool:
    """Whether the caller's IP is inside one of the allowed networks."""
    if remote is None:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in allowed)


def content_type_ok(value: str | None) -> bool:
    """Whether the Content-Type is JSON with no charset or a UTF-8 one."""
    if value is None:
        return False
    media_type, *params = value.split(";")
    if media_type.strip().lower() != rules.JSON_MEDIA_TYPE:
        return False
    for param in params:
        name, _, setting = param.partition("=")
        if name.strip().lower() == "charset":
            charset = setting.strip().strip('"').lower()
            if charset not in rules.ACCEPTED_CHARSETS:
                return False
    return True


def _field_values(obj: object, path: str) -> Iterator[object]:
    """Yield the values at a dotted path; "name[]" steps into every list element."""
    head, _, rest = path.partition(".")
    if not isinstance(obj, Mapping):
        return
    if head.endswith("[]"):
        items = obj.get(head[:-2])
        if isinstance(items, list):
            for item in items:
                yield from _field_values(item, rest)
        return
    value = obj.get(head)
    if rest:
        yield from _field_values(value, rest)
    else:
        yield value


def keyword_texts(payload: Mapping[str, object]) -> Iterator[str]:
    """Yield the text-bearing fields that the keyword check scans (KEYWORD_FIELDS)."""
    msgtype = payload.get("msgtype")
    if not isinstance(msgtype, str):
        return
    body = payload.get(msgtype)
    for path in rules.KEYWORD_FIELDS.get(msgtype, ()):
        for value in _field_values(body, path):
            if isinstance(value, str):
                yield value


def has_keyword(payload: Mapping[str, object], keywords: Sequence[str]) -> bool:
    """Whether one of the keywords appears in one of the scanned fields."""
    return any(
        keyword in text for text in keyword_texts(payload) for keyword in keywords
    )


def _present(obj: Mapping[str, object], name: str) -> bool:
    """Whether ``obj[name]`` is a string with something other than whitespace."""
    value = obj.get(name)
    return isinstance(value, str) and bool(value.strip())


def _first_missing(obj: Mapping[str, object], names: Sequence[str]) -> str | None:
    """Return the first of ``names`` that is missing from ``obj``."""
    return next((name for name in names if not _present(obj, name)), None)


def _missing_button(body: Mapping[str, object]) -> list[str] | None:
    """Return the path of the missing part of an actionCard's buttons."""
    single = ("singleTitle", "singleURL")
    if any(_present(body, name) for name in single):
        missing = _first_missing(body, single)
        return None if missing is None else [missing]
    buttons = body.get("btns")
    if not isinstance(buttons, list) or not buttons:
        return ["btns"]
    for index, button in enumerate(buttons):
        if not isinstance(button, Mapping):
            return [f"btns[{index}]", "title"]
        missing = _first_missing(button, ("title", "actionURL"))
        if missing is not None:
            return [f"btns[{index}]", missing]
    return None


def _missing_link(body: Mapping[str, object]) -> list[str] | None:
    """Return the path of the missing part of a feedCard's links."""
    links = body.get("links")
    if not isinstance(links, list) or not links:
        return ["links"]
    for index, link in enumerate(links):
        if not isinstance(link, Mapping):
            return [f"links[{index}]", "title"]
        missing = _first_missing(link, ("title", "messageURL", "picURL"))
        if missing is not None:
            return [f"links[{index}]", missing]
    return None


_REQUIRED: dict[str, tuple[str, ...]] = {
    "text": ("content",),
    "markdown": ("title", "text"),
    "link": ("title", "text", "messageUrl"),
    "actionCard": ("title", "text"),
    "feedCard": (),
}


def missing_field(payload: Mapping[str, object]) -> list[str] | None:
    """Return the path (msgtype first) of the first missing required field, if any."""
    # The msgtype is one of SUPPORTED_MSGTYPES by now. A field is missing when it is
    # absent, not a string, or only whitespace.
    msgtype = str(payload["msgtype"])
    raw = payload.get(msgtype)
    body: Mapping[str, object] = raw if isinstance(raw, Mapping) else {}
    missing = _first_missing(body, _REQUIRED[msgtype])
    if missing is not None:
        return [msgtype, missing]
    tail: list[str] | None = None
    if msgtype == "actionCard":
        tail = _missing_button(body)
    elif msgtype == "feedCard":
        tail = _missing_link(body)
    return None if tail is None else [msgtype, *tail]


def _names(value: object) -> list[str]:
    """Return the mobiles/userIds of an "at" list (strings and numbers)."""
    if not isinstance(value, list):
        return []
    names = [
        str(item)
        for item in value
        if isinstance(item, str | int) and not isinstance(item, bool)
    ]
    return list(dict.fromkeys(name for name in names if name))


def _truthy(value: object) -> bool:
    """Read a JSON boolean the lenient way a Java JSON binder does."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def mention_pattern(name: str) -> re.Pattern[str]:
    """Match "@name" not followed by another word character (so @138 ≠ @1380)."""
    return re.compile(f"@{re.escape(name)}(?![0-9A-Za-z_])")


def analyse_mentions(payload: Mapping[str, object]) -> Mentions:
    """Work out who a (valid) message notifies, and what in "at" DingTalk ignores."""
    msgtype = str(payload.get("msgtype"))
    notices = [
        Notice(
            MENTION_IGNORED,
            f'top-level "{key}" is ignored: it belongs inside the "at" object',
        )
        for key in rules.AT_KEYS
        if key in payload
    ]
    raw_body = payload.get(msgtype)
    body: Mapping[str, object] = raw_body if isinstance(raw_body, Mapping) else {}
    if "at" in body:
        notices.append(
            Notice(
                MENTION_IGNORED,
                f'"{msgtype}.at" is ignored: "at" is a top-level key',
            )
        )
    raw_at = payload.get("at")
    at: Mapping[str, object] = raw_at if isinstance(raw_at, Mapping) else {}
    listed = _names(at.get("atMobiles")) + _names(at.get("atUserIds"))
    listed = list(dict.fromkeys(listed))
    at_all = _truthy(at.get("isAtAll"))
    field = rules.MENTION_FIELDS.get(msgtype)
    if field is None:
        if listed or at_all:
            notices.append(
                Notice(MENTION_IGNORED, f'{msgtype} messages do not support "at"')
            )
        return Mentions(silent=tuple(listed), notices=tuple(notices))
    text = body.get(field)
    text = text if isinstance(text, str) else ""
    rang = tuple(name for name in listed if mention_pattern(name).search(text))
    silent = tuple(name for name in listed if name not in rang)
    return Mentions(rang=rang, silent=silent, at_all=at_all, notices=tuple(notices))


def msg_uuid(payload: Mapping[str, object]) -> str | None:
    """Return the message's msgUuid (a non-empty string or a number), if any."""
    value = payload.get("msgUuid")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    return text or None
