"""Check a group webhook robot: the test message or the silent probe, and its form.

Before a robot is saved the flow proves that DingTalk accepts its token, secret and
keywords. By default it sends a short visible test message. Without one it sends a
probe: a markdown message that contains the robot's keywords but no title. DingTalk
checks a request in this order: access token, signature and its timestamp, IP
allowlist, content type and JSON, keywords, and only then the message fields. So an
answer that complains about a missing field (errcode 400402 for the probe's title,
see PROBE_ACCEPTED_ERRCODES) can only come after the token, the signature, the IP and
the keywords were accepted; the probe itself never reaches the group. This ordering
is an assumption from DingTalk's observed behaviour, not a documented guarantee.

Each request the flow makes is one of the robot's 20 a minute. Its wall time is kept
(flow_sends.async_record_flow_send) until the robot's outbox is set up, for a new
robot or in the reload after reauthentication or Reconfigure, and counts in its
rate window.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final, NamedTuple, override

from homeassistant.const import CONF_NAME
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    BooleanSelector,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.util import slugify
import probatio

from .api import (
    DingTalkApiError,
    DingTalkClient,
    DingTalkError,
    Markdown,
    SignatureError,
    Text,
    Webhook,
    prepare,
)
from .const import (
    CONF_COMBINE,
    CONF_DEFAULT_FORMAT,
    CONF_DEFAULT_TARGET,
    CONF_KEYWORDS,
    CONF_SECRET,
    CONF_SEND_TEST_MESSAGE,
    CONF_WEBHOOK,
    DEFAULT_COMBINE,
    DEFAULT_FORMAT,
    DEFAULT_TARGET,
    LOGGER,
    DingTalkFormat,
)
from .flow_sends import async_record_flow_send
from .policy import BASE, policy_for

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from homeassistant.core import HomeAssistant

    from .api import Message

API_ERROR: Final = "api_error"

TEST_MESSAGES: Final[Mapping[str, str]] = {
    "en": "Home Assistant is now connected to this DingTalk robot ({name}).",
    "zh": "Home Assistant 已连接到这个钉钉机器人（{name}）。",
}
"""The visible test message of a robot, by language (Simplified Chinese for zh-*)."""

PROBE_TEXT: Final = "Home Assistant connection check"

PROBE_ACCEPTED_ERRCODES: Final = frozenset(range(400401, 400411))
"""The answers that prove a probe passed: DingTalk's "required field missing" family.

400402 (markdown title missing) is the one the probe provokes; 400401-400410 are the
other missing-field codes (content, text, messageUrl, picURL, singleTitle, singleURL,
btns, actionURL, links). DingTalk checks the fields only after the token, the
signature, the IP allowlist, the content type and JSON, and the keywords, so one of
these answers proves all of those passed. Every other error fails the check, format
errors included: 40035 (bad JSON) and 43004 (content type) come before the keyword
check, so they prove nothing about the keywords.
"""

FIELDLESS_ERRORS: Final[Mapping[str, str]] = {
    "keyword_required": "keyword_required_reconfigure",
}
"""The base error shown instead of a field error on a form without that field."""

WEBHOOK_SELECTOR: Final = TextSelector(TextSelectorConfig(type=TextSelectorType.TEXT))
SECRET_SELECTOR: Final = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="off")
)
KEYWORDS_SELECTOR: Final = TextSelector(TextSelectorConfig(multiple=True))

STEP_ROBOT_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_NAME): TextSelector(),
        probatio.Required(CONF_WEBHOOK): WEBHOOK_SELECTOR,
        probatio.Optional(CONF_SECRET): SECRET_SELECTOR,
        probatio.Optional(CONF_KEYWORDS): KEYWORDS_SELECTOR,
        probatio.Required(CONF_SEND_TEST_MESSAGE, default=True): BooleanSelector(),
    }
)
# Reauthentication and Reconfigure: an empty webhook or secret keeps the stored one.
# Both also offer the visible test message: the silent probe relies on DingTalk's
# order of checks, and a robot must stay recoverable if that order changes.
STEP_REAUTH_SCHEMA: Final = probatio.Schema(
    {
        probatio.Optional(CONF_WEBHOOK): WEBHOOK_SELECTOR,
        probatio.Optional(CONF_SECRET): SECRET_SELECTOR,
        probatio.Required(CONF_SEND_TEST_MESSAGE, default=True): BooleanSelector(),
    }
)
STEP_RECONFIGURE_SCHEMA: Final = probatio.Schema(
    {
        probatio.Optional(CONF_WEBHOOK): WEBHOOK_SELECTOR,
        probatio.Optional(CONF_SECRET): SECRET_SELECTOR,
        probatio.Optional(CONF_KEYWORDS): KEYWORDS_SELECTOR,
        probatio.Required(CONF_SEND_TEST_MESSAGE, default=True): BooleanSelector(),
    }
)
FORMAT_OPTION: Final = {
    probatio.Required(CONF_DEFAULT_FORMAT, default=DEFAULT_FORMAT): SelectSelector(
        SelectSelectorConfig(
            options=list(DingTalkFormat),
            mode=SelectSelectorMode.DROPDOWN,
            translation_key=CONF_DEFAULT_FORMAT,
        )
    )
}
"""The default message format, an option of robots and apps alike."""
ROBOT_OPTIONS_SCHEMA: Final = probatio.Schema(
    {
        **FORMAT_OPTION,
        probatio.Required(CONF_DEFAULT_TARGET, default=DEFAULT_TARGET): (
            BooleanSelector()
        ),
        probatio.Required(CONF_COMBINE, default=DEFAULT_COMBINE): BooleanSelector(),
    }
)


class DingTalkCheckFailure(NamedTuple):
    """Why a robot check failed: the form field, the error key and its placeholders."""

    field: str
    error: str
    placeholders: dict[str, str] = {}  # noqa: RUF012 - never mutated


class _DingTalkProbe(Markdown):
    """A markdown message without its required title, which DingTalk rejects."""

    __slots__ = ()

    @override
    def to_payload(self) -> dict[str, Any]:
        """Return the markdown JSON without markdown.title."""
        payload = super().to_payload()
        del payload["markdown"]["title"]
        return payload


def localized_message(
    language: str, name: str, messages: Mapping[str, str] = TEST_MESSAGES
) -> str:
    """Return a visible test message in the user's language."""
    key = "zh" if language.lower().startswith("zh") else "en"
    return messages[key].format(name=name)


async def async_check_robot(
    hass: HomeAssistant,
    webhook: Webhook,
    secret: str | None,
    keywords: list[str],
    *,
    test_message: str | None,
) -> DingTalkCheckFailure | None:
    """Send the test message (or the probe); return why it failed, or None.

    Every request counts toward the robot's 20 a minute: its time is recorded for the
    robot's outbox, refused requests included.
    """
    client = DingTalkClient(webhook, secret, session=async_get_clientsession(hass))
    robot_id = webhook.token_fingerprint()
    try:
        if test_message is not None:
            for part in prepare(Text(content=test_message), keywords=keywords):
                await _async_send_counted(hass, client, robot_id, part)
        else:
            probe_text = " ".join([PROBE_TEXT, *keywords])
            await _async_send_counted(
                hass,
                client,
                robot_id,
                _DingTalkProbe(title=PROBE_TEXT, text=probe_text),
            )
    except DingTalkError as err:
        return check_failure(
            err, webhook, signed=secret is not None, probe=test_message is None
        )
    except Exception:  # noqa: BLE001 - last resort: the user sees "unknown"
        LOGGER.exception("Unexpected exception while checking a DingTalk robot")
        return DingTalkCheckFailure(BASE, "unknown")
    return None


async def _async_send_counted(
    hass: HomeAssistant, client: DingTalkClient, robot_id: str, message: Message
) -> None:
    """Send one request and record its wall time, whatever the answer."""
    try:
        await client.send(message)
    finally:
        async_record_flow_send(hass, robot_id, time.time())


def check_failure(
    err: DingTalkError, webhook: Webhook, *, signed: bool, probe: bool
) -> DingTalkCheckFailure | None:
    """Map a client error to a form error; a missing-field answer passes the probe."""
    if (
        probe
        and isinstance(err, DingTalkApiError)
        and err.errcode in PROBE_ACCEPTED_ERRCODES
    ):
        # The expected answer: everything DingTalk checks before the fields passed.
        return None
    if isinstance(err, SignatureError):
        return DingTalkCheckFailure(
            CONF_SECRET, "invalid_signature" if signed else "secret_required"
        )
    details = (
        {"errcode": str(err.errcode), "errmsg": err.errmsg}
        if isinstance(err, DingTalkApiError)
        else {}
    )
    # Every client error has a row in policy.POLICIES; the base one says "unknown".
    field, error = policy_for(err).flow_error or (BASE, API_ERROR)
    if error == API_ERROR:
        LOGGER.debug(
            "Robot %s refused the check: %s", webhook.token_fingerprint(), details
        )
        return DingTalkCheckFailure(BASE, API_ERROR, details)
    LOGGER.debug(
        "Robot %s check failed: %s", webhook.token_fingerprint(), type(err).__name__
    )
    return DingTalkCheckFailure(field, error, details)


def name_in_use(name: str, titles: Iterable[str]) -> bool:
    """Tell whether a robot name is taken, ignoring case and compared as a slug.

    The slug names the robot's action (notify.dingtalk_<slug>), so "Ops" and "OPS!"
    are the same name.
    """
    wanted, slug = name.casefold(), slugify(name)
    return any(wanted == title.casefold() or slug == slugify(title) for title in titles)


def form_errors(
    failure: DingTalkCheckFailure, schema: probatio.Schema
) -> dict[str, str]:
    """Show a failure on its field, or as a base error when the form lacks the field."""
    if failure.field in {str(marker) for marker in schema.schema}:
        return {failure.field: failure.error}
    return {BASE: FIELDLESS_ERRORS.get(failure.error, failure.error)}


def entered_or_stored(
    user_input: Mapping[str, Any], stored: Mapping[str, Any], key: str
) -> str | None:
    """Return what the user entered in a field, or the stored value when left empty."""
    value: str | None = (user_input.get(key) or "").strip() or stored.get(key)
    return value


class CheckedRobot(NamedTuple):
    """A robot DingTalk accepted: its unique id and the entry data to store."""

    unique_id: str
    data: dict[str, Any]
