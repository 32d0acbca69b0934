"""Fixed test data for emulator robots (shared by fixtures, demos and benchmarks)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Final

from .models import RobotConfig, RobotState

if TYPE_CHECKING:
    from .emulator import Emulator

#: Where ManualClock fixtures start (2023-11-14 22:13:20 UTC).
EMULATOR_START: Final = 1_700_000_000.0


def _hex(label: str) -> str:
    """Return 64 hex characters derived from ``label`` (looks like a real token)."""
    return hashlib.sha256(f"dingtalk-emulator:{label}".encode()).hexdigest()


#: Access tokens handed out in order by ``make_test_robot``.
TEST_TOKENS: Final = tuple(_hex(f"token-{index}") for index in range(32))
TEST_TOKEN: Final = TEST_TOKENS[0]
#: The secret of signed test robots ("SEC" + 64 hex characters, like DingTalk's).
TEST_SECRET: Final = "SEC" + _hex("secret")


def make_test_robot(  # noqa: PLR0913 - mirrors RobotConfig's fields
    emulator: Emulator,
    *,
    token: str | None = None,
    secret: str | None = TEST_SECRET,
    keywords: tuple[str, ...] = (),
    ip_allowlist: tuple[str, ...] = (),
    name: str = "",
    state: RobotState = RobotState.ACTIVE,
) -> RobotConfig:
    """Add a robot with the next unused TEST_TOKENS token; signed unless secret=None."""
    if token is None:
        used = {robot.access_token for robot in emulator.robots}
        token = next(t for t in TEST_TOKENS if t not in used)
    return emulator.add_robot(
        RobotConfig(
            access_token=token,
            secret=secret,
            keywords=keywords,
            ip_allowlist=ip_allowlist,
            name=name or f"Test robot {len(emulator.robots) + 1}",
            state=state,
        )
    )
