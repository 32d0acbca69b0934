"""Mark the onboarding steps that need no internet done, before Home Assistant starts.

Onboarding has four steps: ``user`` (the owner account), ``core_config`` (home
location, country, units), ``analytics`` and ``integration`` (the last page, which
lists discovered devices). The harness creates the owner and finishes ``analytics``
through the REST API (``HassProcess.onboard``). ``core_config`` is the catch: its
view, ``POST /api/onboarding/core_config``, starts the met, radio_browser,
google_translate and shopping_list config flows, and the first three then reach the
internet (weather forecasts, radio station lists, text-to-speech). The harness
gives the location in configuration.yaml instead, so nothing is left to ask.

Home Assistant keeps which steps are done in ``.storage/onboarding``
(``homeassistant/components/onboarding``, store version 4, ``{"done": [...]}``) and
reads it once, at start-up. Writing ``core_config`` and ``integration`` there first
finishes them without running their views, and so without starting those flows.
Once the owner is created and ``analytics`` posted, every step is done: a browser
that opens Home Assistant gets the login page and then the dashboard, not
onboarding's "Home location" page.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from pathlib import Path

ONBOARDING_STORE: Final = ".storage/onboarding"
STORE_VERSION: Final = 4  # homeassistant.components.onboarding.STORAGE_VERSION
# Not "user" (the harness creates the owner through the API, which refuses a step
# already done) nor "analytics" (HassProcess.onboard posts it, and would be refused).
LOCAL_STEPS: Final = ("core_config", "integration")


def finish_local_onboarding_steps(config_dir: Path) -> bool:
    """Mark LOCAL_STEPS done in .storage/onboarding; True if the file changed.

    Only while Home Assistant is stopped: it reads the store at start-up and
    overwrites it when a step is done.
    """
    path = config_dir / ONBOARDING_STORE
    try:
        store: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        store = {
            "version": STORE_VERSION,
            "minor_version": 1,
            "key": "onboarding",
            "data": {"done": []},
        }
    done: list[str] = store.setdefault("data", {}).setdefault("done", [])
    missing = [step for step in LOCAL_STEPS if step not in done]
    if not missing:
        return False
    done.extend(missing)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(store, indent=2) + "\n", "utf-8")
    return True
