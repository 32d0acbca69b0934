"""The offline validation accepts this repository and catches each kind of mistake."""

from __future__ import annotations

import json
from pathlib import Path
import shutil
import struct
from typing import TYPE_CHECKING, Any
import zlib

import pytest
import yaml

from devtools.validate_repo import QUALITY_SCALE_RULES, main, png_size, validate

if TYPE_CHECKING:
    from collections.abc import Callable

REPO = Path(__file__).resolve().parents[2]
HA_VERSION = "2026.10.4"

SERVICE_CODE = '''"""Actions."""
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

DOMAIN = "dingtalk"
SERVICE_SEND = "send_message"


def setup(hass):
    """Register the action."""
    hass.services.async_register(DOMAIN, SERVICE_SEND, None)


def fail():
    """Raise translated errors."""
    raise ServiceValidationError(translation_domain=DOMAIN, translation_key="bad_input")
'''

FLOW_CODE = '''"""Flow."""
class Flow:
    """A flow."""

    async def async_step_user(self, user_input=None):
        """Show the form."""
        errors = {}
        errors["base"] = "cannot_connect"
        if user_input:
            return self.async_abort(reason="already_configured")
        return self.async_show_form(step_id="user", errors=errors)
'''

EN = {
    "config": {
        "step": {
            "user": {
                "data": {"webhook": "Webhook"},
                "data_description": {"webhook": "The robot's webhook URL."},
            }
        },
        "error": {"cannot_connect": "Cannot connect"},
        "abort": {"already_configured": "Already configured"},
    },
    "exceptions": {"bad_input": {"message": "Bad input: {value}"}},
    "services": {
        "send_message": {
            "name": "Send message",
            "description": "Send a message.",
            "fields": {"message": {"name": "Message", "description": "The text."}},
        }
    },
}
ZH = {
    "config": {
        "step": {
            "user": {
                "data": {"webhook": "Webhook 地址"},
                "data_description": {"webhook": "机器人的 Webhook 地址。"},
            }
        },
        "error": {"cannot_connect": "无法连接"},
        "abort": {"already_configured": "已配置"},
    },
    "exceptions": {"bad_input": {"message": "输入有误：{value}"}},
    "services": {
        "send_message": {
            "name": "发送消息",
            "description": "发送一条消息。",
            "fields": {"message": {"name": "消息", "description": "正文。"}},
        }
    },
}
MANIFEST = {
    "domain": "dingtalk",
    "name": "DingTalk",
    "codeowners": ["@someone"],
    "config_flow": True,
    "documentation": "https://example.com/ha-dingtalk",
    "integration_type": "service",
    "iot_class": "cloud_push",
    "issue_tracker": "https://example.com/ha-dingtalk/issues",
    "requirements": [],
    "version": "1.0.0",
}


def _png(width: int, height: int) -> bytes:
    """Build a minimal valid PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\x00" * 4 * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _write_json(path: Path, data: object) -> None:
    """Write a JSON file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


@pytest.fixture
def good_repo(tmp_path: Path) -> Path:
    """Build a small repository that passes every check."""
    integ = tmp_path / "custom_components" / "dingtalk"
    _write_json(integ / "manifest.json", MANIFEST)
    _write_json(integ / "translations" / "en.json", EN)
    _write_json(integ / "translations" / "zh-Hans.json", ZH)
    (integ / "brand").mkdir()
    (integ / "brand" / "icon.png").write_bytes(_png(256, 256))
    (integ / "brand" / "icon@2x.png").write_bytes(_png(512, 512))
    (integ / "services.py").write_text(SERVICE_CODE, encoding="utf-8")
    (integ / "config_flow.py").write_text(FLOW_CODE, encoding="utf-8")
    (integ / "services.yaml").write_text(
        yaml.safe_dump({"send_message": {"fields": {"message": {"required": True}}}}),
        encoding="utf-8",
    )
    (integ / "quality_scale.yaml").write_text(
        yaml.safe_dump({"rules": dict.fromkeys(sorted(QUALITY_SCALE_RULES), "done")}),
        encoding="utf-8",
    )
    _write_json(
        tmp_path / "hacs.json", {"name": "DingTalk", "homeassistant": "2026.10.4"}
    )
    (tmp_path / "README.md").write_text("# DingTalk\n", encoding="utf-8")
    return tmp_path


def _edit_json(rel: str, edit: Callable[[Any], object]) -> Callable[[Path], None]:
    """Return a mutation that edits one JSON file of the repository."""

    def mutate(root: Path) -> None:
        path = root / rel
        data = json.loads(path.read_text(encoding="utf-8"))
        result = edit(data)
        _write_json(path, result if isinstance(result, dict) else data)

    return mutate


MANIFEST_PATH = "custom_components/dingtalk/manifest.json"
EN_PATH = "custom_components/dingtalk/translations/en.json"
ZH_PATH = "custom_components/dingtalk/translations/zh-Hans.json"
INTEG = "custom_components/dingtalk"


def _append(rel: str, text: str) -> Callable[[Path], None]:
    """Return a mutation that appends text to a file."""

    def mutate(root: Path) -> None:
        with (root / rel).open("a", encoding="utf-8") as handle:
            handle.write(text)

    return mutate


def _write(rel: str, content: bytes) -> Callable[[Path], None]:
    """Return a mutation that replaces a file's bytes."""

    def mutate(root: Path) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)

    return mutate


def _delete(rel: str) -> Callable[[Path], None]:
    """Return a mutation that deletes a file or folder."""

    def mutate(root: Path) -> None:
        path = root / rel
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()

    return mutate


def _unsorted(data: dict[str, object]) -> dict[str, object]:
    """Move 'version' in front of 'codeowners'."""
    return {"domain": data["domain"], "name": data["name"], "version": "1.0.0"} | {
        k: v for k, v in data.items() if k not in {"domain", "name", "version"}
    }


MUTATIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    "manifest unsorted": (
        _edit_json(MANIFEST_PATH, _unsorted),
        "manifest.json: keys must be sorted",
    ),
    "manifest unknown key": (
        _edit_json(MANIFEST_PATH, lambda d: d | {"zz_extra": 1}),
        "manifest.json: unknown key 'zz_extra'",
    ),
    "manifest missing version": (
        _edit_json(MANIFEST_PATH, lambda d: d.pop("version")),
        "manifest.json: missing key 'version'",
    ),
    "manifest bad version": (
        _edit_json(MANIFEST_PATH, lambda d: d.update(version="not a version")),
        "manifest.json: 'version' is not a valid version",
    ),
    "manifest wrong iot_class": (
        _edit_json(MANIFEST_PATH, lambda d: d.update(iot_class="local_polling")),
        "manifest.json: 'iot_class' must be 'cloud_push'",
    ),
    "manifest requirement": (
        _edit_json(MANIFEST_PATH, lambda d: d.update(requirements=["aiohttp"])),
        "manifest.json: 'requirements' must be []",
    ),
    "manifest core docs url": (
        _edit_json(
            MANIFEST_PATH,
            lambda d: d.update(
                documentation="https://www.home-assistant.io/integrations/dingtalk"
            ),
        ),
        "manifest.json: 'documentation' must be an https URL",
    ),
    "manifest empty codeowners": (
        _edit_json(MANIFEST_PATH, lambda d: d.update(codeowners=[])),
        "manifest.json: 'codeowners' must be a non-empty list",
    ),
    "manifest bad issue tracker": (
        _edit_json(MANIFEST_PATH, lambda d: d.update(issue_tracker="nowhere")),
        "manifest.json: 'issue_tracker' must be a URL",
    ),
    "manifest wrong domain": (
        _edit_json(MANIFEST_PATH, lambda d: d.update(domain="ding")),
        "manifest.json: 'domain' must equal the folder name",
    ),
    "manifest not json": (
        _write(MANIFEST_PATH, b"{not json"),
        "manifest.json: invalid JSON",
    ),
    "hacs unknown key": (
        _edit_json("hacs.json", lambda d: d | {"domains": ["notify"]}),
        "hacs.json: unknown key 'domains'",
    ),
    "hacs wrong type": (
        _edit_json("hacs.json", lambda d: d.update(render_readme="yes")),
        "hacs.json: 'render_readme' has the wrong type",
    ),
    "hacs missing name": (
        _edit_json("hacs.json", lambda d: d.pop("name")),
        "hacs.json: 'name' is required",
    ),
    "hacs zip without filename": (
        _edit_json("hacs.json", lambda d: d.update(zip_release=True)),
        "hacs.json: 'zip_release' requires 'filename'",
    ),
    "hacs newer than tested": (
        _edit_json("hacs.json", lambda d: d.update(homeassistant="2099.1.0")),
        "hacs.json: 'homeassistant' 2099.1.0 must be the oldest release the tests",
    ),
    "hacs older than tested": (
        _edit_json("hacs.json", lambda d: d.update(homeassistant="2026.10.0")),
        "hacs.json: 'homeassistant' 2026.10.0 must be the oldest release the tests",
    ),
    "hacs missing file": (_delete("hacs.json"), "hacs.json: file is missing"),
    "two integrations": (
        _write("custom_components/other/__init__.py", b""),
        "custom_components: must hold exactly one folder",
    ),
    "no readme": (_delete("README.md"), "repository: no README.md"),
    "icon missing": (
        _delete(f"{INTEG}/brand/icon.png"),
        "brand/icon.png: file is missing",
    ),
    "icon wrong size": (
        _write(f"{INTEG}/brand/icon@2x.png", _png(256, 256)),
        "brand/icon@2x.png: must be 512x512, is 256x256",
    ),
    "icon not png": (
        _write(f"{INTEG}/brand/icon.png", b"GIF89a" + b"\0" * 40),
        "brand/icon.png: not a PNG file",
    ),
    "zh missing key": (
        _edit_json(ZH_PATH, lambda d: d["config"]["error"].clear()),
        "translations/zh-Hans.json: missing key 'config.error.cannot_connect'",
    ),
    "zh extra key": (
        _edit_json(ZH_PATH, lambda d: d | {"title": "钉钉"}),
        "translations/zh-Hans.json: key 'title' is not in en.json",
    ),
    "placeholders differ": (
        _edit_json(
            ZH_PATH,
            lambda d: d["exceptions"]["bad_input"].update(message="输入有误"),
        ),
        "translations/zh-Hans.json: 'exceptions.bad_input.message' placeholders differ",
    ),
    "leading space": (
        _edit_json(EN_PATH, lambda d: d["config"]["error"].update(cannot_connect=" x")),
        "'config.error.cannot_connect' has leading or trailing spaces",
    ),
    "html in string": (
        _edit_json(
            EN_PATH, lambda d: d["config"]["error"].update(cannot_connect="<b>x</b>")
        ),
        "'config.error.cannot_connect' contains HTML",
    ),
    "description without field": (
        _edit_json(
            EN_PATH,
            lambda d: d["config"]["step"]["user"]["data_description"].update(x="y"),
        ),
        "describes a field not in data",
    ),
    "exception key not translated": (
        _append(
            f"{INTEG}/services.py",
            '\n\ndef boom():\n    """Fail."""\n'
            '    raise HomeAssistantError(translation_key="nope")\n',
        ),
        "translations/en.json: missing 'exceptions.nope.message'",
    ),
    "flow error not translated": (
        _append(f"{INTEG}/config_flow.py", '\n\nerrors["base"] = "invalid_thing"\n'),
        "translations/en.json: missing 'error.invalid_thing'",
    ),
    "entity key neither translated nor with an icon": (
        _append(
            f"{INTEG}/event.py",
            '\n\nclass Thing:\n    """An entity."""\n\n'
            '    _attr_translation_key = "ghost"\n',
        ),
        "translations/en.json: missing 'entity.event.ghost'",
    ),
    "issue not translated": (
        _append(
            f"{INTEG}/services.py",
            '\n\ndef issue(hass):\n    """Raise an issue."""\n'
            '    async_create_issue(hass, DOMAIN, "x", translation_key="robot_gone")\n',
        ),
        "translations/en.json: missing 'issues.robot_gone.title'",
    ),
    "action not described": (
        _append(
            f"{INTEG}/services.py",
            '\n\ndef more(hass):\n    """Register another."""\n'
            '    hass.services.async_register(DOMAIN, "send_card", None)\n',
        ),
        "services.yaml: action 'send_card' is registered but not described",
    ),
    "action not registered": (
        _append(f"{INTEG}/services.yaml", "ghost:\n  fields: {}\n"),
        "services.yaml: action 'ghost' is described but not registered",
    ),
    "service field not translated": (
        _write(
            f"{INTEG}/services.yaml",
            b"send_message:\n  fields:\n    message: {}\n    title: {}\n",
        ),
        "missing 'services.send_message.fields.title.name'",
    ),
    "quality scale rule missing": (
        _write(f"{INTEG}/quality_scale.yaml", b"rules:\n  brands: done\n"),
        "quality_scale.yaml: rule 'diagnostics' is missing",
    ),
    "quality scale exempt without reason": (
        _append(
            f"{INTEG}/quality_scale.yaml",
            "  zz: done\n",
        ),
        "quality_scale.yaml: unknown rule 'zz'",
    ),
}


def test_good_repo_passes(good_repo: Path) -> None:
    """A correct repository yields no errors."""
    assert validate(good_repo, HA_VERSION) == []


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_mistake_is_caught(good_repo: Path, name: str) -> None:
    """Each broken copy is reported with a precise message."""
    mutate, expected = MUTATIONS[name]
    mutate(good_repo)
    errors = validate(good_repo, HA_VERSION)
    assert any(expected in error for error in errors), errors


def test_exempt_needs_comment(good_repo: Path) -> None:
    """An exempt rule without a comment is an error."""
    path = good_repo / INTEG / "quality_scale.yaml"
    rules = yaml.safe_load(path.read_text(encoding="utf-8"))
    rules["rules"]["discovery"] = {"status": "exempt"}
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    assert validate(good_repo, HA_VERSION) == [
        "quality_scale.yaml: exempt rule 'discovery' needs a comment"
    ]


def test_png_size_reads_header(tmp_path: Path) -> None:
    """The PNG reader returns the IHDR size."""
    path = tmp_path / "x.png"
    path.write_bytes(_png(3, 7))
    assert png_size(path) == (3, 7)


def test_this_repository_is_valid() -> None:
    """The repository itself passes the validation."""
    assert validate(REPO, HA_VERSION) == []


def test_main_exit_codes(good_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The command line returns 0 when valid and 1 with errors on stderr."""
    assert main([str(good_repo)]) == 0
    (good_repo / "README.md").unlink()
    assert main([str(good_repo)]) == 1
    assert "no README.md" in capsys.readouterr().err
