"""Helpers of the app, recipient and language tests: forms, flows and entries."""

from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_NAME
from homeassistant.data_entry_flow import FlowResultType, section
from homeassistant.helpers import config_validation as cv
import probatio
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.dingtalk.const import (
    CONF_ADVANCED,
    CONF_API_BASE,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_OAPI_BASE,
    CONF_ROBOT_CODE,
    DOMAIN,
)
from custom_components.dingtalk.migration import MINOR_VERSION

from .conftest import APP_CLIENT_ID, APP_CLIENT_SECRET, APP_NAME, app_data

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.config_entries import ConfigFlowResult, SubentryFlowResult
    from homeassistant.core import HomeAssistant

    from dingtalk_emulator import AppMessage, Emulator, EmulatorServer

BARE_APP_ENTRY_ID = "01DINGTALKBAREAPP000000000"


def app_input(server: EmulatorServer, **changes: object) -> dict[str, Any]:
    """Return a complete, correct app step for the Home app on the emulator."""
    return {
        CONF_NAME: APP_NAME,
        CONF_CLIENT_ID: APP_CLIENT_ID,
        CONF_CLIENT_SECRET: APP_CLIENT_SECRET,
        CONF_ROBOT_CODE: "",
        CONF_ADVANCED: {
            CONF_API_BASE: server.base_url,
            CONF_OAPI_BASE: server.base_url,
        },
    } | changes


def advanced(server: EmulatorServer, **changes: str) -> dict[str, str]:
    """Return the Advanced section with both hosts on the emulator, changed."""
    return {
        CONF_API_BASE: server.base_url,
        CONF_OAPI_BASE: server.base_url,
    } | changes


async def start_app_flow(hass: HomeAssistant) -> str:
    """Open the menu, choose an app, and return the flow id."""
    menu = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert menu["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(
        menu["flow_id"], {"next_step_id": "app"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "app"
    assert result["errors"] == {}
    assert result["description_placeholders"] == {}
    return result["flow_id"]


def frontend_json(result: ConfigFlowResult | SubentryFlowResult) -> str:
    """Return what the frontend receives for a form: its fields and placeholders."""
    schema = result.get("data_schema")
    fields = (
        []
        if schema is None
        else probatio.to_field_list(schema, custom_serializer=cv.custom_serializer)
    )
    return json.dumps(
        [fields, result.get("description_placeholders")], ensure_ascii=False
    )


def suggested(result: ConfigFlowResult | SubentryFlowResult) -> dict[str, Any]:
    """Return the suggested values of a form, sections as nested dicts."""
    schema = result.get("data_schema")
    assert schema is not None
    return _suggested(schema)


def _suggested(schema: probatio.Schema) -> dict[str, Any]:
    """Return the suggested values of a schema (sections recursively)."""
    values: dict[str, Any] = {}
    for marker, value in schema.schema.items():
        if isinstance(value, section):
            values[str(marker)] = _suggested(value.schema)
        elif marker.description and "suggested_value" in marker.description:
            values[str(marker)] = marker.description["suggested_value"]
    return values


def bare_app_entry(
    server: EmulatorServer, title: str = APP_NAME, **changes: object
) -> MockConfigEntry:
    """Return the Home app's entry without people or groups (not yet added)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=title,
        entry_id=BARE_APP_ENTRY_ID,
        unique_id=APP_CLIENT_ID,
        data=app_data(server, **changes),
        minor_version=MINOR_VERSION,
    )


def unused_port() -> int:
    """Return a local TCP port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def chat_of(emulator: Emulator, user_id: str) -> list[AppMessage]:
    """Return the Home app's messages in a person's 1:1 chat."""
    apps = emulator.apps
    return apps.messages(
        APP_CLIENT_ID, conversation=apps.conversation_id(APP_CLIENT_ID, user_id)
    )


def texts(messages: list[AppMessage]) -> list[str]:
    """Return the text content of delivered app messages."""
    return [str(message.msg_param.get("content")) for message in messages]


def placeholders(result: Mapping[str, Any]) -> dict[str, str]:
    """Return a result's description placeholders (an empty dict if none)."""
    return dict(result.get("description_placeholders") or {})
