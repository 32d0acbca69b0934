"""Config flow for DingTalk: group robots and apps, their people and groups, options.

Adding the integration starts with a menu: a group webhook robot (flow_robot checks
it) or a DingTalk app (flow_app checks it). An app's people and groups are its
subentries (flow_recipients).

Reauthentication and Reconfigure never send stored secrets to the frontend: their
secret fields start empty, and a field left empty keeps the stored value. A new
webhook may belong to a new token (DingTalk rotates it when a robot is re-created);
the entry's unique id follows it, unless another entry already has that robot.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final, override

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_USER,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_NAME
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    BooleanSelector,
    ConversationAgentSelector,
    LanguageSelector,
    LanguageSelectorConfig,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
)
from homeassistant.util import slugify
import probatio

from .api import InvalidWebhookError, Webhook
from .api.models import USER_ID_RE
from .const import (
    CONF_ALLOWED_USERS,
    CONF_ASSIST_LANGUAGE,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_COMBINE,
    CONF_CONVERSATION_AGENT,
    CONF_KEYWORDS,
    CONF_RECEIVE,
    CONF_SECRET,
    CONF_SEND_TEST_MESSAGE,
    CONF_UNSURE,
    CONF_WEBHOOK,
    DEFAULT_COMBINE,
    DOMAIN,
    LEGACY_SERVICE_NAME,
    MAX_KEYWORDS,
    SUBENTRY_GROUP,
    SUBENTRY_PERSON,
)
from .entry_data import is_app_entry, normalize_keywords, target_names, webhook_url
from .flow_app import (
    STEP_APP_REAUTH_SCHEMA,
    STEP_APP_RECONFIGURE_SCHEMA,
    STEP_APP_SCHEMA,
    app_data,
    async_check_app,
    suggested_app_values,
)
from .flow_language import async_flow_language
from .flow_recipients import GroupFlow, PersonFlow
from .flow_robot import (
    FORMAT_OPTION,
    ROBOT_OPTIONS_SCHEMA,
    STEP_REAUTH_SCHEMA,
    STEP_RECONFIGURE_SCHEMA,
    STEP_ROBOT_SCHEMA,
    CheckedRobot,
    DingTalkCheckFailure,
    async_check_robot,
    entered_or_stored,
    form_errors,
    localized_message,
    name_in_use,
)
from .migration import MINOR_VERSION, VERSION
from .outbox import UnsureDelivery
from .receive import allowed_users
from .runtime import DingTalkRuntime

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.config_entries import ConfigSubentryFlow

    from .runtime import DingTalkConfigEntry

APP_OPTIONS_SCHEMA: Final = probatio.Schema(
    {
        **FORMAT_OPTION,
        probatio.Required(CONF_COMBINE, default=DEFAULT_COMBINE): BooleanSelector(),
        probatio.Required(CONF_UNSURE, default=UnsureDelivery.RESEND): SelectSelector(
            SelectSelectorConfig(
                options=list(UnsureDelivery),
                mode=SelectSelectorMode.LIST,
                translation_key=CONF_UNSURE,
            )
        ),
        # Receiving (Stream mode) and Assist: off unless the owner switches them on.
        probatio.Optional(CONF_RECEIVE): BooleanSelector(),
        probatio.Optional(CONF_CONVERSATION_AGENT): ConversationAgentSelector(),
        probatio.Optional(CONF_ASSIST_LANGUAGE): LanguageSelector(
            LanguageSelectorConfig(native_name=True)
        ),
        probatio.Optional(CONF_ALLOWED_USERS): TextSelector(
            TextSelectorConfig(multiple=True)
        ),
    }
)


def app_options(
    user_input: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """Return an app's options to store, the form's errors and their placeholders."""
    options = dict(user_input)
    if CONF_ALLOWED_USERS in options:
        options[CONF_ALLOWED_USERS] = allowed_users(options[CONF_ALLOWED_USERS])
        for user_id in options[CONF_ALLOWED_USERS]:
            if not USER_ID_RE.fullmatch(user_id):
                return (
                    options,
                    {CONF_ALLOWED_USERS: "invalid_user_id"},
                    {"user_id": user_id},
                )
    if options.get(CONF_CONVERSATION_AGENT) and not options.get(CONF_RECEIVE):
        return options, {CONF_CONVERSATION_AGENT: "assist_needs_receiving"}, {}
    return options, {}, {}


class DingTalkConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a DingTalk group robot or app."""

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

    @classmethod
    @callback
    @override
    def async_get_supported_subentry_types(
        cls, config_entry: DingTalkConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Return the recipients an app can have: people and groups."""
        if not is_app_entry(config_entry):
            return {}
        return {SUBENTRY_PERSON: PersonFlow, SUBENTRY_GROUP: GroupFlow}

    async def async_step_user(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 - part of the API
    ) -> ConfigFlowResult:
        """Ask what to add: a group robot or an app."""
        return self.async_show_menu(step_id="user", menu_options=["robot", "app"])

    # ------------------------------------------------------------ group robots

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
        if failure := await self._async_check_unique_id(unique_id):
            return failure
        if name is not None and name_in_use(
            name, target_names(self._async_current_entries(include_ignore=False))
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

    async def _async_check_unique_id(
        self, unique_id: str
    ) -> DingTalkCheckFailure | None:
        """Refuse a robot that another entry has (a new token of this one is fine)."""
        other = self.hass.config_entries.async_entry_for_domain_unique_id(
            DOMAIN, unique_id
        )
        if self.source == SOURCE_USER:
            await self.async_set_unique_id(unique_id)
            if other is not None:
                return DingTalkCheckFailure(
                    CONF_WEBHOOK, "already_configured", {"other": other.title}
                )
        elif other is not None and other.entry_id != self.context.get("entry_id"):
            self._placeholders = {"other": other.title}
            return DingTalkCheckFailure(
                CONF_WEBHOOK, "webhook_other_robot", self._placeholders
            )
        return None

    async def async_step_robot(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the robot and prove that it works."""
        errors: dict[str, str] = {}
        if user_input is not None:
            name = user_input[CONF_NAME].strip() or "DingTalk"
            result = await self._async_validate(
                user_input[CONF_WEBHOOK],
                (user_input.get(CONF_SECRET) or "").strip() or None,
                normalize_keywords(user_input.get(CONF_KEYWORDS)),
                name=name,
                test_message=await self._test_message(user_input, name),
            )
            if isinstance(result, CheckedRobot):
                return self.async_create_entry(
                    title=name,
                    data=result.data,
                    description="robot_added",
                    description_placeholders={
                        "name": name,
                        "action": f"notify.{LEGACY_SERVICE_NAME}_{slugify(name)}",
                    },
                )
            if result.error == "already_configured":
                return self.async_abort(
                    reason="already_configured",
                    description_placeholders=result.placeholders,
                )
            errors = form_errors(result, STEP_ROBOT_SCHEMA)
        return self.async_show_form(
            step_id="robot",
            data_schema=self.add_suggested_values_to_schema(
                STEP_ROBOT_SCHEMA, user_input
            ),
            errors=errors,
            description_placeholders=self._placeholders,
        )

    async def async_step_reauth(
        self,
        entry_data: Mapping[str, Any],  # noqa: ARG002 - part of the API
    ) -> ConfigFlowResult:
        """Start reauthentication after DingTalk refused the credentials."""
        self._reauth_started = time.time()
        if is_app_entry(self._get_reauth_entry()):
            return await self.async_step_reauth_app()
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
                entered_or_stored(user_input, entry.data, CONF_WEBHOOK),
                entered_or_stored(user_input, entry.data, CONF_SECRET),
                list(entry.data.get(CONF_KEYWORDS, [])),
                test_message=await self._test_message(user_input, entry.title),
            )
            if isinstance(result, CheckedRobot):
                return self.async_update_reload_and_abort(
                    entry,
                    unique_id=result.unique_id,
                    data=result.data,
                    reason=self._success_reason(),
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

    def _success_reason(self) -> str:
        """Return this flow's own success text (Home Assistant's lacks languages)."""
        return (
            "reauth_successful"
            if self.source == SOURCE_REAUTH
            else "reconfigure_successful"
        )

    @staticmethod
    def _delivered_since(entry: DingTalkConfigEntry, since: float) -> bool:
        """Whether the loaded robot delivered a message after wall time ``since``."""
        runtime = getattr(entry, "runtime_data", None)
        if not isinstance(runtime, DingTalkRuntime):
            return False
        delivered = runtime.target.outbox.last_delivered_at
        return delivered is not None and delivered >= since

    async def _test_message(
        self, user_input: Mapping[str, Any], name: str
    ) -> str | None:
        """Return the visible test message (in the user's language) if asked for."""
        if not user_input.get(CONF_SEND_TEST_MESSAGE, True):
            return None
        return localized_message(await async_flow_language(self.hass), name)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the webhook, secret or keywords; empty webhook or secret keeps it."""
        entry = self._get_reconfigure_entry()
        if is_app_entry(entry):
            return await self.async_step_reconfigure_app(user_input)
        errors: dict[str, str] = {}
        if user_input is not None:
            result = await self._async_validate(
                entered_or_stored(user_input, entry.data, CONF_WEBHOOK),
                entered_or_stored(user_input, entry.data, CONF_SECRET),
                normalize_keywords(user_input.get(CONF_KEYWORDS)),
                test_message=await self._test_message(user_input, entry.title),
            )
            if isinstance(result, CheckedRobot):
                return self.async_update_reload_and_abort(
                    entry,
                    unique_id=result.unique_id,
                    data=result.data,
                    reason=self._success_reason(),
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

    # ------------------------------------------------------------------- apps

    async def async_step_app(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the app's credentials and prove them, posting nothing."""
        errors: dict[str, str] = {}
        self._placeholders = {}
        if user_input is not None:
            name = user_input[CONF_NAME].strip() or "DingTalk"
            data = app_data(user_input, {})
            await self.async_set_unique_id(data[CONF_CLIENT_ID] or None)
            if (
                other := self.hass.config_entries.async_entry_for_domain_unique_id(
                    DOMAIN, data[CONF_CLIENT_ID]
                )
            ) is not None:
                return self.async_abort(
                    reason="app_already_configured",
                    description_placeholders={"other": other.title},
                )
            failure = (
                DingTalkCheckFailure(CONF_NAME, "name_in_use")
                if name_in_use(name, self._entry_titles())
                else await async_check_app(self.hass, data)
            )
            if failure is None:
                return self.async_create_entry(
                    title=name,
                    data=data,
                    description="app_added",
                    description_placeholders={"name": name},
                )
            errors = form_errors(failure, STEP_APP_SCHEMA)
            self._placeholders = failure.placeholders
        return self.async_show_form(
            step_id="app",
            data_schema=self.add_suggested_values_to_schema(
                STEP_APP_SCHEMA, _without_secret(user_input)
            ),
            errors=errors,
            description_placeholders=self._placeholders,
        )

    def _entry_titles(self) -> list[str]:
        """Return the entries' titles and the recipients' names (shown beside them)."""
        entries = self._async_current_entries(include_ignore=False)
        return [entry.title for entry in entries] + target_names(entries)

    async def async_step_reauth_app(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the app's current Client Secret; empty keeps the stored one."""
        entry = self._get_reauth_entry()
        return await self._async_update_app(
            "reauth_app", STEP_APP_REAUTH_SCHEMA, entry, user_input
        )

    async def async_step_reconfigure_app(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the app's Client Secret, robot code or API hosts."""
        entry = self._get_reconfigure_entry()
        return await self._async_update_app(
            "reconfigure_app", STEP_APP_RECONFIGURE_SCHEMA, entry, user_input
        )

    async def _async_update_app(
        self,
        step_id: str,
        schema: probatio.Schema,
        entry: DingTalkConfigEntry,
        user_input: dict[str, Any] | None,
    ) -> ConfigFlowResult:
        """Check changed app settings, then save them and reload the app."""
        errors: dict[str, str] = {}
        self._placeholders = {}
        suggested: Mapping[str, Any] = suggested_app_values(entry.data)
        if user_input is not None:
            data = app_data(user_input, entry.data)
            failure = await async_check_app(self.hass, data)
            if failure is None:
                return self.async_update_reload_and_abort(
                    entry, data=data, reason=self._success_reason()
                )
            errors = form_errors(failure, schema)
            self._placeholders = failure.placeholders
            suggested = _without_secret(user_input) or {}
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
            description_placeholders={
                "name": entry.title,
                "client_id": entry.data[CONF_CLIENT_ID],
                **self._placeholders,
            },
        )


def _flags(user_input: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the test-message choice to show again with an error."""
    if user_input is None or CONF_SEND_TEST_MESSAGE not in user_input:
        return {}
    return {CONF_SEND_TEST_MESSAGE: user_input[CONF_SEND_TEST_MESSAGE]}


def _without_secret(user_input: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Return a form's input to show again, without the Client Secret."""
    if user_input is None:
        return None
    return {k: v for k, v in user_input.items() if k != CONF_CLIENT_SECRET}


class DingTalkOptionsFlow(OptionsFlowWithReload):
    """Change how a robot or an app formats, combines and resends messages."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and save the options."""
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        app = is_app_entry(self.config_entry)
        return self.async_show_form(
            step_id="app" if app else "init",
            data_schema=self.add_suggested_values_to_schema(
                APP_OPTIONS_SCHEMA if app else ROBOT_OPTIONS_SCHEMA,
                self.config_entry.options,
            ),
            description_placeholders={"name": self.config_entry.title},
        )

    async def async_step_app(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Check and save an app's options (its own step: its own fields and texts)."""
        errors: dict[str, str] = {}
        placeholders = {"name": self.config_entry.title}
        suggested: Mapping[str, Any] = self.config_entry.options
        if user_input is not None:
            options, errors, details = app_options(user_input)
            if not errors:
                return self.async_create_entry(data=options)
            placeholders |= details
            suggested = user_input
        return self.async_show_form(
            step_id="app",
            data_schema=self.add_suggested_values_to_schema(
                APP_OPTIONS_SCHEMA, suggested
            ),
            errors=errors,
            description_placeholders=placeholders,
        )
