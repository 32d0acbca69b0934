"""Translations: both languages complete, and every key the code uses resolves."""

from __future__ import annotations

import ast
import json
from pathlib import Path
import re
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import Platform
from homeassistant.data_entry_flow import section
from homeassistant.helpers import entity_registry as er
from homeassistant.util.yaml import load_yaml_dict
import pytest

from custom_components.dingtalk import (
    config_flow,
    flow_app,
    flow_recipients,
    flow_robot,
)
from custom_components.dingtalk.api import Problem, WebhookProblem
from custom_components.dingtalk.compose import CANNOT_MENTION_KEYS, NOT_SUPPORTED_KEYS
from custom_components.dingtalk.const import (
    DOMAIN,
    DingTalkFormat,
    DingTalkIssue,
    DingTalkMsgType,
    DingTalkNotice,
    DingTalkOrientation,
)
from custom_components.dingtalk.delivery import FORM_ERRORS
from custom_components.dingtalk.notify import MODELS
from custom_components.dingtalk.policy import POLICIES

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    import probatio
    from pytest_homeassistant_custom_component.common import MockConfigEntry

PACKAGE: Final = Path(config_flow.__file__).parent
LANGUAGES: Final = ("en", "zh-Hans")
PLACEHOLDER_RE: Final = re.compile(r"\{(\w+)\}")
HTML_RE: Final = re.compile(r"<[A-Za-z/!]")
ISSUE_PLACEHOLDERS: Final = {"robot", "errmsg", "count", "reason", "moved_to"}
LABELLED_ERRORS: Final = frozenset(
    {*NOT_SUPPORTED_KEYS.values(), *CANNOT_MENTION_KEYS.values(), *FORM_ERRORS.values()}
)
"""Exception keys built in code; their texts hold the form's labels."""


def load(language: str) -> dict[str, Any]:
    """Load one translation file."""
    text = (PACKAGE / "translations" / f"{language}.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def flatten(node: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Return every string of a translation file by its dotted path."""
    flat: dict[str, str] = {}
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= flatten(value, f"{path}.")
        else:
            flat[path] = value
    return flat


def placeholders(text: str) -> set[str]:
    """Return the placeholders of a message."""
    return set(PLACEHOLDER_RE.findall(text))


TRANSLATIONS: Final = {language: load(language) for language in LANGUAGES}
FLAT: Final = {language: flatten(data) for language, data in TRANSLATIONS.items()}


def used_exception_keys() -> dict[str, set[str] | None]:
    """Return the exception keys the code raises with literal keys, and placeholders.

    The placeholders are None when the code builds them at run time.
    """
    used: dict[str, set[str] | None] = {}
    for path in [*PACKAGE.rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
            key_node = keywords.get("translation_key")
            if isinstance(key_node, ast.Constant) and isinstance(key_node.value, str):
                if _is_issue_call(node):
                    continue
                given = keywords.get("translation_placeholders")
                used[key_node.value] = _dict_keys(given)
            if (
                isinstance(node.func, ast.Name)
                and node.func.id == "_invalid"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                used[str(node.args[0].value)] = {
                    kw.arg for kw in node.keywords if kw.arg is not None
                }
            if isinstance(node.func, ast.Name) and node.func.id == "_require":
                used |= {
                    str(check.elts[0].value): set()
                    for check in node.args
                    if isinstance(check, ast.Tuple)
                    and isinstance(check.elts[0], ast.Constant)
                }
    return used


def _is_issue_call(node: ast.Call) -> bool:
    """Return whether a call creates a repair issue."""
    func = node.func
    return isinstance(func, ast.Attribute) and func.attr == "async_create_issue"


def _dict_keys(node: ast.expr | None) -> set[str] | None:
    """Return the literal keys of a placeholders dict (empty when none given)."""
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return set()
    if isinstance(node, ast.Dict) and all(
        isinstance(key, ast.Constant) for key in node.keys
    ):
        return {str(key.value) for key in node.keys if isinstance(key, ast.Constant)}
    return None


def test_same_keys_in_both_languages() -> None:
    """Both languages translate exactly the same strings, with the same placeholders."""
    assert FLAT["en"].keys() == FLAT["zh-Hans"].keys()
    for path, text in FLAT["en"].items():
        assert placeholders(text) == placeholders(FLAT["zh-Hans"][path]), path


@pytest.mark.parametrize("language", LANGUAGES)
def test_strings_are_clean(language: str) -> None:
    """No HTML, no surrounding spaces, no references, no empty strings."""
    for path, text in FLAT[language].items():
        assert text, path
        assert text == text.strip(), path
        assert not HTML_RE.search(text), path
        assert "[%key:" not in text, path
        assert "'{" not in text, path


def test_exception_keys_used_in_code_exist() -> None:
    """Every exception the code raises has a message with matching placeholders."""
    used = used_exception_keys()
    used |= {
        policy.translation_key: {"robot", "errcode", "errmsg", "status"}
        for _, policy in POLICIES
    }
    used |= {f"input_{problem}": None for problem in Problem}
    used |= {key: set() for key in LABELLED_ERRORS}
    assert used
    for language in LANGUAGES:
        exceptions = TRANSLATIONS[language]["exceptions"]
        for key, given in used.items():
            assert key in exceptions, f"{language}: {key}"
            wanted = placeholders(exceptions[key]["message"])
            if given is not None:
                assert wanted <= given, f"{language}: {key} needs {wanted - given}"


def test_every_exception_message_is_used() -> None:
    """No exception message is left over."""
    used = set(used_exception_keys()) | {p.translation_key for _, p in POLICIES}
    used |= {f"input_{problem}" for problem in Problem} | LABELLED_ERRORS
    assert set(TRANSLATIONS["en"]["exceptions"]) == used


def test_issues() -> None:
    """Every repair issue has a title and description with the robot's name."""
    for language in LANGUAGES:
        issues = TRANSLATIONS[language]["issues"]
        assert set(issues) == {*DingTalkIssue, *DingTalkNotice}
        for key, issue in issues.items():
            assert placeholders(issue["description"]) <= ISSUE_PLACEHOLDERS
            assert "{robot}" in issue["title"] or key == DingTalkNotice.OUTBOX_DAMAGED


def _schema_keys(schema: probatio.Schema) -> set[str]:
    """Return the field names of a flow schema (a section counts as its key)."""
    return {str(marker) for marker in schema.schema}


def _sections(schema: probatio.Schema) -> dict[str, probatio.Schema]:
    """Return the sections of a flow schema by key."""
    return {
        str(marker): value.schema
        for marker, value in schema.schema.items()
        if isinstance(value, section)
    }


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        ("config.step.robot", flow_robot.STEP_ROBOT_SCHEMA),
        ("config.step.reauth_confirm", flow_robot.STEP_REAUTH_SCHEMA),
        ("config.step.reconfigure", flow_robot.STEP_RECONFIGURE_SCHEMA),
        ("config.step.app", flow_app.STEP_APP_SCHEMA),
        ("config.step.reauth_app", flow_app.STEP_APP_REAUTH_SCHEMA),
        ("config.step.reconfigure_app", flow_app.STEP_APP_RECONFIGURE_SCHEMA),
        ("options.step.init", flow_robot.ROBOT_OPTIONS_SCHEMA),
        ("options.step.app", config_flow.APP_OPTIONS_SCHEMA),
        ("config_subentries.person.step.user", flow_recipients.STEP_PERSON_SCHEMA),
        (
            "config_subentries.person.step.reconfigure",
            flow_recipients.STEP_RECONFIGURE_SCHEMA,
        ),
        ("config_subentries.group.step.user", flow_recipients.STEP_GROUP_SCHEMA),
        (
            "config_subentries.group.step.reconfigure",
            flow_recipients.STEP_RECONFIGURE_SCHEMA,
        ),
    ],
)
def test_flow_fields_are_described(path: str, schema: probatio.Schema) -> None:
    """Every form field has a label and a data_description in both languages."""
    sections = _sections(schema)
    fields = _schema_keys(schema) - set(sections)
    for language in LANGUAGES:
        node = TRANSLATIONS[language]
        for part in path.split("."):
            node = node[part]
        assert node["title"]
        assert set(node["data"]) == fields
        assert set(node["data_description"]) == fields
        assert set(node.get("sections", {})) == set(sections)
        for key, inner in sections.items():
            text = node["sections"][key]
            assert text["name"]
            assert set(text["data"]) == _schema_keys(inner)
            assert set(text["data_description"]) == _schema_keys(inner)


FLOW_MODULES: Final = (config_flow, flow_robot, flow_app)
FAILURE_RE: Final = re.compile(r'DingTalkCheckFailure\(\s*[\w.]+,\s*f?"(\w+)"')


def _errors_in(*modules: object) -> set[str]:
    """Return the error keys the flow modules name literally."""
    used: set[str] = set()
    for module in modules:
        source = Path(str(getattr(module, "__file__", ""))).read_text(encoding="utf-8")
        used |= set(FAILURE_RE.findall(source))
    return used


def test_flow_errors_exist() -> None:
    """Every error the flow can show is translated, and every translation is used."""
    source = Path(flow_robot.__file__).read_text(encoding="utf-8")
    errors = set(TRANSLATIONS["en"]["config"]["error"])
    used = {p.flow_error[1] for _, p in POLICIES if p.flow_error is not None}
    used |= {f"webhook_{problem}" for problem in WebhookProblem}
    used |= {f"identifier_{problem}" for problem in ("empty", "invalid")}
    used |= {
        f"{field}_{kind}"
        for field in flow_app.URL_FIELDS
        for kind in ("invalid", "insecure")
    }
    used |= _errors_in(*FLOW_MODULES) - {"already_configured", "app_", "identifier_"}
    used |= set(re.findall(r'"(\w+)" if signed else "(\w+)"', source)[0])
    used |= set(flow_robot.FIELDLESS_ERRORS.values())
    assert used == errors


@pytest.mark.parametrize("kind", ["person", "group"])
def test_recipient_errors_exist(kind: str) -> None:
    """The recipient forms' errors and aborts are translated in both languages."""
    used = _errors_in(flow_recipients) | {
        p.flow_error[1]
        for _, p in POLICIES
        if p.flow_error is not None and p.flow_error[0] == "base"
    }
    used |= {f"{field}_not_found" for field in ("user_id", "open_conversation_id")}
    used |= {"mobile_not_found"}
    for language in LANGUAGES:
        errors = set(TRANSLATIONS[language]["config_subentries"][kind]["error"])
        assert used >= errors
        # Policies that only a robot can raise (keywords, signing) never show here.
        assert errors >= _errors_in(flow_recipients)


def _service_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Return the fields of a service, looking inside sections."""
    flat: dict[str, Any] = {}
    for name, field in fields.items():
        if "fields" in field:
            flat |= field["fields"]
        else:
            flat[name] = field
    return flat


def test_services_yaml_is_translated() -> None:
    """Every action, section and field in services.yaml is named in both languages."""
    services = load_yaml_dict(str(PACKAGE / "services.yaml"))
    icons = json.loads((PACKAGE / "icons.json").read_text(encoding="utf-8"))
    for service, description in services.items():
        fields = _service_fields(description["fields"])
        sections = {k for k, v in description["fields"].items() if "fields" in v}
        assert icons["services"][service]["service"].startswith("mdi:")
        assert set(icons["services"][service]["sections"]) == sections
        for language in LANGUAGES:
            text = TRANSLATIONS[language]["services"][service]
            assert text["name"]
            assert text["description"]
            assert set(text["fields"]) == set(fields)
            assert set(text["sections"]) == sections
            for field in text["fields"].values():
                assert field["name"]
                assert field["description"]
            selector = TRANSLATIONS[language]["selector"]
            for field in fields.values():
                config = next(iter(field["selector"].values())) or {}
                if "translation_key" in config:
                    assert config["translation_key"] in selector


def test_selectors_match_the_code() -> None:
    """Select options in the translations are the values the code accepts."""
    for language in LANGUAGES:
        selector = TRANSLATIONS[language]["selector"]
        assert set(selector["default_format"]["options"]) == set(DingTalkFormat)
        assert set(selector["msgtype"]["options"]) == set(DingTalkMsgType)
        assert set(selector["orientation"]["options"]) == set(DingTalkOrientation)
        assert set(selector["buttons"]["fields"]) == {"title", "url"}
        assert set(selector["links"]["fields"]) == {"title", "url", "picture"}


def test_entity_name_and_icon() -> None:
    """The notify entity has an icon and takes its device's name."""
    icons = json.loads((PACKAGE / "icons.json").read_text(encoding="utf-8"))
    assert icons["entity"]["notify"]["robot"]["default"].startswith("mdi:")
    for language in LANGUAGES:
        # Named after the device: no entity name to translate.
        assert "notify" not in TRANSLATIONS[language].get("entity", {})
        for platform, key in (("event", "message"), ("binary_sensor", "stream")):
            assert TRANSLATIONS[language]["entity"][platform][key]["name"]
            assert icons["entity"][platform][key]["default"].startswith("mdi:")


@pytest.mark.parametrize(
    "wrong",
    ["不认识", "重新验证", "已创建修复问题", "白名单", "钉钉报告", "检查它们"],
)
def test_chinese_wording(wrong: str) -> None:
    """Chinese texts use Home Assistant's and DingTalk's own terms."""
    for path, text in FLAT["zh-Hans"].items():
        assert wrong not in text, path


def test_chinese_terms() -> None:
    """The reauth, repairs and security-setting terms are the ones users see."""
    zh = FLAT["zh-Hans"]
    assert zh["config.error.invalid_token"].startswith(
        "钉钉提示该 access_token 无效（不存在）"
    )
    assert "access_token 无效（不存在）" in zh["exceptions.invalid_token.message"]
    assert zh["config.step.reauth_confirm.title"] == "重新认证“{name}”"
    for key in ("clock_out_of_sync", "ip_not_allowed", "robot_unavailable"):
        assert "已在“修复”中创建问题" in zh[f"exceptions.{key}.message"]
    assert "IP地址（段）" in zh["config.error.ip_not_allowed"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_action_errors_use_the_form_labels(language: str) -> None:
    """Errors about a field of the action name it with its label in the form."""
    texts = TRANSLATIONS[language]
    labels = {
        field: text["name"]
        for field, text in texts["services"]["send_message"]["fields"].items()
    }
    exceptions = texts["exceptions"]
    for field, key in NOT_SUPPORTED_KEYS.items():
        assert labels[field] in exceptions[key]["message"], key
    mentions = texts["services"]["send_message"]["sections"]["mentions"]["name"]
    for msgtype, key in CANNOT_MENTION_KEYS.items():
        message = exceptions[key]["message"]
        assert mentions in message, key
        name = texts["selector"]["msgtype"]["options"][msgtype]
        assert name.casefold() in message.casefold(), key
    raw = re.compile(r"\b(?:[a-z]+_[a-z_]+|actionCard|feedCard)\b")
    for key in LABELLED_ERRORS | {k for k in used_exception_keys() if "_needs_" in k}:
        assert not raw.search(exceptions[key]["message"]), f"{language}: {key}"


# -- issue 13, item 11: small texts ---------------------------------------------------

CJK_RE: Final = re.compile(r"[\u3400-\u9fff]")
NAME_PLACEHOLDER_RE: Final = re.compile(r"\{(?:name|robot|other|target)\}")


def test_action_names_do_not_repeat_the_integration() -> None:
    """The UI shows "DingTalk: <action>": the action's own name is plain."""
    assert TRANSLATIONS["en"]["services"]["send_message"]["name"] == "Send message"
    assert TRANSLATIONS["zh-Hans"]["services"]["send_message"]["name"] == "发送消息"
    for language, brand in (("en", "DingTalk"), ("zh-Hans", "钉钉")):
        for service in TRANSLATIONS[language]["services"].values():
            assert brand not in service["name"], service["name"]


def test_add_button_of_the_keywords_is_sentence_case() -> None:
    """The frontend labels the button "Add {label}": "Add DingTalk keywords"."""
    for step in ("robot", "reconfigure"):
        label = FLAT["en"][f"config.step.{step}.data.keywords"]
        button = f"Add {label}"  # ui.components.multi-textfield.add_item
        first, *rest = button.split()
        assert first == "Add"
        assert all(word.islower() or word == "DingTalk" for word in rest), button
        assert FLAT["zh-Hans"][f"config.step.{step}.data.keywords"] == "自定义关键词"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("step", ["init", "app"])
def test_options_titles_name_the_robot(language: str, step: str) -> None:
    """Each options form says whose options it shows."""
    assert "{name}" in FLAT[language][f"options.step.{step}.title"]


async def test_options_flow_passes_the_robot_name(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """The options form gets the name its title shows: "Options of Ops"."""
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert result["step_id"] == "init"
    assert result["description_placeholders"] == {"name": loaded_entry.title}
    title = FLAT["en"]["options.step.init.title"].format(
        **result["description_placeholders"]
    )
    assert title == "Options of Ops"


def test_chinese_names_are_quoted_not_spaced() -> None:
    """A name in Chinese text is quoted, not set off by spaces: 重新配置“办公室”."""
    for path, text in FLAT["zh-Hans"].items():
        for match in NAME_PLACEHOLDER_RE.finditer(text):
            before = text[: match.start()]
            after = text[match.end() :]
            assert before.endswith("“") or not before, (path, text)
            assert after.startswith("”"), (path, text)
    title = FLAT["zh-Hans"]["config.step.reconfigure.title"]
    assert title.format(name="办公室") == "重新配置“办公室”"
    assert FLAT["zh-Hans"]["options.step.init.title"].format(name="办公室") == (
        "“办公室”的选项"
    )


def test_device_models_are_in_both_languages() -> None:
    """Device models cannot be translated: each says it in English and Chinese."""
    for model in MODELS.values():
        english, chinese = model.split(" · ")
        assert english.isascii(), model
        assert CJK_RE.search(chinese), model
        assert not re.search(r"[A-Za-z]", chinese), model


async def test_entities_are_named_after_their_robot_in_chinese(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """The notify entity takes the robot's name, never an English "Message"."""
    hass.config.language = "zh-Hans"
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(config_entry, title="办公室")
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    entity_id = er.async_get(hass).async_get_entity_id(
        Platform.NOTIFY, DOMAIN, config_entry.entry_id
    )
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.attributes["friendly_name"] == "办公室"


def test_common_texts_are_used() -> None:
    """The legacy actions' descriptions (common.*) are all used, in both languages."""
    source = (PACKAGE / "legacy.py").read_text(encoding="utf-8")
    used = set(re.findall(r'"common\.(\w+)"', source))
    assert used
    for language in LANGUAGES:
        assert set(TRANSLATIONS[language]["common"]) == used
