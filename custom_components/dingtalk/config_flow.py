"""Config flow for DingTalk robots: add, reauthenticate, reconfigure, options.

Before a robot is saved the flow proves that DingTalk accepts its token, secret and
keywords. By default it sends a short visible test message. Without one it sends a
probe: a markdown message that contains the robot's keywords but no title. DingTalk
checks a request in this order: access token, signature and its timestamp, IP
allowlist, content type and JSON, keywords, and only then the message fields. So an
answer that complains about a missing field (errcode 400402 for the probe's title,
see PROBE_ACCEPTED_ERRCODES) can only come after the token, the signature, the IP and
the keywords were accepted; the probe itself never reaches the group. This ordering
is an assumption from DingTalk's observed behaviour, not a documented guarantee.

Reauthentication and Reconfigure never send the stored access token or secret to the
frontend: their webhook and secret fields start empty, and a field left empty keeps
the stored value. A new webhook may belong to a new token (DingTalk rotates it when a
robot is re-created); the entry's unique id follows it, unless another entry already
has that robot.

Each request the flow makes is one of the robot's 20 a minute. Its wall time is kept
(outbox.async_record_flow_send) until the robot's outbox is set up, for a new robot or
in the reload after reauthentication or Reconfigure, and counts in its rate window.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final, NamedTuple, override

from homeassistant.config_entries import (
    SOURCE_USER,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_NAME
from homeassistant.core import callback
from homeassistant.data_entry_flow import AbortFlow
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
    InvalidWebhookError,
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
    DOMAIN,
    LOGGER,
    MAX_KEYWORDS,
    DingTalkFormat,
)
from .entry_data import normalize_keywords, webhook_url
from .flow_sends import async_record_flow_send
from .migration import MINOR_VERSION, VERSION
from .policy import BASE, policy_for

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from homeassistant.core import HomeAssistant

    from .api import Message
    from .runtime import DingTalkConfigEntry

API_ERROR: Final = "api_error"

TEST_MESSAGES: Final[Mapping[str, str]] = {
    "en": "Home Assistant is now connected to this DingTalk robot ({name}).",
    "zh": "Home Assistant 已连接到这个钉钉机器人（{name}）。",
}
"""The visible test message, by language (Simplified Chinese for any zh-*)."""

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

STEP_USER_SCHEMA: Final = probatio.Schema(
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


def _entered_or_stored(
    user_input: Mapping[str, Any], stored: Mapping[str, Any], key: str
) -> str | None:
    """Return what the user entered in a field, or the stored value when left empty."""
    value: str | None = (user_input.get(key) or "").strip() or stored.get(key)
    return value


class CheckedRobot(NamedTuple):
    """A robot DingTalk accepted: its unique id and the entry data to store."""

    unique_id: str
    data: dict[str, Any]


class DingTalkConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a DingTalk robot."""

    VERSION = VERSION
    MINOR_VERSION = MINOR_VERSION

    def __init__(self) -> None:
        """Start with no error placeholders."""
        self._placeholders: dict[str, str] = {}
        self._reauth_started = 0.0

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
        webhook_value: str | None,
        secret: str | None,
        keywords: list[str],
        *,
        name: str | None = None,
        test_message: str | None = None,
    ) -> CheckedRobot | DingTalkCheckFailure:
        """Check the robot; return what to store, or why it failed."""
        self._placeholders = {}
        try:
            webhook = Webhook.parse(webhook_value or "")
        except InvalidWebhookError as err:
            return DingTalkCheckFailure(CONF_WEBHOOK, f"webhook_{err.problem}")
        if len(keywords) > MAX_KEYWORDS:
            return DingTalkCheckFailure(CONF_KEYWORDS, "too_many_keywords")
        unique_id = webhook.token_fingerprint()
        if self.source == SOURCE_USER:
            await self.async_set_unique_id(unique_id)
            self._abort_if_unique_id_configured()
        else:
            self._abort_if_other_robot(unique_id)
        if name is not None and name_in_use(
            name,
            (
                entry.title
                for entry in self._async_current_entries(include_ignore=False)
            ),
        ):
            return DingTalkCheckFailure(CONF_NAME, "name_in_use")
        if failure := await async_check_robot(
            self.hass, webhook, secret, keywords, test_message=test_message
        ):
            self._placeholders = failure.placeholders
            return failure
        data = {
            CONF_WEBHOOK: webhook_url(webhook),
            CONF_SECRET: secret,
            CONF_KEYWORDS: keywords,
        }
        return CheckedRobot(unique_id, data)

    def _abort_if_other_robot(self, unique_id: str) -> None:
        """Abort when a new webhook belongs to another configured robot.

        Reauthentication and Reconfigure accept a new access token (DingTalk gives a
        re-created robot a new one); only another entry's robot is refused.
        """
        other = self.hass.config_entries.async_entry_for_domain_unique_id(
            DOMAIN, unique_id
        )
        if other is not None and other.entry_id != self.context.get("entry_id"):
            raise AbortFlow("already_configured")

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
            result = await self._async_validate(
                user_input[CONF_WEBHOOK],
                (user_input.get(CONF_SECRET) or "").strip() or None,
                normalize_keywords(user_input.get(CONF_KEYWORDS)),
                name=name,
                test_message=test_message,
            )
            if isinstance(result, CheckedRobot):
                return self.async_create_entry(title=name, data=result.data)
            errors = form_errors(result, STEP_USER_SCHEMA)
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
        self._reauth_started = time.time()
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the robot's current webhook or secret; empty keeps the stored one.

        If the robot delivered a message since the reauthentication started (the
        admin restored its settings in DingTalk), the step says so instead.
        """
        entry = self._get_reauth_entry()
        unchanged = user_input is None or not (
            (user_input.get(CONF_WEBHOOK) or "").strip()
            or (user_input.get(CONF_SECRET) or "").strip()
        )
        if unchanged and self._delivered_since(entry, self._reauth_started):
            return self.async_abort(
                reason="reauth_not_needed",
                description_placeholders={"name": entry.title},
            )
        errors: dict[str, str] = {}
        if user_input is not None:
            result = await self._async_validate(
                _entered_or_stored(user_input, entry.data, CONF_WEBHOOK),
                _entered_or_stored(user_input, entry.data, CONF_SECRET),
                list(entry.data.get(CONF_KEYWORDS, [])),
                test_message=self._test_message(user_input, entry.title),
            )
            if isinstance(result, CheckedRobot):
                return self.async_update_reload_and_abort(
                    entry, unique_id=result.unique_id, data=result.data
                )
            errors = form_errors(result, STEP_REAUTH_SCHEMA)
        # The stored token and secret never go to the frontend: no suggested values.
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=self.add_suggested_values_to_schema(
                STEP_REAUTH_SCHEMA, _flags(user_input)
            ),
            errors=errors,
            description_placeholders={"name": entry.title, **self._placeholders},
        )

    @staticmethod
    def _delivered_since(entry: DingTalkConfigEntry, since: float) -> bool:
        """Whether the loaded robot delivered a message after wall time ``since``."""
        runtime = getattr(entry, "runtime_data", None)
        delivered = None if runtime is None else runtime.outbox.last_delivered_at
        return delivered is not None and delivered >= since

    def _test_message(self, user_input: Mapping[str, Any], name: str) -> str | None:
        """Return the visible test message if the user asked for one."""
        if not user_input.get(CONF_SEND_TEST_MESSAGE, True):
            return None
        return test_message_text(self.hass.config.language, name)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the webhook, secret or keywords; empty webhook or secret keeps it."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            result = await self._async_validate(
                _entered_or_stored(user_input, entry.data, CONF_WEBHOOK),
                _entered_or_stored(user_input, entry.data, CONF_SECRET),
                normalize_keywords(user_input.get(CONF_KEYWORDS)),
                test_message=self._test_message(user_input, entry.title),
            )
            if isinstance(result, CheckedRobot):
                return self.async_update_reload_and_abort(
                    entry, unique_id=result.unique_id, data=result.data
                )
            errors = form_errors(result, STEP_RECONFIGURE_SCHEMA)
        # Only the keywords are suggested: the token and secret stay in the backend.
        keywords = (entry.data if user_input is None else user_input).get(CONF_KEYWORDS)
        suggested = {CONF_KEYWORDS: keywords} if keywords else {}
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                STEP_RECONFIGURE_SCHEMA, suggested | _flags(user_input)
            ),
            errors=errors,
            description_placeholders={"name": entry.title, **self._placeholders},
        )


def _flags(user_input: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the test-message choice to show again with an error."""
    if user_input is None or CONF_SEND_TEST_MESSAGE not in user_input:
        return {}
    return {CONF_SEND_TEST_MESSAGE: user_input[CONF_SEND_TEST_MESSAGE]}


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
