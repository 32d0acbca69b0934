"""Validate the repository offline the way hassfest and the HACS action would."""

from __future__ import annotations

import argparse
import ast
from dataclasses import dataclass, field
import json
from pathlib import Path
import re
import struct
import sys
from typing import Any, Final

from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
import yaml

DOMAIN: Final = "dingtalk"
LANGUAGES: Final = ("en", "zh-Hans")

# hassfest's CUSTOM_INTEGRATION_MANIFEST_SCHEMA (PREVENT_EXTRA): every key it accepts.
MANIFEST_ALLOWED_KEYS: Final = frozenset(
    {
        "domain",
        "name",
        "after_dependencies",
        "bluetooth",
        "codeowners",
        "config_flow",
        "dependencies",
        "dhcp",
        "disabled",
        "documentation",
        "homekit",
        "import_executor",
        "integration_type",
        "iot_class",
        "issue_tracker",
        "loggers",
        "mqtt",
        "preview_features",
        "quality_scale",
        "requirements",
        "single_config_entry",
        "ssdp",
        "usb",
        "version",
        "zeroconf",
    }
)
# What this project promises in its manifest (issue 2).
MANIFEST_EXPECTED: Final[dict[str, Any]] = {
    "domain": DOMAIN,
    "config_flow": True,
    "integration_type": "service",
    "iot_class": "cloud_push",
    "requirements": [],
}
MANIFEST_REQUIRED: Final = (
    "domain",
    "name",
    "codeowners",
    "config_flow",
    "documentation",
    "integration_type",
    "iot_class",
    "issue_tracker",
    "requirements",
    "version",
)
# HACS_MANIFEST_JSON_SCHEMA (PREVENT_EXTRA) with each key's type.
HACS_KEYS: Final[dict[str, tuple[type, ...]]] = {
    "name": (str,),
    "content_in_root": (bool,),
    "country": (str, list),
    "filename": (str,),
    "zip_release": (bool,),
    "hide_default_branch": (bool,),
    "homeassistant": (str,),
    "hacs": (str,),
    "persistent_directory": (str,),
    "render_readme": (bool,),
}
ICON_SIZES: Final = {"icon.png": 256, "icon@2x.png": 512}
PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
PNG_HEADER_BYTES: Final = 24  # signature, IHDR length and type, width, height
TRANSLATION_KEY_RE: Final = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
PLACEHOLDER_RE: Final = re.compile(r"{([A-Za-z0-9_]+)}")
HTML_RE: Final = re.compile(r"<[a-zA-Z/][^>]*>")
QUALITY_SCALE_RULES: Final = frozenset(
    {
        "action-setup",
        "appropriate-polling",
        "brands",
        "common-modules",
        "config-flow",
        "config-flow-test-coverage",
        "dependency-transparency",
        "docs-actions",
        "docs-conditions",
        "docs-high-level-description",
        "docs-installation-instructions",
        "docs-removal-instructions",
        "docs-triggers",
        "entity-event-setup",
        "entity-unique-id",
        "has-entity-name",
        "runtime-data",
        "test-before-configure",
        "test-before-setup",
        "unique-config-entry",
        "action-exceptions",
        "config-entry-unloading",
        "docs-configuration-parameters",
        "docs-installation-parameters",
        "entity-unavailable",
        "integration-owner",
        "log-when-unavailable",
        "parallel-updates",
        "reauthentication-flow",
        "test-coverage",
        "devices",
        "diagnostics",
        "discovery",
        "discovery-update-info",
        "docs-data-update",
        "docs-examples",
        "docs-known-limitations",
        "docs-supported-devices",
        "docs-supported-functions",
        "docs-troubleshooting",
        "docs-use-cases",
        "dynamic-devices",
        "entity-category",
        "entity-device-class",
        "entity-disabled-by-default",
        "entity-translations",
        "exception-translations",
        "icon-translations",
        "reconfiguration-flow",
        "repair-issues",
        "stale-devices",
        "async-dependency",
        "inject-websession",
        "strict-typing",
    }
)
ISSUE_CALLS: Final = frozenset({"async_create_issue", "create_issue"})
SERVICE_REGISTER_CALLS: Final = frozenset(
    {
        "async_register",
        "async_register_admin_service",
        "async_register_entity_service",
        "async_register_platform_entity_service",
    }
)


@dataclass
class Report:
    """Collect validation errors."""

    errors: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        """Record one error."""
        self.errors.append(f"{where}: {message}")


def _load_json(path: Path, report: Report) -> object:
    """Parse a JSON file, reporting why it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        report.add(path.name, "file is missing")
    except json.JSONDecodeError as err:
        report.add(path.name, f"invalid JSON ({err.msg} at line {err.lineno})")
    return None


def _is_url(value: object, *, https: bool = False) -> bool:
    """Tell whether a value is an http(s) URL."""
    if not isinstance(value, str):
        return False
    prefixes = ("https://",) if https else ("https://", "http://")
    return value.startswith(prefixes) and len(value) > len(prefixes[0]) + 3


def _version_ok(value: object) -> bool:
    """Tell whether AwesomeVersion understands a version string."""
    if not isinstance(value, str) or not value:
        return False
    return AwesomeVersion(value).strategy is not AwesomeVersionStrategy.UNKNOWN


def check_structure(root: Path, report: Report) -> Path | None:
    """Check the HACS layout: one integration folder and a README."""
    if not any((root / name).is_file() for name in ("README.md", "README", "info.md")):
        report.add("repository", "no README.md at the root (HACS 'information')")
    base = root / "custom_components"
    if not base.is_dir():
        report.add("repository", "no custom_components/ folder")
        return None
    folders = sorted(
        p.name for p in base.iterdir() if p.is_dir() and p.name != "__pycache__"
    )
    if folders != [DOMAIN]:
        report.add(
            "custom_components",
            f"must hold exactly one folder, '{DOMAIN}'; found {folders}",
        )
    integration = base / DOMAIN
    return integration if integration.is_dir() else None


def check_manifest(integration: Path, report: Report) -> None:  # noqa: C901, PLR0912  # a flat list of checks
    """Check manifest.json as hassfest and HACS do, plus this project's values."""
    manifest = _load_json(integration / "manifest.json", report)
    if not isinstance(manifest, dict):
        return
    where = "manifest.json"
    keys = list(manifest)
    if keys[:2] != ["domain", "name"] or keys[2:] != sorted(keys[2:]):
        report.add(where, "keys must be sorted: domain, name, then alphabetical")
    for key in keys:
        if key not in MANIFEST_ALLOWED_KEYS:
            report.add(where, f"unknown key '{key}'")
    for key in MANIFEST_REQUIRED:
        if key not in manifest:
            report.add(where, f"missing key '{key}'")
    for key, expected in MANIFEST_EXPECTED.items():
        if key in manifest and manifest[key] != expected:
            report.add(where, f"'{key}' must be {expected!r}")
    if manifest.get("domain") != integration.name:
        report.add(where, "'domain' must equal the folder name")
    codeowners = manifest.get("codeowners")
    if not (
        isinstance(codeowners, list)
        and codeowners
        and all(isinstance(c, str) and c.startswith("@") for c in codeowners)
    ):
        report.add(where, "'codeowners' must be a non-empty list of @handles")
    doc = manifest.get("documentation")
    if not _is_url(doc, https=True) or str(doc).startswith(
        "https://www.home-assistant.io/integrations"
    ):
        report.add(where, "'documentation' must be an https URL of this project")
    if not _is_url(manifest.get("issue_tracker")):
        report.add(where, "'issue_tracker' must be a URL")
    if not _version_ok(manifest.get("version")):
        report.add(where, "'version' is not a valid version")


def check_hacs(root: Path, report: Report, ha_version: str | None) -> None:  # noqa: C901  # a flat list of checks
    """Check hacs.json against the HACS schema."""
    data = _load_json(root / "hacs.json", report)
    if not isinstance(data, dict):
        if data is not None:
            report.add("hacs.json", "must be a JSON object")
        return
    where = "hacs.json"
    for key, value in data.items():
        if key not in HACS_KEYS:
            report.add(where, f"unknown key '{key}'")
        elif not isinstance(value, HACS_KEYS[key]):
            report.add(where, f"'{key}' has the wrong type")
    if not isinstance(data.get("name"), str) or not data["name"]:
        report.add(where, "'name' is required")
    if data.get("zip_release") and "filename" not in data:
        report.add(where, "'zip_release' requires 'filename'")
    minimum = data.get("homeassistant")
    if minimum is None:
        report.add(where, "'homeassistant' (the oldest release tested) is required")
    elif not _version_ok(minimum):
        report.add(where, "'homeassistant' is not a valid version")
    elif ha_version is not None and AwesomeVersion(minimum) != AwesomeVersion(
        ha_version
    ):
        report.add(
            where,
            f"'homeassistant' {minimum} must be the oldest release the tests cover,"
            f" {ha_version}",
        )


def png_size(path: Path) -> tuple[int, int] | None:
    """Return a PNG's width and height, or None when it is not a PNG."""
    with path.open("rb") as handle:
        head = handle.read(PNG_HEADER_BYTES)
    if len(head) < PNG_HEADER_BYTES or head[:8] != PNG_MAGIC or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def check_brand(integration: Path, report: Report) -> None:
    """Check the brand icons HACS and Home Assistant 2026.3+ read."""
    for name, size in ICON_SIZES.items():
        path = integration / "brand" / name
        if not path.is_file():
            report.add(f"brand/{name}", "file is missing")
            continue
        dims = png_size(path)
        if dims is None:
            report.add(f"brand/{name}", "not a PNG file")
        elif dims != (size, size):
            report.add(
                f"brand/{name}", f"must be {size}x{size}, is {dims[0]}x{dims[1]}"
            )


def flatten(data: object, prefix: str = "") -> dict[str, str]:
    """Flatten nested translation dicts into dotted keys."""
    flat: dict[str, str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    else:
        flat[prefix] = data if isinstance(data, str) else repr(data)
    return flat


def _check_translation_strings(lang: str, flat: dict[str, str], report: Report) -> None:
    """Check hassfest's string rules in one translation file."""
    where = f"translations/{lang}.json"
    for key, text in flat.items():
        for part in key.split("."):
            if not TRANSLATION_KEY_RE.match(part) and not part.isupper():
                report.add(where, f"key '{key}' has an invalid part '{part}'")
                break
        if text != text.strip():
            report.add(where, f"'{key}' has leading or trailing spaces")
        if HTML_RE.search(text):
            report.add(where, f"'{key}' contains HTML")
        if "'{" in text:
            report.add(where, f"'{key}' quotes a placeholder")


def load_translations(  # noqa: C901  # a flat list of checks
    integration: Path, report: Report
) -> dict[str, dict[str, str]]:
    """Load and compare the English and Simplified Chinese translations."""
    loaded: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        data = _load_json(integration / "translations" / f"{lang}.json", report)
        if isinstance(data, dict):
            loaded[lang] = flatten(data)
            _check_translation_strings(lang, loaded[lang], report)
    if len(loaded) == len(LANGUAGES):
        en, zh = (loaded[lang] for lang in LANGUAGES)
        for key in sorted(en.keys() - zh.keys()):
            report.add("translations/zh-Hans.json", f"missing key '{key}'")
        for key in sorted(zh.keys() - en.keys()):
            report.add("translations/zh-Hans.json", f"key '{key}' is not in en.json")
        for key in sorted(en.keys() & zh.keys()):
            if set(PLACEHOLDER_RE.findall(en[key])) != set(
                PLACEHOLDER_RE.findall(zh[key])
            ):
                report.add("translations/zh-Hans.json", f"'{key}' placeholders differ")
        for key in en:
            if key.endswith(".data_description") or ".data_description." not in key:
                continue
            data_key = key.replace(".data_description.", ".data.")
            if data_key not in en:
                report.add(
                    "translations/en.json", f"'{key}' describes a field not in data"
                )
    return loaded


def _string_constants(modules: list[ast.Module]) -> dict[str, str]:
    """Collect module-level string constants (NAME = "value") across modules."""
    constants: dict[str, str] = {}
    for module in modules:
        for node in module.body:
            target: ast.expr | None = None
            value: ast.expr | None = None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign):
                target, value = node.target, node.value
            if (
                isinstance(target, ast.Name)
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
            ):
                constants[target.id] = value.value
    return constants


def _resolve(node: ast.expr | None, constants: dict[str, str]) -> str | None:
    """Resolve a string literal or a named string constant."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.Attribute):
        return constants.get(node.attr)
    return None


def _call_name(node: ast.Call) -> str:
    """Return the called function's last name."""
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


@dataclass
class CodeUsage:
    """What the integration's code refers to."""

    keys: set[str] = field(default_factory=set)
    services: set[str] = field(default_factory=set)


def _flow_section(path: Path) -> list[str]:
    """Return the translation sections a module's flow keys belong to."""
    return ["config", "options"] if path.name == "config_flow.py" else []


def _scan_call(  # noqa: C901, PLR0912  # one flat dispatch over the call kinds
    node: ast.Call,
    path: Path,
    constants: dict[str, str],
    usage: CodeUsage,
) -> None:
    """Record the translation keys and service names used by one call."""
    name = _call_name(node)
    kwargs = {kw.arg: kw.value for kw in node.keywords if kw.arg}
    key = _resolve(kwargs.get("translation_key"), constants)
    if name in SERVICE_REGISTER_CALLS:
        args = list(node.args)
        if name == "async_register_platform_entity_service":
            args = args[1:]  # the first argument is hass
        if len(args) >= 2 and _resolve(args[0], constants) == DOMAIN:  # noqa: PLR2004
            service = _resolve(args[1], constants)
            if service:
                usage.services.add(service)
    if key is None:
        pass
    elif name in ISSUE_CALLS:
        usage.keys.add(f"issues.{key}.title")
    elif name.endswith(("Error", "Failed", "NotReady", "Exception")):
        usage.keys.add(f"exceptions.{key}.message")
    elif name.endswith("EntityDescription"):
        usage.keys.add(f"entity.notify.{key}.name")
    sections = _flow_section(path)
    if name == "async_abort" and sections:
        reason = _resolve(kwargs.get("reason"), constants)
        if reason:
            usage.keys.add(f"?abort.{reason}")
    if name == "async_show_form" and sections:
        step = _resolve(kwargs.get("step_id"), constants)
        if step:
            usage.keys.add(f"?step.{step}")
        errors = kwargs.get("errors")
        if isinstance(errors, ast.Dict):
            for value in errors.values:
                if (error := _resolve(value, constants)) is not None:
                    usage.keys.add(f"?error.{error}")


def scan_code(integration: Path) -> CodeUsage:
    """Find translation keys and registered services in the integration's code."""
    files = sorted(
        p
        for p in integration.rglob("*.py")
        if "api" not in p.relative_to(integration).parts
    )
    modules = [ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in files]
    constants = _string_constants(modules)
    usage = CodeUsage()
    for path, module in zip(files, modules, strict=True):
        for node in ast.walk(module):
            if isinstance(node, ast.Call):
                _scan_call(node, path, constants, usage)
            elif isinstance(node, ast.Assign) and _flow_section(path):
                _scan_error_assignment(node, constants, usage, path)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                _scan_attr_translation_key(node, constants, usage, path)
    return usage


def _scan_error_assignment(
    node: ast.Assign, constants: dict[str, str], usage: CodeUsage, path: Path
) -> None:
    """Record `errors[...] = "key"` assignments of a config flow."""
    for target in node.targets:
        if (
            isinstance(target, ast.Subscript)
            and isinstance(target.value, ast.Name)
            and target.value.id == "errors"
            and (error := _resolve(node.value, constants)) is not None
        ):
            usage.keys.add(f"?error.{error}")
    _scan_attr_translation_key(node, constants, usage, path)


def _scan_attr_translation_key(
    node: ast.Assign | ast.AnnAssign,
    constants: dict[str, str],
    usage: CodeUsage,
    path: Path,
) -> None:
    """Record `_attr_translation_key = "key"` on the entities of a platform module.

    The key must exist under entity.<platform>.<key> (its name, states or
    attributes) in the translations, or in icons.json for an entity named after its
    device (`_attr_name = None`), which only uses the key for its icon.
    """
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    for target in targets:
        if (
            isinstance(target, ast.Name)
            and target.id == "_attr_translation_key"
            and (key := _resolve(node.value, constants)) is not None
        ):
            usage.keys.add(f"!entity.{path.stem}.{key}")


def _has_key(key: str, en: dict[str, str], icons: dict[str, str]) -> bool:
    """Tell whether a used key (possibly a flow key) exists in the translations."""
    if key.startswith("!"):
        rest = key[1:]
        return any(k.startswith(f"{rest}.") for k in (*en, *icons))
    if key.startswith("?"):
        rest = key[1:]
        return any(
            k == f"{section}.{rest}" or k.startswith(f"{section}.{rest}.")
            for section in ("config", "options")
            for k in en
        )
    return key in en


def check_services(  # noqa: C901, PLR0912  # a flat list of checks
    integration: Path, usage: CodeUsage, en: dict[str, str] | None, report: Report
) -> None:
    """Check services.yaml against the registered actions and translations."""
    path = integration / "services.yaml"
    services: dict[str, Any] = {}
    if path.is_file():
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            report.add("services.yaml", "must be a mapping of actions")
            return
        services = loaded
    elif usage.services:
        report.add("services.yaml", "file is missing but the code registers actions")
    for name in sorted(usage.services - services.keys()):
        report.add("services.yaml", f"action '{name}' is registered but not described")
    for name in sorted(services.keys() - usage.services):
        report.add("services.yaml", f"action '{name}' is described but not registered")
    if en is None:
        return
    for name, spec in services.items():
        for part in ("name", "description"):
            if f"services.{name}.{part}" not in en:
                report.add("translations/en.json", f"missing 'services.{name}.{part}'")
        fields = _service_fields(spec)
        for field_name, field_spec in fields.items():
            for part in ("name", "description"):
                key = f"services.{name}.fields.{field_name}.{part}"
                if key not in en:
                    report.add("translations/en.json", f"missing '{key}'")
            selector = (field_spec or {}).get("selector") or {}
            for sel in selector.values():
                if isinstance(sel, dict) and "translation_key" in sel:
                    for option in sel.get("options", []):
                        value = option if isinstance(option, str) else option["value"]
                        key = f"selector.{sel['translation_key']}.options.{value}"
                        if key not in en:
                            report.add("translations/en.json", f"missing '{key}'")


def _service_fields(spec: object) -> dict[str, Any]:
    """Return a service's fields, including those inside collapsible sections."""
    fields: dict[str, Any] = {}
    if not isinstance(spec, dict):
        return fields
    for name, field_spec in (spec.get("fields") or {}).items():
        if isinstance(field_spec, dict) and "fields" in field_spec:
            fields.update(field_spec["fields"])
        else:
            fields[name] = field_spec
    return fields


def check_quality_scale(integration: Path, report: Report) -> None:
    """Check quality_scale.yaml lists every rule as done or exempt with a reason."""
    path = integration / "quality_scale.yaml"
    if not path.is_file():
        report.add("quality_scale.yaml", "file is missing")
        return
    rules = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("rules") or {}
    for rule in sorted(QUALITY_SCALE_RULES - rules.keys()):
        report.add("quality_scale.yaml", f"rule '{rule}' is missing")
    for rule, status in rules.items():
        if rule not in QUALITY_SCALE_RULES:
            report.add("quality_scale.yaml", f"unknown rule '{rule}'")
        elif isinstance(status, dict):
            if status.get("status") not in {"done", "exempt", "todo"}:
                report.add("quality_scale.yaml", f"rule '{rule}' has a bad status")
            elif status["status"] == "exempt" and not status.get("comment"):
                report.add(
                    "quality_scale.yaml", f"exempt rule '{rule}' needs a comment"
                )
        elif status not in {"done", "todo"}:
            report.add("quality_scale.yaml", f"rule '{rule}' has a bad status")


def _load_icons(integration: Path) -> dict[str, str]:
    """Return icons.json flattened to dotted keys (empty when absent or broken)."""
    path = integration / "icons.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError, ValueError:
        return {}
    flat: dict[str, str] = {}

    def walk(node: object, prefix: str) -> None:
        """Collect the leaves of ``node`` under ``prefix``."""
        if isinstance(node, dict):
            for name, value in node.items():
                walk(value, f"{prefix}{name}.")
        else:
            flat[prefix.rstrip(".")] = str(node)

    walk(data, "")
    return flat


def validate(root: Path, ha_version: str | None = None) -> list[str]:
    """Validate a repository checkout; return the errors found."""
    report = Report()
    integration = check_structure(root, report)
    check_hacs(root, report, ha_version)
    if integration is None:
        return report.errors
    check_manifest(integration, report)
    check_brand(integration, report)
    translations = load_translations(integration, report)
    usage = scan_code(integration)
    en = translations.get("en")
    if en is not None:
        icons = _load_icons(integration)
        for key in sorted(usage.keys):
            if not _has_key(key, en, icons):
                report.add("translations/en.json", f"missing '{key.lstrip('?!')}'")
    check_services(integration, usage, en, report)
    check_quality_scale(integration, report)
    return report.errors


def main(argv: list[str] | None = None) -> int:
    """Run the validation and print the errors."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", nargs="?", default=".", type=Path)
    args = parser.parse_args(argv)
    from homeassistant.const import __version__ as ha_version  # noqa: PLC0415

    errors = validate(args.root.resolve(), ha_version)
    for error in errors:
        sys.stderr.write(f"* [ERROR] {error}\n")
    sys.stdout.write(
        f"validate: {len(errors)} error(s) in {args.root.resolve().name}\n"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
