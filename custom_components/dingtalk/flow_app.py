"""Check a DingTalk app for the config flow: its credentials, robot and API hosts.

An app is checked without posting anything. An access token proves the Client ID and
Secret. A probe then proves the robot code, the robot's publication and the send
permission: a 1:1 message to a user id nobody has (PROBE_USER_ID). DingTalk checks
the token, the robotCode and the robot before the recipients, and answers a send to
unknown people with HTTP 200 and the id in ``invalidStaffIdList``; so that answer
proves everything before it passed, and the message reaches nobody. This order is
DingTalk's observed behaviour (UNCONFIRMED as a guarantee), kept in PROBE_USER_ID.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import CONF_NAME
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio

from .api import (
    DEFAULT_API_BASE,
    DEFAULT_OAPI_BASE,
    AppConfigProblem,
    AppCredentialsError,
    DingTalkApiError,
    DingTalkError,
    InvalidAppConfigError,
    RobotUnavailableError,
    Text,
)
from .app_setup import app_client
from .const import (
    CONF_ADVANCED,
    CONF_API_BASE,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_KIND,
    CONF_OAPI_BASE,
    CONF_ROBOT_CODE,
    LOGGER,
    EntryKind,
)
from .flow_robot import API_ERROR, SECRET_SELECTOR, DingTalkCheckFailure
from .policy import BASE, policy_for

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant

PROBE_USER_ID: Final = "home-assistant-connection-check"
"""A user id no organisation has: the probe's only recipient (see the docstring)."""

PROBE_TEXT: Final = "Home Assistant connection check"

ROBOT_CODE_ERRCODES: Final = frozenset(
    {"invalidParameter.robotCode.empty", "invalidParameter.robotCode.auth"}
)
"""DingTalk's codes for a robot code that is empty or not this app's (S10).

Not the whole invalidParameter.robotCode family: its notExsit code is the answer
for an app whose robot is not published (UNCONFIRMED), not for a wrong code."""

URL_FIELDS: Final = frozenset({CONF_API_BASE, CONF_OAPI_BASE})

URL_SELECTOR: Final = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))

ADVANCED_SCHEMA: Final = probatio.Schema(
    {
        probatio.Optional(CONF_API_BASE): URL_SELECTOR,
        probatio.Optional(CONF_OAPI_BASE): URL_SELECTOR,
    }
)


def _credential_fields(*, secret_required: bool) -> dict[Any, Any]:
    """Return the Client Secret, robot code and advanced hosts of an app form."""
    secret = probatio.Required if secret_required else probatio.Optional
    return {
        secret(CONF_CLIENT_SECRET): SECRET_SELECTOR,
        probatio.Optional(CONF_ROBOT_CODE): TextSelector(),
        probatio.Required(CONF_ADVANCED): section(ADVANCED_SCHEMA, {"collapsed": True}),
    }


STEP_APP_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_NAME): TextSelector(),
        probatio.Required(CONF_CLIENT_ID): TextSelector(),
        **_credential_fields(secret_required=True),
    }
)
# Reauthentication and Reconfigure: an empty Client Secret keeps the stored one.
STEP_APP_REAUTH_SCHEMA: Final = probatio.Schema(
    {probatio.Optional(CONF_CLIENT_SECRET): SECRET_SELECTOR}
)
STEP_APP_RECONFIGURE_SCHEMA: Final = probatio.Schema(
    _credential_fields(secret_required=False)
)


def app_data(
    user_input: Mapping[str, Any], stored: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the entry data of a form: entered values, or stored ones left empty."""

    def value(key: str, where: Mapping[str, Any] = user_input) -> str:
        """Return the stripped value entered for ``key``, or "" if none."""
        return str(where.get(key) or "").strip()

    advanced: Mapping[str, Any] = user_input.get(CONF_ADVANCED) or {}
    data = {
        CONF_KIND: EntryKind.APP.value,
        CONF_CLIENT_ID: value(CONF_CLIENT_ID) or stored.get(CONF_CLIENT_ID, ""),
        CONF_CLIENT_SECRET: (
            value(CONF_CLIENT_SECRET) or stored.get(CONF_CLIENT_SECRET, "")
        ),
    }
    if CONF_ADVANCED in user_input or not stored:
        # A form with these fields: an empty one means the default.
        data[CONF_ROBOT_CODE] = value(CONF_ROBOT_CODE) or data[CONF_CLIENT_ID]
        data[CONF_API_BASE] = value(CONF_API_BASE, advanced) or DEFAULT_API_BASE
        data[CONF_OAPI_BASE] = value(CONF_OAPI_BASE, advanced) or DEFAULT_OAPI_BASE
    else:
        for key in (CONF_ROBOT_CODE, CONF_API_BASE, CONF_OAPI_BASE):
            data[key] = stored[key]
    return data


def suggested_app_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return what a form may show again: never the Client Secret."""
    return {
        CONF_ROBOT_CODE: data.get(CONF_ROBOT_CODE),
        CONF_ADVANCED: {
            key: data[key]
            for key in (CONF_API_BASE, CONF_OAPI_BASE)
            if data.get(key) not in {None, "", DEFAULT_API_BASE, DEFAULT_OAPI_BASE}
        },
    }


async def async_check_app(
    hass: HomeAssistant, data: Mapping[str, Any]
) -> DingTalkCheckFailure | None:
    """Check the app's settings with DingTalk; return why they fail, or None."""
    try:
        client = app_client(hass, dict(data))
    except InvalidAppConfigError as err:
        return config_failure(err)
    try:
        await client.async_check()
        result = await client.async_send_to_users(
            [PROBE_USER_ID], Text(content=PROBE_TEXT)
        )
    except DingTalkError as err:
        return app_check_failure(err)
    except Exception:  # noqa: BLE001 - last resort: the user sees "unknown"
        LOGGER.exception("Unexpected exception while checking a DingTalk app")
        return DingTalkCheckFailure(BASE, "unknown")
    if result.delivered_user_ids:  # pragma: no cover - an organisation with that id
        LOGGER.warning("The DingTalk app check reached a user called %s", PROBE_USER_ID)
    return None


def config_failure(err: InvalidAppConfigError) -> DingTalkCheckFailure:
    """Map a setting the client refuses to an error of its field.

    The API hosts sit in the collapsed section, whose fields cannot carry an error:
    their errors are base errors that name the host.
    """
    if err.field in URL_FIELDS:
        problem = "insecure" if err.problem is AppConfigProblem.INSECURE else "invalid"
        return DingTalkCheckFailure(BASE, f"{err.field}_{problem}")
    # The Client ID, the Client Secret or the robot code.
    return DingTalkCheckFailure(err.field, f"identifier_{err.problem}")


def app_check_failure(err: DingTalkError) -> DingTalkCheckFailure:
    """Map a client error to a form error of the app step."""
    details = (
        {"errcode": str(err.errcode), "errmsg": err.errmsg}
        if isinstance(err, DingTalkApiError)
        else {}
    )
    if isinstance(err, AppCredentialsError):
        return DingTalkCheckFailure(BASE, "invalid_app_credentials", details)
    if isinstance(err, RobotUnavailableError):
        if str(err.errcode) in ROBOT_CODE_ERRCODES:
            return DingTalkCheckFailure(CONF_ROBOT_CODE, "invalid_robot_code", details)
        return DingTalkCheckFailure(BASE, "app_robot_unavailable", details)
    field, error = policy_for(err).flow_error or (BASE, API_ERROR)
    LOGGER.debug("DingTalk app check failed: %s", type(err).__name__)
    return DingTalkCheckFailure(field, error, details)
