"""Keep the client package free of Home Assistant, typed, and its exports complete."""

from __future__ import annotations

import ast
from pathlib import Path
import sys

from custom_components.dingtalk import api

PACKAGE = Path(api.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    """Return every absolute module name ``path`` imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_homeassistant_import() -> None:
    """Import only the stdlib, aiohttp and yarl from api/, never homeassistant."""
    files = sorted(PACKAGE.glob("*.py"))
    assert {path.name for path in files} >= {
        "__init__.py",
        "client.py",
        "errors.py",
        "models.py",
        "prepare.py",
        "signing.py",
        "webhook.py",
    }
    for path in files:
        roots = {name.split(".")[0] for name in _imported_modules(path)}
        assert "homeassistant" not in roots, path.name
        assert "custom_components" not in roots, path.name
        assert roots <= {*sys.stdlib_module_names, "aiohttp", "yarl"}, path.name


def test_py_typed_marker() -> None:
    """Ship an empty py.typed marker."""
    assert (PACKAGE / "py.typed").read_bytes() == b""


def test_all_is_complete_and_importable() -> None:
    """Export every name in __all__, sorted, without duplicates."""
    assert len(set(api.__all__)) == len(api.__all__)
    for name in api.__all__:
        assert getattr(api, name) is not None
    for name in (
        "DEFAULT_ENDPOINT",
        "MAX_BODY_BYTES",
        "sign",
        "Webhook",
        "Mentions",
        "Text",
        "Markdown",
        "Link",
        "ActionButton",
        "ButtonOrientation",
        "ActionCard",
        "FeedLink",
        "FeedCard",
        "Message",
        "prepare",
        "DingTalkClient",
        "error_from_response",
        "ERRCODE_CLASSES",
        "SECURITY_MESSAGES",
    ):
        assert name in api.__all__
    assert api.DEFAULT_ENDPOINT == "https://oapi.dingtalk.com/robot/send"
    assert api.MAX_BODY_BYTES == 20_000
