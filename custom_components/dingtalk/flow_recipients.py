"""The people and groups of a DingTalk app: its config subentries.

A person is entered as a mobile number, which DingTalk resolves to their user id
(shown before the person is saved), or as a user id. A group is chosen among the
groups the robot heard from (when the app receives messages), or entered as its
openConversationId. Both are checked with a visible test message unless the user
turns it off: an app robot has no silent way to prove it reaches someone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import (
    ConfigEntryState,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME
from homeassistant.helpers.selector import (
    BooleanSelector,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio

from .api import (
    MOBILE_RE,
    DingTalkApiError,
    DingTalkError,
    InvalidAppConfigError,
    InvalidMessageError,
    RecipientNotFoundError,
    Text,
)
from .app_setup import app_client
from .const import (
    CONF_CONVERSATION_ID,
    CONF_DEFAULT_TARGET,
    CONF_MOBILE,
    CONF_SEND_TEST_MESSAGE,
    CONF_USER_ID,
    LOGGER,
)
from .entry_data import target_names
from .flow_language import async_flow_language
from .flow_robot import (
    DingTalkCheckFailure,
    form_errors,
    localized_message,
    name_in_use,
)
from .policy import BASE, policy_for
from .runtime import DingTalkAppRuntime
from .seen_groups import async_load_seen_groups

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .api import DingTalkAppClient

PERSON_TEST_MESSAGES: Final[Mapping[str, str]] = {
    "en": "Home Assistant will send messages for {name} to this chat.",
    "zh": "Home Assistant 会把发给 {name} 的消息发到这个聊天。",
}
GROUP_TEST_MESSAGES: Final[Mapping[str, str]] = {
    "en": "Home Assistant will send messages for {name} to this group.",
    "zh": "Home Assistant 会把发给 {name} 的消息发到这个群。",
}

STEP_PERSON_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_NAME): TextSelector(),
        probatio.Optional(CONF_MOBILE): TextSelector(
            TextSelectorConfig(type=TextSelectorType.TEL)
        ),
        probatio.Optional(CONF_USER_ID): TextSelector(),
        probatio.Required(CONF_DEFAULT_TARGET, default=False): BooleanSelector(),
        probatio.Required(CONF_SEND_TEST_MESSAGE, default=True): BooleanSelector(),
    }
)
STEP_GROUP_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_NAME): TextSelector(),
        probatio.Required(CONF_CONVERSATION_ID): TextSelector(),
        probatio.Required(CONF_DEFAULT_TARGET, default=True): BooleanSelector(),
        probatio.Required(CONF_SEND_TEST_MESSAGE, default=True): BooleanSelector(),
    }
)
STEP_RECONFIGURE_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_NAME): TextSelector(),
        probatio.Required(CONF_DEFAULT_TARGET): BooleanSelector(),
    }
)


def masked_mobile(mobile: str) -> str:
    """Return a mobile number with its middle hidden, as DingTalk shows it."""
    return f"{mobile[:3]}****{mobile[-4:]}" if len(mobile) > 7 else mobile  # noqa: PLR2004


def lookup_failure(err: DingTalkError) -> DingTalkCheckFailure:
    """Map a failed lookup by mobile number to an error of the mobile field."""
    if isinstance(err, InvalidMessageError):
        return DingTalkCheckFailure(CONF_MOBILE, "invalid_mobile")
    if isinstance(err, RecipientNotFoundError):
        return DingTalkCheckFailure(CONF_MOBILE, "mobile_not_found")
    return send_failure(err, BASE)


def send_failure(err: DingTalkError, field: str) -> DingTalkCheckFailure:
    """Map a failed test message to a form error; an unknown recipient on ``field``."""
    details = (
        {"errcode": str(err.errcode), "errmsg": err.errmsg}
        if isinstance(err, DingTalkApiError)
        else {}
    )
    if isinstance(err, RecipientNotFoundError) and field != BASE:
        return DingTalkCheckFailure(field, f"{field}_not_found", details)
    error_field, error = policy_for(err).flow_error or (BASE, "api_error")
    LOGGER.debug("DingTalk recipient check failed: %s", type(err).__name__)
    return DingTalkCheckFailure(error_field, error, details)


class _RecipientFlow(ConfigSubentryFlow):
    """What adding a person and adding a group share."""

    def __init__(self) -> None:
        """Start with no placeholders."""
        self._placeholders: dict[str, str] = {}

    def _client(self) -> DingTalkAppClient | None:
        """Return the app's client (a new one while the app reloads), or None.

        None when the stored settings cannot make a client at all.
        """
        entry = self._get_entry()
        runtime = getattr(entry, "runtime_data", None)
        if entry.state is ConfigEntryState.LOADED and isinstance(
            runtime, DingTalkAppRuntime
        ):
            return runtime.client
        try:
            return app_client(self.hass, dict(entry.data))
        except InvalidAppConfigError:
            return None

    def _name_failure(self, name: str) -> DingTalkCheckFailure | None:
        """Refuse a name another target has (names are the targets of actions)."""
        entries = self.hass.config_entries.async_entries(
            self._get_entry().domain, include_ignore=False
        )
        if name_in_use(name, target_names(entries)):
            return DingTalkCheckFailure(CONF_NAME, "name_in_use")
        return None

    def _taken(self, unique_id: str) -> str | None:
        """Return the name of the recipient that already has ``unique_id``."""
        return next(
            (
                sub.title
                for sub in self._get_entry().subentries.values()
                if sub.unique_id == unique_id
            ),
            None,
        )

    async def _test_message(
        self, user_input: Mapping[str, Any], messages: Mapping[str, str], name: str
    ) -> Text | None:
        """Return the test message in the user's language, if asked for."""
        if not user_input.get(CONF_SEND_TEST_MESSAGE, True):
            return None
        language = await async_flow_language(self.hass)
        return Text(content=localized_message(language, name, messages))

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Rename the recipient, or change whether it is a default target."""
        subentry = self._get_reconfigure_subentry()
        errors: dict[str, str] = {}
        if user_input is not None:
            name = user_input[CONF_NAME].strip() or subentry.title
            failure = (
                self._name_failure(name)
                if name.casefold() != subentry.title.casefold()
                else None
            )
            if failure is None:
                return self.async_update_and_abort(
                    self._get_entry(),
                    subentry,
                    title=name,
                    data={
                        **subentry.data,
                        CONF_DEFAULT_TARGET: user_input[CONF_DEFAULT_TARGET],
                    },
                    reason="reconfigure_successful",
                )
            errors = form_errors(failure, STEP_RECONFIGURE_SCHEMA)
        suggested = user_input or {
            CONF_NAME: subentry.title,
            CONF_DEFAULT_TARGET: subentry.data.get(CONF_DEFAULT_TARGET, False),
        }
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                STEP_RECONFIGURE_SCHEMA, suggested
            ),
            errors=errors,
            description_placeholders={"name": subentry.title},
        )


class PersonFlow(_RecipientFlow):
    """Add a person: by mobile number (resolved and shown first) or user id."""

    def __init__(self) -> None:
        """Start with nothing resolved."""
        super().__init__()
        self._pending: dict[str, Any] = {}

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for the person's name and mobile number or user id."""
        client = self._client()
        if client is None:
            return self.async_abort(reason="app_not_loaded")
        errors: dict[str, str] = {}
        self._placeholders = {}
        if user_input is not None:
            failure = await self._async_person(client, user_input)
            if failure is None:
                if self._pending.get(CONF_MOBILE):
                    return await self.async_step_confirm()
                return await self._async_finish(client)
            errors = form_errors(failure, STEP_PERSON_SCHEMA)
            self._placeholders = failure.placeholders
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                STEP_PERSON_SCHEMA, user_input
            ),
            errors=errors,
            description_placeholders=self._placeholders,
        )

    async def _async_person(
        self, client: DingTalkAppClient, user_input: Mapping[str, Any]
    ) -> DingTalkCheckFailure | None:
        """Resolve the person entered into ``_pending``; return why not, or None."""
        name = str(user_input[CONF_NAME]).strip()
        mobile = str(user_input.get(CONF_MOBILE) or "").replace(" ", "").strip()
        user_id = str(user_input.get(CONF_USER_ID) or "").strip()
        if failure := self._entered_failure(name, mobile, user_id):
            return failure
        if mobile:
            try:
                user_id = await client.async_get_user_id_by_mobile(mobile)
            except DingTalkError as err:
                return lookup_failure(err)
        if (other := self._taken(f"person_{user_id}")) is not None:
            field = CONF_MOBILE if mobile else CONF_USER_ID
            self._placeholders = {"other": other}
            return DingTalkCheckFailure(field, "recipient_exists", self._placeholders)
        self._pending = {
            CONF_NAME: name,
            CONF_USER_ID: user_id,
            CONF_MOBILE: mobile or None,
            CONF_DEFAULT_TARGET: bool(user_input.get(CONF_DEFAULT_TARGET, False)),
            CONF_SEND_TEST_MESSAGE: bool(user_input.get(CONF_SEND_TEST_MESSAGE, True)),
        }
        return None

    def _entered_failure(
        self, name: str, mobile: str, user_id: str
    ) -> DingTalkCheckFailure | None:
        """Check what the form says before asking DingTalk."""
        if not name:
            return DingTalkCheckFailure(CONF_NAME, "name_required")
        if failure := self._name_failure(name):
            return failure
        if bool(mobile) == bool(user_id):
            return DingTalkCheckFailure(BASE, "mobile_or_user_id")
        if mobile and not MOBILE_RE.fullmatch(mobile):
            return DingTalkCheckFailure(CONF_MOBILE, "invalid_mobile")
        return None

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Show whom DingTalk found for the mobile number before saving them."""
        placeholders = {
            "name": self._pending[CONF_NAME],
            "mobile": masked_mobile(self._pending[CONF_MOBILE]),
            "user_id": self._pending[CONF_USER_ID],
        }
        client = self._client()
        if user_input is not None and client is not None:
            return await self._async_finish(client, step_id="confirm")
        if client is None:
            return self.async_abort(reason="app_not_loaded")
        return self.async_show_form(
            step_id="confirm", description_placeholders=placeholders
        )

    async def _async_finish(
        self, client: DingTalkAppClient, step_id: str = "user"
    ) -> SubentryFlowResult:
        """Send the test message if asked for, then save the person."""
        pending = self._pending
        name, user_id = pending[CONF_NAME], pending[CONF_USER_ID]
        if message := await self._test_message(pending, PERSON_TEST_MESSAGES, name):
            try:
                result = await client.async_send_to_users([user_id], message)
                result.raise_for_recipients()
            except DingTalkError as err:
                failure = send_failure(
                    err, CONF_MOBILE if pending[CONF_MOBILE] else CONF_USER_ID
                )
                if step_id == "confirm":
                    return self.async_abort(
                        reason="person_unreachable",
                        description_placeholders={"name": name, **failure.placeholders},
                    )
                self._placeholders = failure.placeholders
                return self.async_show_form(
                    step_id="user",
                    data_schema=self.add_suggested_values_to_schema(
                        STEP_PERSON_SCHEMA, pending
                    ),
                    errors=form_errors(failure, STEP_PERSON_SCHEMA),
                    description_placeholders=self._placeholders,
                )
        data: dict[str, Any] = {
            CONF_USER_ID: user_id,
            CONF_DEFAULT_TARGET: pending[CONF_DEFAULT_TARGET],
        }
        if pending[CONF_MOBILE]:
            data[CONF_MOBILE] = pending[CONF_MOBILE]
        return self.async_create_entry(
            title=name, data=data, unique_id=f"person_{user_id}"
        )


def group_schema(seen: list[tuple[str, str]]) -> probatio.Schema:
    """Return the group form: the groups the robot heard from offered, if any.

    A group can still be entered by id (custom value); its name may then be left
    empty for a group that was heard from: it takes the group's title.
    """
    if not seen:
        return STEP_GROUP_SCHEMA
    options = [
        SelectOptionDict(value=group_id, label=f"{title or group_id} ({group_id})")
        for group_id, title in seen
    ]
    return probatio.Schema(
        {
            probatio.Optional(CONF_NAME): TextSelector(),
            probatio.Required(CONF_CONVERSATION_ID): SelectSelector(
                SelectSelectorConfig(
                    options=options,
                    custom_value=True,
                    mode=SelectSelectorMode.DROPDOWN,
                    sort=False,
                )
            ),
            probatio.Required(CONF_DEFAULT_TARGET, default=True): BooleanSelector(),
            probatio.Required(CONF_SEND_TEST_MESSAGE, default=True): BooleanSelector(),
        }
    )


class GroupFlow(_RecipientFlow):
    """Add a group the app's robot is in: one it heard from, or by its id."""

    async def _async_seen(self) -> list[tuple[str, str]]:
        """Return the groups the robot heard from that are not recipients yet."""
        entry = self._get_entry()
        runtime = getattr(entry, "runtime_data", None)
        if (
            entry.state is ConfigEntryState.LOADED
            and isinstance(runtime, DingTalkAppRuntime)
            and runtime.receiver is not None
        ):
            seen = runtime.receiver.seen_groups.groups()
        else:
            seen = await async_load_seen_groups(self.hass, entry.entry_id)
        return [
            (group_id, title)
            for group_id, title in seen
            if self._taken(f"group_{group_id}") is None
        ]

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for the group's name and id; post the test message if asked for."""
        client = self._client()
        if client is None:
            return self.async_abort(reason="app_not_loaded")
        errors: dict[str, str] = {}
        self._placeholders = {}
        seen = await self._async_seen()
        schema = group_schema(seen)
        if user_input is not None:
            conversation = str(user_input[CONF_CONVERSATION_ID]).strip()
            name = str(user_input.get(CONF_NAME) or "").strip() or dict(seen).get(
                conversation, ""
            )
            failure = await self._async_check(client, name, conversation, user_input)
            if failure is None:
                return self.async_create_entry(
                    title=name,
                    data={
                        CONF_CONVERSATION_ID: conversation,
                        CONF_DEFAULT_TARGET: user_input[CONF_DEFAULT_TARGET],
                    },
                    unique_id=f"group_{conversation}",
                )
            errors = form_errors(failure, schema)
            self._placeholders = failure.placeholders
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders=self._placeholders,
        )

    async def _async_check(
        self,
        client: DingTalkAppClient,
        name: str,
        conversation: str,
        user_input: Mapping[str, Any],
    ) -> DingTalkCheckFailure | None:
        """Check the name and the group; return why they fail, or None."""
        if not name:
            return DingTalkCheckFailure(CONF_NAME, "name_required")
        if failure := self._name_failure(name):
            return failure
        if not conversation or any(c.isspace() for c in conversation):
            return DingTalkCheckFailure(CONF_CONVERSATION_ID, "invalid_conversation_id")
        if (other := self._taken(f"group_{conversation}")) is not None:
            return DingTalkCheckFailure(
                CONF_CONVERSATION_ID, "recipient_exists", {"other": other}
            )
        if message := await self._test_message(user_input, GROUP_TEST_MESSAGES, name):
            try:
                await client.async_send_to_group(conversation, message)
            except DingTalkError as err:
                return send_failure(err, CONF_CONVERSATION_ID)
        return None
