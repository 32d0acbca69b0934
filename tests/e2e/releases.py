"""The Home Assistant releases the end-to-end tests run against, one venv each."""

from __future__ import annotations

from dataclasses import dataclass
import os
import re
from typing import TYPE_CHECKING, Final

from homeassistant import const as ha_const
import pytest

from devtools.process_util import REPO_ROOT, python_executable

if TYPE_CHECKING:
    from pathlib import Path

NEXT_VENV: Final = REPO_ROOT / ".cache" / "venv-ha-2026.11"
NEXT_REQUIREMENTS: Final = REPO_ROOT / "requirements_ha_2026_11.txt"


@dataclass(frozen=True, slots=True)
class HaRelease:
    """A Home Assistant release and the interpreter that runs it."""

    version: str
    python: str
    where: str

    @property
    def test_id(self) -> str:
        """The test id suffix, e.g. ``ha2026.11.0``."""
        return f"ha{self.version}"

    def require(self) -> None:
        """Fail (under CI) or skip unless the release's interpreter is installed."""
        if os.access(self.python, os.X_OK):
            return
        reason = (
            f"Home Assistant {self.version} is not installed ({self.where} has no "
            f"bin/python); run scripts/setup"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


def pinned_version(requirements: Path) -> str:
    """Return the ``homeassistant==X`` pin of a requirements file."""
    text = requirements.read_text("utf-8")
    match = re.search(r"^homeassistant==(\S+)\s*$", text, re.MULTILINE)
    if match is None:
        raise ValueError(f"{requirements.name} pins no homeassistant version")
    return match.group(1)


# The release in .venv (pytest-homeassistant-custom-component pins it) and the
# next one, which scripts/setup installs into .cache/venv-ha-2026.11.
MAIN: Final = HaRelease(ha_const.__version__, python_executable(), ".venv")
NEXT: Final = HaRelease(
    pinned_version(NEXT_REQUIREMENTS),
    str(NEXT_VENV / "bin" / "python"),
    ".cache/venv-ha-2026.11",
)
ALL: Final = (MAIN, NEXT)
