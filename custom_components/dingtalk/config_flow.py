"""Config flow for DingTalk robots: add, reauthenticate, reconfigure, options.

Before a robot is saved the flow proves that DingTalk accepts its token, secret and
keywords. By default it sends a short visible test message. Without one it sends a
probe: a markdown message that contains the robot's keywords but no title. DingTalk
checks a request in this order: access token, signature and its timestamp, IP
allowlist, content type and JSON, keywords, and only then the message fields. So an
answer that complains about the probe's missing title (errcode 400402, or any other
content error) can only come after the token, the signature, the IP and the keywords
were accepted; the probe itself never reaches the group. This ordering is an
assumption from DingTalk's observed behaviour, not a documented guarantee.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final, NamedTuple, override

from homeassistant.config_entries import (
    SOURCE_USER,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_NAME
from homeassistant.core import callback
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
import probatio
from yarl import URL

from .api import (
    DingTalkApiError,
    DingTalkClient,
    DingTalkError,
    DingTalkTransportError,
    InvalidTokenError,
    InvalidWebhookError,
    IPNotAllowedError,
    KeywordError,
    Markdown,
    MessageFormatError,
    RateLimitedError,
    RobotUnavailableError,
    SignatureError,
    Text,
    TimestampError,
    Webhook,
    prepare,
)
from .const import (
    CONF_DEFAULT_FORMAT,
    CONF_DEFAULT_TARGET,
    CONF_KEYWORDS,
    CONF_SECRET,
    CONF_SEND_TEST_MESSAGE,
    CONF_WEBHOOK,
    DEFAULT_FORMAT,
    DEFAULT_TARGET,
    DOMAIN,
    LOGGER,
    MAX_KEYWORDS,
    DingTalkFormat,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from homeassistant.core import HomeAssistant

    from .runtime import DingTalkConfigEntry

BASE: Final = "base"
KEYWORD_SEPARATORS: Final = re.compile(r"[,，、;；\n]")

TEST_MESSAGES: Final[Mapping[str, str]] = {
    "en": "Home Assistant is now connected to this DingTalk robot ({name}).",
    "zh": "Home Assistant 已连接到这个钉钉机器人（{name}）。",
}
"""The visible test message, by language (Simplified Chinese for any zh-*)."""

PROBE_TEXT: Final = "Home Assistant connection check"

CHECK_ERRORS: Final[tuple[tuple[type[DingTalkError], str, str], ...]] = (
    (InvalidTokenError, CONF_WEBHOOK, "invalid_token"),
    (TimestampError, BASE, "clock_out_of_sync"),
    (KeywordError, CONF_KEYWORDS, "keyword_required"),
    (IPNotAllowedError, BASE, "ip_not_allowed"),
    (RobotUnavailableError, BASE, "robot_unavailable"),
    (RateLimitedError, BASE, "rate_limited"),
    (DingTalkTransportError, BASE, "cannot_connect"),
)
"""Form field and error key for each client error, most specific first."""

WEBHOOK_SELECTOR: Final = TextSelector(TextSelectorConfig(type=TextSelectorType.TEXT))
SECRET_SELECTOR: Final = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="off")
)
KEYWORDS_SELECTOR: Final = TextSelector(TextSelectorConfig(multiple=True))

STEP_USER_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_NAME): TextSelector(),
        probatio.Required(CONF_WEBHOOK): WEBHOOK_SELECTOR,
        probatio.Optional(CONF_SECRET): SECRET_SELECTOR,
        probatio.Optional(CONF_KEYWORDS): KEYWORDS_SELECTOR,
        probatio.Required(CONF_SEND_TEST_MESSAGE, default=True): BooleanSelector(),
    }
)
STEP_REAUTH_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_WEBHOOK): WEBHOOK_SELECTOR,
        probatio.Optional(CONF_SECRET): SECRET_SELECTOR,
    }
)
STEP_RECONFIGURE_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_WEBHOOK): WEBHOOK_SELECTOR,
        probatio.Optional(CONF_SECRET): SECRET_SELECTOR,
        probatio.Optional(CONF_KEYWORDS): KEYWORDS_SELECTOR,
    }
)
OPTIONS_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_DEFAULT_FORMAT, default=DEFAULT_FORMAT): SelectSelector(
            SelectSelectorConfig(
                options=list(DingTalkFormat),
                mode=SelectSelectorMode.DROPDOWN,
                translation_key=CONF_DEFAULT_FORMAT,
            )
        ),
        probatio.Required(CONF_DEFAULT_TARGET, default=DEFAULT_TARGET): (
            BooleanSelector()
        ),
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


def normalize_keywords(value: Iterable[str] | str | None) -> list[str]:
    """Split comma lists, strip blanks and duplicates, keep the order."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    words = (word.strip() for item in items for word in KEYWORD_SEPARATORS.split(item))
    return list(dict.fromkeys(word for word in words if word))


def webhook_url(webhook: Webhook) -> str:
    """Return the canonical webhook URL stored in the entry."""
    return str(URL(webhook.endpoint).with_query(access_token=webhook.access_token))


def test_message_text(language: str, name: str) -> str:
    """Return the visible test message in the user's language."""
    key = "zh" if language.lower().startswith("zh") else "en"
    return TEST_MESSAGES[key].format(name=name)


async def async_check_robot(
    hass: HomeAssistant,
    webhook: Webhook,
    secret: str | None,
    keywords: list[str],
    *,
    test_message: str | None,
) -> DingTalkCheckFailure | None:
    """Send the test message (or the probe); return why it failed, or None."""
    client = DingTalkClient(webhook, secret, session=async_get_clientsession(hass))
    try:
        if test_message is not None:
            for part in prepare(Text(content=test_message), keywords=keywords):
                await client.send(part)
        else:
            probe_text = " ".join([PROBE_TEXT, *keywords])
            await client.send(_DingTalkProbe(title=PROBE_TEXT, text=probe_text))
    except DingTalkError as err:
        return check_failure(
            err, webhook, signed=secret is not None, probe=test_message is None
        )
    except Exception:  # noqa: BLE001 - last resort: the user sees "unknown"
        LOGGER.exception("Unexpected exception while checking a DingTalk robot")
        return DingTalkCheckFailure(BASE, "unknown")
    return None


def check_failure(
    err: DingTalkError, webhook: Webhook, *, signed: bool, probe: bool
) -> DingTalkCheckFailure | None:
    """Map a client error to a form error; the probe's content error is success."""
    if probe and isinstance(err, MessageFormatError):
        # The expected answer: everything DingTalk checks before the fields passed.
        return None
    if isinstance(err, SignatureError):
        return DingTalkCheckFailure(
            CONF_SECRET, "invalid_signature" if signed else "secret_required"
        )
    for cls, field, error in CHECK_ERRORS:
        if isinstance(err, cls):
            return DingTalkCheckFailure(field, error)
    if isinstance(err, DingTalkApiError):
        LOGGER.debug(
            "Robot %s refused the check: errcode %s",
            webhook.token_fingerprint(),
            err.errcode,
        )
        return DingTalkCheckFailure(
            BASE, "api_error", {"errcode": str(err.errcode), "errmsg": err.errmsg}
        )
    LOGGER.debug("Robot %s check failed: %s", webhook.token_fingerprint(), err)
    return DingTalkCheckFailure(BASE, "unknown")


class DingTalkConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a DingTalk robot."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with no error placeholders."""
        self._placeholders: dict[str, str] = {}

    @staticmethod
    @callback
    @override
    def async_get_options_flow(
        config_entry: DingTalkConfigEntry,
    ) -> DingTalkOptionsFlow:
        """Return the options flow."""
        return DingTalkOptionsFlow()

    async def _async_validate(
        self,
        user_input: Mapping[str, Any],
        keywords: list[str],
        *,
        test_message: str | None = None,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Check the robot; return the entry data and the errors for the form."""
        self._placeholders = {}
        try:
            webhook = Webhook.parse(user_input[CONF_WEBHOOK])
        except InvalidWebhookError:
            return {}, {CONF_WEBHOOK: "invalid_webhook"}
        if len(keywords) > MAX_KEYWORDS:
            return {}, {CONF_KEYWORDS: "too_many_keywords"}
        await self.async_set_unique_id(webhook.token_fingerprint())
        if self.source == SOURCE_USER:
            self._abort_if_unique_id_configured()
        else:
            self._abort_if_unique_id_mismatch()
        secret = (user_input.get(CONF_SECRET) or "").strip() or None
        if failure := await async_check_robot(
            self.hass, webhook, secret, keywords, test_message=test_message
        ):
            self._placeholders = failure.placeholders
            return {}, {failure.field: failure.error}
        data = {
            CONF_WEBHOOK: webhook_url(webhook),
            CONF_SECRET: secret,
            CONF_KEYWORDS: keywords,
        }
        return data, {}

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the robot and prove that it works."""
        errors: dict[str, str] = {}
        if user_input is not None:
            name = user_input[CONF_NAME].strip() or "DingTalk"
            test_message = (
                test_message_text(self.hass.config.language, name)
                if user_input[CONF_SEND_TEST_MESSAGE]
                else None
            )
            data, errors = await self._async_validate(
                user_input,
                normalize_keywords(user_input.get(CONF_KEYWORDS)),
                test_message=test_message,
            )
            if not errors:
                return self.async_create_entry(title=name, data=data)
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                STEP_USER_SCHEMA, user_input
            ),
            errors=errors,
            description_placeholders=self._placeholders,
        )

    async def async_step_reauth(
        self,
        entry_data: Mapping[str, Any],  # noqa: ARG002 - part of the API
    ) -> ConfigFlowResult:
        """Start reauthentication after DingTalk refused the token or signature."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the robot's current webhook and secret."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = await self._async_validate(
                user_input, list(entry.data.get(CONF_KEYWORDS, []))
            )
            if not errors:
                return self.async_update_reload_and_abort(entry, data_updates=data)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=self.add_suggested_values_to_schema(
                STEP_REAUTH_SCHEMA,
                user_input or {CONF_WEBHOOK: entry.data[CONF_WEBHOOK]},
            ),
            errors=errors,
            description_placeholders={"name": entry.title, **self._placeholders},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the robot's webhook, secret or keywords."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = await self._async_validate(
                user_input, normalize_keywords(user_input.get(CONF_KEYWORDS))
            )
            if not errors:
                return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                STEP_RECONFIGURE_SCHEMA,
                user_input
                or {key: value for key, value in entry.data.items() if value},
            ),
            errors=errors,
            description_placeholders={"name": entry.title, **self._placeholders},
        )


class DingTalkOptionsFlow(OptionsFlowWithReload):
    """Change how a robot formats messages and whether it is a default target."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and save the options."""
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                OPTIONS_SCHEMA, self.config_entry.options
            ),
        )
