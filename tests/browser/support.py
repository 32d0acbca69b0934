"""What the browser tests share beyond their fixtures."""

from __future__ import annotations

import os

import pytest

from devtools.browser import chromium_problem


def require_chromium() -> None:
    """Fail (under CI) or skip unless Playwright and Debian's Chromium are here."""
    problem = chromium_problem()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(problem, pytrace=False)
    pytest.skip(problem)
