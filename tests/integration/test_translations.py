"""Translations: both languages complete, and every key the code uses resolves."""

from __future__ import annotations

import ast
import json
from pathlib import Path
import re
from typing import TYPE_CHECKING, Any, Final

from homeassistant.util.yaml import load_yaml_dict
import pytest

from custom_components.dingtalk import config_flow
from custom_components.dingtalk.api import Problem, WebhookProblem
from custom_components.dingtalk.const import (
    DingTalkFormat,
    DingTalkIssue,
    DingTalkMsgType,
    DingTalkNotice,
    DingTalkOrientation,
)
from custom_components.dingtalk.policy import POLICIES

if TYPE_CHECKING:
    import probatio

PACKAGE: Final = Path(config_flow.__file__).parent
LANGUAGES: Final = ("en", "zh-Hans")
PLACEHOLDER_RE: Final = re.compile(r"\{(\w+)\}")
HTML_RE: Final = re.compile(r"<[A-Za-z/!]")
ISSUE_PLACEHOLDERS: Final = {"robot", "errmsg", "count", "reason", "moved_to"}


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
    used |= {f"input_{problem}" for problem in Problem}
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
    """Return the field names of a flow schema."""
    return {str(marker) for marker in schema.schema}


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        ("config.step.user", config_flow.STEP_USER_SCHEMA),
        ("config.step.reauth_confirm", config_flow.STEP_REAUTH_SCHEMA),
        ("config.step.reconfigure", config_flow.STEP_RECONFIGURE_SCHEMA),
        ("options.step.init", config_flow.OPTIONS_SCHEMA),
    ],
)
def test_flow_fields_are_described(path: str, schema: probatio.Schema) -> None:
    """Every form field has a label and a data_description in both languages."""
    for language in LANGUAGES:
        node = TRANSLATIONS[language]
        for part in path.split("."):
            node = node[part]
        assert set(node["data"]) == _schema_keys(schema)
        assert set(node["data_description"]) == _schema_keys(schema)


def test_flow_errors_exist() -> None:
    """Every error the flow can show is translated, and every translation is used."""
    source = Path(config_flow.__file__).read_text(encoding="utf-8")
    errors = set(TRANSLATIONS["en"]["config"]["error"])
    used = {p.flow_error[1] for _, p in POLICIES if p.flow_error is not None}
    used |= {f"webhook_{problem}" for problem in WebhookProblem}
    used |= set(re.findall(r'DingTalkCheckFailure\(\s*\w+,\s*"(\w+)"', source))
    used |= set(re.findall(r'"(\w+)" if signed else "(\w+)"', source)[0])
    used |= set(config_flow.FIELDLESS_ERRORS.values())
    assert used == errors


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
    """The notify entity has a translated name and an icon."""
    icons = json.loads((PACKAGE / "icons.json").read_text(encoding="utf-8"))
    assert icons["entity"]["notify"]["robot"]["default"].startswith("mdi:")
    for language in LANGUAGES:
        assert TRANSLATIONS[language]["entity"]["notify"]["robot"]["name"]


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
    assert zh["config.step.reauth_confirm.title"] == "重新认证 {name}"
    for key in ("clock_out_of_sync", "ip_not_allowed", "robot_unavailable"):
        assert "已在“修复”中创建问题" in zh[f"exceptions.{key}.message"]
    assert "IP地址（段）" in zh["config.error.ip_not_allowed"]
