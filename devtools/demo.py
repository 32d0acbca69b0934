"""End-to-end demo: the DingTalk emulator, a real Home Assistant, a robot and an app.

Run it with ``scripts/demo`` (which sets up .venv first) or
``.venv/bin/python -m devtools.demo [--keep]``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
import json
from pathlib import Path
import shutil
import signal
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Any, Final

from .emulator_process import App, EmulatorProcess, Robot, User, masked_url
from .hass_process import (
    CONFIGURATION_YAML,
    PASSWORD,
    USERNAME,
    HassProcess,
    ServiceCallError,
)
from .process_util import LOOPBACK, HarnessError, interrupt_on_signals, say, wait_for

if TYPE_CHECKING:
    from collections.abc import Sequence

ROBOT_NAME: Final = "Demo"
KEYWORD: Final = "通知"
MOBILE: Final = "13800000000"
APP_NAME: Final = "Home app"
PERSON: Final = User("alice01", "Alice", "13800000001")
CAMERA: Final = "camera.demo_camera"
LIGHT: Final = "light.kitchen_lights"
"""The demo's "Kitchen Lights", put in the Kitchen area onboarding created."""
KITCHEN: Final = "kitchen"
AGENT: Final = "conversation.home_assistant"
ASK: Final = "turn on the kitchen light"
DEMO_YAML: Final = f"{CONFIGURATION_YAML}\n# core's demo: its camera, lights.\ndemo:\n"
START_TIMEOUT: Final = 60.0
DELIVERY_TIMEOUT: Final = 20.0


class DemoError(Exception):
    """The demo cannot go on; the message says why and where to look."""


@dataclass(slots=True)
class Clock:
    """Seconds since the demo started, for the step log and the figures."""

    started: float = field(default_factory=time.monotonic)
    started_wall: float = field(default_factory=time.time)

    def elapsed(self) -> float:
        """Seconds since start."""
        return time.monotonic() - self.started

    def step(self, text: str) -> None:
        """Print a step with its time."""
        say(f"[{self.elapsed():5.1f} s] {text}")


@dataclass(slots=True)
class DemoRun:
    """Everything the demo started, so that it can be stopped."""

    work_dir: Path
    emulator: EmulatorProcess
    hass: HassProcess
    robot: Robot
    app: App
    clock: Clock = field(default_factory=Clock)
    entity_id: str = ""
    app_entry_id: str = ""
    person_entity_id: str = ""

    def stop(self) -> None:
        """Stop Home Assistant and the emulator."""
        try:
            self.hass.stop()
        finally:
            self.emulator.stop()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="scripts/demo",
        description=(
            "Start the DingTalk emulator and a real Home Assistant, add a signed "
            "robot through the config flow, send three messages and show what "
            "DingTalk received; add an app and a person, send them the camera's "
            "snapshot, and let the person turn on a light by asking Assist in "
            "DingTalk."
        ),
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep Home Assistant and the emulator running until Ctrl-C",
    )
    return parser.parse_args(argv)


def start(run: DemoRun) -> None:
    """Start both processes side by side and log in to Home Assistant."""
    run.emulator.start()
    run.hass.start()
    emulator_up = run.emulator.wait_until_up()
    run.clock.step(
        f"DingTalk emulator up on {run.emulator.base_url} ({emulator_up:.1f} s)"
    )

    def remaining() -> float:
        return max(START_TIMEOUT - run.clock.elapsed(), 0.5)

    try:
        run.hass.wait_until_up(remaining())
        run.hass.onboard()
        run.hass.wait_until_running(remaining())
        # Else 2026.10+ reverts to every interface, port 8123, after 5 minutes.
        confirmed = run.hass.confirm_http_config()
    except HarnessError as err:
        if "did not" in str(err):
            raise DemoError(
                f"Home Assistant did not start within {START_TIMEOUT:.0f} s; "
                f"see {run.hass.log_hint}"
            ) from err
        raise DemoError(str(err)) from err
    run.clock.step(
        f"Home Assistant running on {run.hass.base_url} "
        f"({run.hass.timings.running or 0:.1f} s), onboarded as {USERNAME!r}"
    )
    if confirmed:
        run.clock.step(
            f"HTTP config {LOOPBACK}:{run.hass.port} confirmed "
            "(Home Assistant would revert it after 5 minutes)"
        )


def add_robot(run: DemoRun) -> None:
    """Add the robot through the config flow, exactly as the UI does."""
    menu = run.hass.start_flow()
    run.clock.step(f"config flow: menu {menu.get('menu_options')}, choosing 'robot'")
    step = run.hass.submit_flow(str(menu["flow_id"]), {"next_step_id": "robot"})
    fields = [str(item["name"]) for item in step.get("data_schema", [])]
    run.clock.step(f"config flow: form {step.get('step_id')!r} with fields {fields}")
    before = set(run.hass.entity_ids("notify"))
    answer = run.hass.submit_flow(
        str(step["flow_id"]),
        {
            "name": ROBOT_NAME,
            "webhook": run.emulator.webhook_url(run.robot.token),
            "secret": run.robot.secret,
            "keywords": [KEYWORD],
            "send_test_message": True,
        },
    )
    if answer.get("type") != "create_entry":
        raise DemoError(
            f"the config flow did not add the robot: {answer.get('errors')}; "
            f"see {run.hass.log_hint}"
        )
    entry = answer.get("result") or {}
    run.clock.step(
        f"robot {ROBOT_NAME!r} added (entry {entry.get('entry_id')}, "
        f"state {entry.get('state')}); the flow sent a test message"
    )

    def new_entity() -> str | None:
        added = sorted(set(run.hass.entity_ids("notify")) - before)
        return added[0] if added else None

    entity_id = wait_for(new_entity, timeout=10.0, interval=0.2)
    if entity_id is None:
        raise DemoError(
            f"no notify entity appeared for the robot; see {run.hass.log_hint}"
        )
    run.entity_id = entity_id

    def legacy_ready() -> bool | None:
        return True if "dingtalk" in run.hass.services("notify") else None

    if wait_for(legacy_ready, timeout=10.0, interval=0.2) is None:
        raise DemoError(f"notify.dingtalk was not registered; see {run.hass.log_hint}")


def add_app(run: DemoRun) -> None:
    """Add the DingTalk app and a person (by mobile number) through the flows."""
    menu = run.hass.start_flow()
    step = run.hass.submit_flow(str(menu["flow_id"]), {"next_step_id": "app"})
    base = run.emulator.base_url
    answer = run.hass.submit_flow(
        str(step["flow_id"]),
        {
            "name": APP_NAME,
            "client_id": run.app.client_id,
            "client_secret": run.app.client_secret,
            "advanced": {"api_base": base, "oapi_base": base},
        },
    )
    if answer.get("type") != "create_entry":
        raise DemoError(f"the app was not added: {answer.get('errors')}")
    entry_id = str(answer["result"]["entry_id"])
    run.app_entry_id = entry_id
    run.clock.step(
        f"app {APP_NAME!r} added (entry {entry_id}); checked without sending anything"
    )
    before = set(run.hass.entity_ids("notify"))
    person = run.hass.start_subentry_flow(entry_id, "person")
    confirm = run.hass.submit_subentry_flow(
        str(person["flow_id"]),
        {"name": PERSON.name, "mobile": PERSON.mobile, "send_test_message": True},
    )
    found = confirm.get("description_placeholders") or {}
    run.clock.step(
        f"person by mobile {found.get('mobile')}: DingTalk found user "
        f"{found.get('user_id')!r}; confirmed"
    )
    done = run.hass.submit_subentry_flow(str(person["flow_id"]), {})
    if done.get("type") != "create_entry":
        raise DemoError(f"the person was not added: {done}")

    def new_entity() -> str | None:
        added = sorted(set(run.hass.entity_ids("notify")) - before)
        return added[0] if added else None

    entity_id = wait_for(new_entity, timeout=10.0, interval=0.2)
    if entity_id is None:
        raise DemoError(f"no notify entity for {PERSON.name}; see {run.hass.log_hint}")
    run.person_entity_id = entity_id


def send_snapshot(run: DemoRun) -> None:
    """Send the demo camera's snapshot to the person, inline."""
    call(
        run,
        "dingtalk",
        "send_message",
        {
            "entity_id": run.person_entity_id,
            "title": "Front door",
            "message": "Someone is at the door.",
            "image": CAMERA,
        },
        return_response=True,
    )


def report_app(run: DemoRun) -> None:
    """Print what the app's robot delivered to the person's 1:1 chat."""
    try:
        messages = run.emulator.wait_for_app_messages(
            run.app.client_id, 2, timeout=DELIVERY_TIMEOUT
        )
    except HarnessError as err:
        raise DemoError(f"{err}; see {run.hass.log_hint}") from err
    say()
    say(f"What the app's robot delivered to {PERSON.name} (1:1 chat):")
    for message in messages:
        params = message.get("msg_param") or {}
        say(f"  {message.get('msg_key')}: {json.dumps(params, ensure_ascii=False)}")
        text = str(params.get("text", ""))
        if "![](" in text:
            media_id = text.rsplit("![](", 1)[1].rstrip(")")
            size = len(run.emulator.media(media_id))
            say(f"    the snapshot, uploaded as {media_id}: {size} bytes")


def app_entity_state(run: DemoRun, name: str) -> dict[str, Any] | None:
    """Return the state of the app's entity ``name`` (after the app's name)."""
    friendly_name = f"{APP_NAME} {name}"
    for state in run.hass.states():
        if state["attributes"].get("friendly_name") == friendly_name:
            return state
    return None


def switch_on_assist(run: DemoRun) -> None:
    """Receive the app's messages; Assist answers the person; the light off."""
    try:
        run.hass.set_options(
            run.app_entry_id,
            {
                "default_format": "auto",
                "combine": True,
                "unsure_delivery": "resend",
                "receive_messages": True,
                "conversation_agent": AGENT,
                "allowed_users": [PERSON.user_id],
            },
        )
    except HarnessError as err:
        raise DemoError(f"the app's options were not saved: {err}") from err

    def connected() -> bool | None:
        state = app_entity_state(run, "Stream connection")
        return True if state is not None and state["state"] == "on" else None

    if wait_for(connected, timeout=DELIVERY_TIMEOUT, interval=0.2) is None:
        raise DemoError(
            f"the app did not connect to Stream mode; see {run.hass.log_hint}"
        )
    run.clock.step(
        f"app options: receiving messages (Stream mode, connected), Assist "
        f"({AGENT}) answers {PERSON.name} ({PERSON.user_id})"
    )
    run.hass.set_device_area(LIGHT, KITCHEN)
    call(run, "light", "turn_off", {"entity_id": LIGHT})
    run.clock.step(f"{LIGHT} is in the Kitchen area, and off")


def light_state(run: DemoRun) -> str:
    """Return the state of the kitchen light."""
    state = run.hass.state(LIGHT)
    return "missing" if state is None else str(state["state"])


def ask_assist(run: DemoRun) -> float:
    """Let the person ask Assist on the emulator; print what happened.

    Return the milliseconds from the message to the answer in the chat.
    """
    chat = run.emulator.chat(run.app.client_id, PERSON.user_id, ASK)
    run.clock.step(f"{PERSON.name} writes {ASK!r} to the app's robot (1:1 chat)")

    def answered() -> dict[str, Any] | None:
        later = [
            message
            for message in run.emulator.app_messages(
                run.app.client_id, str(chat["conversation_id"])
            )
            if int(message["seq"]) > int(chat["seq"])
        ]
        return later[0] if later else None

    answer = wait_for(answered, timeout=DELIVERY_TIMEOUT, interval=0.1)
    if answer is None:
        raise DemoError(f"Assist did not answer; see {run.hass.log_hint}")
    payload = answer.get("payload") or {}
    text = str((payload.get("markdown") or {}).get("text", ""))
    event = app_entity_state(run, "Message") or {"entity_id": "?", "attributes": {}}
    received = event["attributes"]
    turned_on = wait_for(
        lambda: True if light_state(run) == "on" else None, timeout=5.0, interval=0.1
    )
    light = light_state(run)
    say()
    say(f"{PERSON.name} asked Assist through DingTalk:")
    say(
        f"  {event['entity_id']}: {received.get('text')!r} from "
        f"{json.dumps(received.get('sender'), ensure_ascii=False)}, "
        f"allowed {received.get('allowed')}"
    )
    say(f"  Assist answered in the chat ({answer.get('via')}): {text!r}")
    say(f"  {LIGHT}: {light}")
    if turned_on is None:
        raise DemoError(f"{LIGHT} is {light}, not on; see {run.hass.log_hint}")
    return (float(answer["at"]) - float(chat["at"])) * 1000


def demo_app(run: DemoRun) -> float:
    """Add the app and a person, send them the snapshot; they ask Assist.

    Return the milliseconds from the person's message to Assist's answer.
    """
    add_app(run)
    send_snapshot(run)
    report_app(run)
    switch_on_assist(run)
    return ask_assist(run)


def call(
    run: DemoRun,
    domain: str,
    service: str,
    data: dict[str, Any],
    *,
    return_response: bool = False,
) -> dict[str, Any] | None:
    """Call an action, log it, and turn a failure into a DemoError."""
    try:
        result = run.hass.call_service(
            domain, service, data, return_response=return_response
        )
    except ServiceCallError as err:
        raise DemoError(f"{err}; see {run.hass.log_hint}") from err
    suffix = f" -> {result.response}" if result.response is not None else ""
    run.clock.step(f"{domain}.{service} answered in {result.seconds:.2f} s{suffix}")
    return result.response


def send_messages(run: DemoRun) -> float:
    """Send through the three kinds of action the integration offers.

    Return the wall time at which the first action was called.
    """
    first_call = time.time()
    call(
        run,
        "notify",
        "dingtalk",
        {
            "title": "Front door",
            "message": "The front door was opened.",
            "data": {"at_mobiles": [MOBILE]},
        },
    )
    call(
        run,
        "notify",
        "send_message",
        {
            "entity_id": run.entity_id,
            "title": "Washer",
            "message": "**Done** after 1 h 12 min.",
        },
    )
    call(
        run,
        "dingtalk",
        "send_message",
        {
            "entity_id": run.entity_id,
            "msgtype": "action_card",
            "title": "Garage",
            "message": "The garage door has been open for 10 minutes.",
            "buttons": [
                {"title": "Open Home Assistant", "url": f"{run.hass.base_url}/"},
                {"title": "Open the chat page", "url": run.emulator.page_url},
            ],
            "orientation": "horizontal",
        },
        return_response=True,
    )
    return first_call


def report(run: DemoRun, expected: int) -> list[float]:
    """Print what the emulator received; return the delivery times (wall clock)."""
    try:
        messages = run.emulator.wait_for_messages(
            run.robot.token, expected, timeout=DELIVERY_TIMEOUT
        )
    except HarnessError as err:
        raise DemoError(f"{err}; see {run.hass.log_hint}") from err
    requests = run.emulator.requests(run.robot.token)
    say()
    say(f"What DingTalk (the emulator) received: {len(requests)} request(s)")
    by_uuid = {str(m.get("msg_uuid")): m for m in messages}
    unverified = 0
    for number, record in enumerate(requests, start=1):
        query = {str(k): str(v) for k, v in record.get("query", {}).items()}
        verified = record.get("signature_verified")
        if verified is not True:
            unverified += 1
        status = "signature verified" if verified else "signature NOT verified"
        outcome = "delivered" if record.get("delivered") else "not delivered"
        say()
        say(f" #{number} POST {masked_url('/robot/send', query)}")
        say(
            f"    {status}; errcode {record.get('errcode')} "
            f"{record.get('errmsg')!r}; {outcome}"
        )
        message = by_uuid.get(str(record.get("msg_uuid")))
        if message is None:
            continue
        if message.get("rang"):
            say(f"    @mention rings for: {', '.join(message['rang'])}")
        body = json.dumps(message.get("payload"), ensure_ascii=False, indent=2)
        say("    " + body.replace("\n", "\n    "))
    if unverified:
        raise DemoError(f"{unverified} request(s) were not signed correctly")
    if any(
        KEYWORD not in json.dumps(m["payload"], ensure_ascii=False) for m in messages
    ):
        raise DemoError(f"a delivered message lacks the keyword {KEYWORD!r}")
    return [float(message["at"]) for message in messages]


def keep_running(run: DemoRun) -> None:
    """Wait for Ctrl-C while both processes keep running."""
    say()
    say("Both processes keep running (--keep). Press Ctrl-C to stop them.")
    say(f"  chat page:       {run.emulator.page_url}")
    say(
        f"  Home Assistant:  {run.hass.base_url}/  "
        f"(user {USERNAME!r}, password {PASSWORD!r})"
    )
    while True:
        time.sleep(3600)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; return the exit code."""
    args = parse_args(argv)
    interrupt_on_signals()
    work_dir = Path(tempfile.mkdtemp(prefix="dingtalk-demo-"))
    robot = Robot.generate(signed=True, keywords=(KEYWORD,), name=ROBOT_NAME)
    app = App.generate(name=APP_NAME)
    run = DemoRun(
        work_dir=work_dir,
        emulator=EmulatorProcess(
            [robot], apps=[app], users=[PERSON], log_path=work_dir / "emulator.log"
        ),
        hass=HassProcess(
            work_dir / "config",
            log_path=work_dir / "home-assistant.log",
            configuration_yaml=DEMO_YAML,
        ),
        robot=robot,
        app=app,
    )
    say("DingTalk demo: the DingTalk emulator and a real Home Assistant, end to end")
    say(f"  logs: {work_dir} (removed after a successful run)")
    figures: list[str] = []
    code = 0
    try:
        start(run)
        add_robot(run)
        first_call = send_messages(run)
        delivered = report(run, expected=4)
        assist_ms = demo_app(run)
        first = delivered[0] - run.clock.started_wall
        latency_ms = (delivered[1] - first_call) * 1000
        figures = [
            f"Time to first delivered message: {first:.1f} s (the flow's test message)",
            f"notify.dingtalk call to delivery: {latency_ms:.0f} ms",
            f"DingTalk message to Assist's answer in the chat: {assist_ms:.0f} ms",
        ]
        say()
        say(f"Messages as DingTalk shows them: {run.emulator.page_url}")
        if args.keep:
            say()
            for line in figures:
                say(line)
            say(f"Time until here: {run.clock.elapsed():.1f} s")
            keep_running(run)
        else:
            say("  (the emulator stops with this demo; scripts/demo --keep keeps it)")
    except KeyboardInterrupt:
        say()
        say("Interrupted.")
        code = 0 if figures else 130
    except (DemoError, HarnessError) as err:
        say()
        say(f"demo failed: {err}")
        code = 1
    finally:
        say("Stopping Home Assistant and the emulator…")
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not
        run.stop()  # leave a process behind
    if code != 0:
        say(f"logs kept in {work_dir}")
        return code
    shutil.rmtree(work_dir, ignore_errors=True)
    if not args.keep:
        say()
        for line in figures:
            say(line)
        say(f"Total time: {run.clock.elapsed():.1f} s (everything stopped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
