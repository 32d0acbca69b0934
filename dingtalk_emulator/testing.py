"""Fixed test data for emulator robots and apps (fixtures, demos, benchmarks)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Final

from . import rules
from .app_models import AppConfig, Group, Person
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

#: App keys (ClientIDs) handed out in order by ``make_test_app`` ("ding" + 16).
TEST_APP_KEYS: Final = tuple(f"ding{_hex(f'app-{i}')[:16]}" for i in range(8))
TEST_APP_KEY: Final = TEST_APP_KEYS[0]
#: The AppSecret (ClientSecret) of every test app: 64 characters, like DingTalk's.
TEST_APP_SECRET: Final = _hex("app-secret")
#: People of the test organisation (user_id = staffId).
TEST_PEOPLE: Final = (
    Person(user_id="alice", name="Alice", mobile="13800000001", admin=True),
    Person(user_id="bob", name="Bob", mobile="13800000002"),
    Person(user_id="carol", name="Carol", mobile="13800000003"),
)
TEST_USER_ID: Final = TEST_PEOPLE[0].user_id
#: The test group: alice and bob, and the robot of every app make_test_app adds.
#: Its id contains "+", "/" and "=" like real openConversationIds do.
TEST_GROUP_ID: Final = "cidT3st+Gr0up/0fTheEmu1ator=="
TEST_GROUP_TITLE: Final = "Ops"


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


def make_test_app(  # noqa: PLR0913 - mirrors AppConfig's fields
    emulator: Emulator,
    *,
    client_id: str | None = None,
    client_secret: str = TEST_APP_SECRET,
    robot_code: str = "",
    name: str = "",
    published: bool = True,
    permissions: frozenset[str] = rules.DEFAULT_PERMISSIONS,
    group: bool = True,
) -> AppConfig:
    """Add an app with the next unused TEST_APP_KEYS key, the test people and group.

    People of TEST_PEOPLE that are missing are added; with ``group`` the robot
    joins TEST_GROUP_ID (created with alice and bob if it does not exist yet).
    """
    apps = emulator.apps
    if client_id is None:
        used = {app.client_id for app in apps.apps}
        client_id = next(k for k in TEST_APP_KEYS if k not in used)
    app = apps.add_app(
        AppConfig(
            client_id=client_id,
            client_secret=client_secret,
            robot_code=robot_code,
            name=name or f"Test app {len(apps.apps) + 1}",
            published=published,
            permissions=permissions,
        )
    )
    known = {person.user_id for person in apps.people}
    for person in TEST_PEOPLE:
        if person.user_id not in known:
            apps.add_person(person)
    if group:
        if TEST_GROUP_ID in {g.open_conversation_id for g in apps.groups}:
            apps.join_group(TEST_GROUP_ID, client_id)
        else:
            apps.add_group(
                Group(
                    open_conversation_id=TEST_GROUP_ID,
                    title=TEST_GROUP_TITLE,
                    members=("alice", "bob"),
                    robots=(client_id,),
                )
            )
    return app
