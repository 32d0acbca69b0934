"""Bench apps, their person and group in the emulator: no Home Assistant imports.

Child-safe, as ``bench.robots``: ``bench.emulator_child`` adds these apps to the
emulator it serves, with DingTalk's per-person flow limit and the apps' QPS limit
lifted (``UNLIMITED_APPS``), so that only the software path is measured. Its Stream
gateway sends no SYSTEM pings and pushes an un-ACKed callback again after
``ACK_TIMEOUT`` seconds instead of DingTalk's minute, so that a message written
while an app had no connection arrives within the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from dingtalk_emulator import AppConfig, AppSettings, Group, Person

if TYPE_CHECKING:
    from dingtalk_emulator import Emulator

ACK_TIMEOUT: Final = 0.5
"""Seconds before the bench gateway pushes an un-ACKed callback again."""
UNLIMITED_APPS: Final = AppSettings(
    flow_limit=None, qps_limit=None, ack_timeout=ACK_TIMEOUT, ping_interval=None
)
"""The app side without DingTalk's limits (latency, token and receive runs)."""

PERSON: Final = Person(user_id="benchperson01", name="Bench person")
GROUP_ID: Final = "cidBenchGroup0001"


@dataclass(frozen=True, slots=True)
class BenchApp:
    """An app of the emulator child: its credentials and its entry's title."""

    client_id: str
    title: str

    @property
    def client_secret(self) -> str:
        """Return its Client Secret (test data, made from the Client ID)."""
        return f"bench-secret-{self.client_id}-0123456789"


LATENCY_APP: Final = BenchApp("dingbenchlatency01", "Bench app")
"""The app of the latency paths (§1)."""
VALID_APP: Final = BenchApp("dingbenchtokens01", "Bench tokens")
"""The app of the token run whose token stays valid."""
SHORT_APP: Final = BenchApp("dingbenchtokens02", "Bench tokens, short-lived")
"""The app of the token run whose first token lives a second (and expires)."""
REVOKED_APP: Final = BenchApp("dingbenchtokens03", "Bench tokens, revoked")
"""The app of the token run whose token is revoked once in the middle."""
RECEIVE_APP: Final = BenchApp("dingbenchreceive01", "Bench receiver")
"""The app Home Assistant receives messages of (Stream mode)."""
STREAM_APP: Final = BenchApp("dingbenchstream01", "Bench bare stream")
"""The app a bare aiohttp WebSocket client receives messages of (the floor)."""
BENCH_APPS: Final = (
    LATENCY_APP,
    VALID_APP,
    SHORT_APP,
    REVOKED_APP,
    RECEIVE_APP,
    STREAM_APP,
)


def add_bench_apps(emulator: Emulator) -> None:
    """Add every bench app, the bench person and a group with every app's robot."""
    apps = emulator.apps
    for app in BENCH_APPS:
        apps.add_app(
            AppConfig(
                client_id=app.client_id,
                client_secret=app.client_secret,
                name=app.title,
            )
        )
    apps.add_person(PERSON)
    apps.add_group(
        Group(
            open_conversation_id=GROUP_ID,
            title="Bench group",
            members=(PERSON.user_id,),
            robots=tuple(app.client_id for app in BENCH_APPS),
        )
    )
