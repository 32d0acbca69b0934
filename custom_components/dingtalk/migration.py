"""Take over config entries of earlier versions and of other DingTalk integrations.

Other custom integrations used the domain ``dingtalk`` too. Their entries are
VERSION 1 like ours but store other keys: ``webhook`` as the full URL or ``token``
with ``secret``, and often the raw webhook URL (the access token!) as unique id.
MINOR_VERSION 2 rewrites every entry into our shape: the canonical webhook URL, the
secret, the keywords, and the token's fingerprint as unique id. An entry whose
webhook cannot be read keeps its data, gets a unique id without the token, and
raises a repair issue that says what to do; setting it up then fails with a
translated error. Nothing here raises.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Final

from yarl import URL

from .api import InvalidWebhookError, Webhook, WebhookProblem
from .const import (
    CONF_COMBINE,
    CONF_DEFAULT_FORMAT,
    CONF_DEFAULT_TARGET,
    CONF_KEYWORDS,
    CONF_SECRET,
    CONF_WEBHOOK,
    DOMAIN,
    DingTalkFormat,
    DingTalkNotice,
)
from .delivery import async_notice
from .entry_data import normalize_keywords, webhook_url

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .runtime import DingTalkConfigEntry

_LOGGER: Final = logging.getLogger(__name__)

VERSION: Final = 1
MINOR_VERSION: Final = 2

WEBHOOK_KEYS: Final = (CONF_WEBHOOK, "webhook_url", "url", "token", "access_token")
"""Where DingTalk integrations keep the webhook or its token, in order."""
SECRET_KEYS: Final = (CONF_SECRET, "sign_secret", "secret_key")
KEYWORD_KEYS: Final = (CONF_KEYWORDS, "keyword")
OPTION_VALUES: Final[dict[str, frozenset[object]]] = {
    CONF_DEFAULT_FORMAT: frozenset(str(value) for value in DingTalkFormat),
    CONF_DEFAULT_TARGET: frozenset({True, False}),
    CONF_COMBINE: frozenset({True, False}),
}
"""Options an entry may keep, with their valid values."""


def fingerprint(value: str) -> str:
    """Return a non-reversible id for a text that must not be a unique id."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]


async def async_migrate_entry(hass: HomeAssistant, entry: DingTalkConfigEntry) -> bool:
    """Rewrite an entry of an earlier version or another integration into ours.

    Home Assistant calls this only for VERSION 1 entries older than MINOR_VERSION (an
    entry of a newer release it refuses by itself, without calling this).
    """
    data = dict(entry.data)
    raw = next(
        (str(data[key]) for key in WEBHOOK_KEYS if isinstance(data.get(key), str)), ""
    )
    token = _token(raw)
    options = {
        key: value
        for key, value in entry.options.items()
        if value in OPTION_VALUES.get(key, frozenset())
    }
    if token is None:
        _LOGGER.warning(
            "DingTalk entry %s has no webhook this integration can read", entry.title
        )
        _async_foreign_notice(hass, entry)
        hass.config_entries.async_update_entry(
            entry,
            unique_id=None if entry.unique_id is None else fingerprint(entry.unique_id),
            options=options,
            version=VERSION,
            minor_version=MINOR_VERSION,
        )
        return True
    try:
        webhook = webhook_url(Webhook.parse(raw))
    except InvalidWebhookError:
        webhook = raw  # plain http to a public host: setup says so
    secret = next(
        (str(data[key]).strip() for key in SECRET_KEYS if data.get(key)), None
    )
    keywords = next((data[key] for key in KEYWORD_KEYS if data.get(key)), None)
    unique_id: str | None = fingerprint(token)
    other = hass.config_entries.async_entry_for_domain_unique_id(
        DOMAIN, fingerprint(token)
    )
    if other is not None and other.entry_id != entry.entry_id:
        unique_id = None  # the same robot twice: the user deletes one
        _async_foreign_notice(hass, entry)
    hass.config_entries.async_update_entry(
        entry,
        data={
            CONF_WEBHOOK: webhook,
            CONF_SECRET: secret or None,
            CONF_KEYWORDS: normalize_keywords(keywords),
        },
        options=options,
        unique_id=unique_id,
        version=VERSION,
        minor_version=MINOR_VERSION,
    )
    return True


def _token(raw: str) -> str | None:
    """Return the access token in a webhook (any scheme) or a bare token."""
    try:
        return Webhook.parse(raw).access_token
    except InvalidWebhookError as err:
        if err.problem is not WebhookProblem.INSECURE:
            return None
    tokens = URL(raw.strip()).query.getall("access_token", [])
    return tokens[0] if tokens else None


def _async_foreign_notice(hass: HomeAssistant, entry: DingTalkConfigEntry) -> None:
    """Tell the user an entry cannot be taken over as it is, and what to do."""
    async_notice(hass, entry.entry_id, DingTalkNotice.FOREIGN_ENTRY, robot=entry.title)
