"""Power cuts and shutdowns against a real Home Assistant and the emulator process.

Reported: a message answered "queued" was lost when Home Assistant was killed within
a second (and under a steady stream even one queued 8.8 s before), the rate window
was forgotten so the robot was throttled after the restart, and messages sent by
automations on Home Assistant's shutdown were refused. Here Home Assistant is killed
with SIGKILL (nothing gets to run, as in a power cut) and stopped for real.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import contextlib
import json
import threading
import time
from typing import TYPE_CHECKING, Final

import pytest
import pytest_socket

from devtools.emulator_process import EmulatorProcess
from devtools.hass_process import CONFIGURATION_YAML, HassProcess, ServiceCallError
from devtools.process_util import HarnessError, tail, wait_for

from .conftest import E2E

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .conftest import RobotHandle

pytestmark = pytest.mark.e2e

RATE_LIMIT_ERRCODES: Final = {410100, 130101, 660026}
SEPARATOR: Final = "\n\n────────\n\n"
"""webhook_sender.TEXT_SEPARATOR: how combined messages are joined."""
WINDOW: Final = 75.0
"""Seconds to wait for a rate window (61 s) to pass, and a margin."""

CONFIG: Final = CONFIGURATION_YAML + (
    "\nautomation: !include automations.yaml\nscript: !include scripts.yaml\n"
)


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    """Start the emulator and a Home Assistant that reads automations and scripts."""
    pytest_socket.enable_socket()
    work_dir = tmp_path_factory.mktemp("e2e-durability")
    config = work_dir / "config"
    config.mkdir()
    (config / "automations.yaml").write_text("[]\n", "utf-8")
    (config / "scripts.yaml").write_text("{}\n", "utf-8")
    emulator = EmulatorProcess(log_path=work_dir / "emulator.log")
    hass = HassProcess(
        config, log_path=work_dir / "home-assistant.log", configuration_yaml=CONFIG
    )
    try:
        emulator.start()
        try:
            hass.start_and_onboard()
            emulator.wait_until_up()
        except HarnessError as err:
            pytest.fail(
                f"{err}\n{tail(work_dir / 'home-assistant.log', 80)}", pytrace=False
            )
        yield E2E(hass, emulator, work_dir)
    finally:
        try:
            hass.stop()
        finally:
            emulator.stop()


def send(e2e: E2E, handle: RobotHandle, text: str) -> str:
    """Send a text through dingtalk.send_message; return "sent" or "queued"."""
    result = e2e.hass.call_service(
        "dingtalk",
        "send_message",
        {"entity_id": handle.entity_id, "message": text},
        return_response=True,
    )
    assert result.response is not None
    return str(result.response[handle.entity_id]["status"])


def delivered_texts(e2e: E2E, handle: RobotHandle) -> list[str]:
    """Return every delivered text in order, combined messages taken apart."""
    texts: list[str] = []
    for message in e2e.emulator.messages(handle.token):
        texts.extend(message["payload"]["text"]["content"].split(SEPARATOR))
    return texts


def throttle_answers(e2e: E2E, handle: RobotHandle) -> int:
    """Count DingTalk's rate-limit answers to the robot."""
    return sum(
        1
        for request in e2e.emulator.requests(handle.token)
        if request["errcode"] in RATE_LIMIT_ERRCODES
    )


def wait_until_saved(e2e: E2E, handle: RobotHandle, **options: object) -> None:
    """Wait until Home Assistant itself has saved the robot's entry (and options).

    Home Assistant writes its config entries with a delay: a power cut right after
    adding a robot loses the robot itself, which is not what these tests are about.
    """
    path = e2e.hass.config_dir / ".storage" / "core.config_entries"

    def saved() -> bool | None:
        if not path.exists():
            return None
        entries = json.loads(path.read_text("utf-8"))["data"]["entries"]
        return next(
            (
                True
                for entry in entries
                if entry["entry_id"] == handle.entry_id
                and options.items() <= entry["options"].items()
            ),
            None,
        )

    assert wait_for(saved, timeout=30.0, interval=0.5), "the entry was not saved"


def restart_after_a_power_cut(e2e: E2E) -> None:
    """Kill Home Assistant with SIGKILL and start it again on the same config."""
    e2e.hass.restart(kill=True)


def set_combining(e2e: E2E, handle: RobotHandle, *, combine: bool) -> None:
    """Turn the robot's "combine messages when busy" option on or off."""
    flow = e2e.hass.post(
        "/api/config/config_entries/options/flow", {"handler": handle.entry_id}
    )
    result = e2e.hass.post(
        f"/api/config/config_entries/options/flow/{flow['flow_id']}",
        {"default_format": "auto", "default_target": True, "combine": combine},
    )
    assert result["type"] == "create_entry"

    def reloaded() -> bool | None:
        """Whether the robot is loaded again with its notify entity."""
        entries = {e["entry_id"]: e for e in e2e.hass.config_entries()}
        state = e2e.hass.state(handle.entity_id)
        loaded = entries[handle.entry_id]["state"] == "loaded"
        return True if loaded and state and state["state"] != "unavailable" else None

    assert wait_for(reloaded, timeout=15.0) is not None


def wait_for_texts(e2e: E2E, handle: RobotHandle, count: int) -> list[str]:
    """Wait (up to a rate window) until ``count`` texts were delivered."""
    texts = wait_for(
        lambda: found if len(found := delivered_texts(e2e, handle)) >= count else None,
        timeout=WINDOW,
        interval=0.5,
    )
    assert texts is not None, f"delivered: {delivered_texts(e2e, handle)}"
    return texts


def test_power_cut_right_after_queueing(e2e: E2E) -> None:
    """SIGKILL 0.2 s after 10 were queued: each arrives once, in order, unthrottled.

    The robot's minute is full when they are queued, so after the restart the
    stored sends must hold them back until it has passed.
    """
    handle = e2e.add_robot("Power cut")
    set_combining(e2e, handle, combine=False)
    wait_until_saved(e2e, handle, combine=False)
    # The probe of the config flow was the first of the robot's 20.
    early = [f"early #{n}" for n in range(19)]
    assert [send(e2e, handle, text) for text in early] == ["sent"] * 19
    late = [f"queued #{n}" for n in range(10)]
    assert [send(e2e, handle, text) for text in late] == ["queued"] * 10
    time.sleep(0.2)
    restart_after_a_power_cut(e2e)

    texts = wait_for_texts(e2e, handle, len(early) + len(late))
    assert texts == early + late
    assert throttle_answers(e2e, handle) == 0
    assert len(e2e.emulator.messages(handle.token)) == len(early) + len(late)


def test_power_cut_during_a_steady_stream(e2e: E2E) -> None:
    """Killed in the middle of a stream: every acknowledged message arrives once.

    Messages go out every 0.2 s, past the robot's limit (combining is on, as by
    default); Home Assistant is killed after 6 s. Every message whose call answered
    "sent" or "queued" before the kill is delivered exactly once, in order, and
    DingTalk never throttles the robot.
    """
    handle = e2e.add_robot("Stream")
    wait_until_saved(e2e, handle)
    acknowledged: list[str] = []
    stop = threading.Event()

    def stream() -> None:
        """Send a numbered message every 0.2 s until the kill."""
        n = 0
        while not stop.is_set():
            text = f"stream #{n}"
            try:
                status = send(e2e, handle, text)
            except HarnessError, OSError, ServiceCallError:
                return  # the call in flight when the process died
            if not stop.is_set():
                assert status in {"sent", "queued"}
                acknowledged.append(text)
            n += 1
            time.sleep(0.2)

    with ThreadPoolExecutor(1) as pool:
        sender = pool.submit(stream)
        time.sleep(6.0)
        e2e.hass.kill()
        stop.set()
        sender.result(timeout=30)
    assert len(acknowledged) > 20  # past DingTalk's limit: some were still queued
    e2e.hass.restart()

    texts = wait_for_texts(e2e, handle, len(acknowledged))
    sent = [text for text in texts if text.startswith("stream #")]
    assert sent[: len(acknowledged)] == acknowledged
    assert len(set(sent)) == len(sent)  # nothing twice
    assert throttle_answers(e2e, handle) == 0


def write_yaml(e2e: E2E, name: str, content: object) -> None:
    """Write automations.yaml or scripts.yaml (as JSON, which YAML reads)."""
    (e2e.hass.config_dir / name).write_text(json.dumps(content), "utf-8")


def test_shutdown_messages_are_delivered(e2e: E2E) -> None:
    """An automation on the shutdown trigger and a "notify, then stop" script deliver.

    Reported: the outbox stopped in the same shutdown stage as these automations,
    which then failed with "not running".
    """
    handle = e2e.add_robot("Shutdown")
    write_yaml(
        e2e,
        "automations.yaml",
        [
            {
                "id": "tell_stopping",
                "alias": "Tell DingTalk that Home Assistant stops",
                "triggers": [{"trigger": "homeassistant", "event": "shutdown"}],
                "actions": [
                    {
                        "action": "notify.send_message",
                        "target": {"entity_id": handle.entity_id},
                        "data": {"message": "Home Assistant is stopping"},
                    }
                ],
            }
        ],
    )
    write_yaml(
        e2e,
        "scripts.yaml",
        {
            "restart_with_notice": {
                "sequence": [
                    {
                        "action": "dingtalk.send_message",
                        "target": {"entity_id": handle.entity_id},
                        "data": {"message": "Restarting now"},
                    },
                    {"action": "homeassistant.restart"},
                ]
            }
        },
    )
    e2e.hass.call_service("automation", "reload")
    e2e.hass.call_service("script", "reload")

    started = time.monotonic()
    with contextlib.suppress(HarnessError, OSError):  # the answer may not come
        e2e.hass.call_service("script", "restart_with_notice", timeout=5)
    exited = wait_for(e2e.hass.poll, timeout=60.0, interval=0.2)
    elapsed = time.monotonic() - started
    assert exited is not None, "Home Assistant did not exit for its restart"
    texts = delivered_texts(e2e, handle)
    assert texts == ["Restarting now", "Home Assistant is stopping"]
    assert elapsed < 30.0  # within the shutdown stage's budget

    e2e.hass.restart()  # the harness starts it again (the restart's exit code 100)
    assert send(e2e, handle, "back") == "sent"
