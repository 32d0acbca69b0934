"""The command line: argument parsing, in-process runs and a real subprocess."""

from __future__ import annotations

import asyncio
import io
import json
import os
from pathlib import Path
import runpy
import signal
import socket
import sys
import time
from typing import TYPE_CHECKING

import pytest

from dingtalk_emulator import (
    Emulator,
    EmulatorServer,
    ManualClock,
    RobotConfig,
    RobotState,
    SystemClock,
    cli,
)
from dingtalk_emulator.testing import TEST_SECRET, TEST_TOKEN, TEST_TOKENS

from .helpers import sign, text

if TYPE_CHECKING:
    from collections.abc import Coroutine

    import aiohttp

REPO = Path(__file__).resolve().parents[2]


def test_parse_robot() -> None:
    """TOKEN[:SECRET[:kw1,kw2]]; an empty secret means unsigned."""
    plain = cli.parse_robot("tok")
    assert (plain.access_token, plain.secret, plain.keywords) == ("tok", None, ())
    signed = cli.parse_robot("tok:SECx:alarm,disk")
    assert (signed.secret, signed.keywords) == ("SECx", ("alarm", "disk"))
    keywords_only = cli.parse_robot("tok::alarm,")
    assert (keywords_only.secret, keywords_only.keywords) == (None, ("alarm",))


def test_load_robots_file(tmp_path: Path) -> None:
    """A robots file is a list of robots or {"robots": [...]}."""
    robot = {"access_token": "t1", "secret": "SECx", "name": "Ops", "state": "disabled"}
    as_list = tmp_path / "list.json"
    as_list.write_text(json.dumps([robot]))
    as_dict = tmp_path / "dict.json"
    as_dict.write_text(json.dumps({"robots": [robot]}))
    for path in (as_list, as_dict):
        [loaded] = cli.load_robots_file(path)
        assert (loaded.name, loaded.state) == ("Ops", RobotState.DISABLED)
    bad = tmp_path / "bad.json"
    bad.write_text('{"robot": []}')
    with pytest.raises(TypeError, match="expected a list of robots"):
        cli.load_robots_file(bad)


def test_build_emulator(tmp_path: Path) -> None:
    """Options reach the emulator; robots come from --robot and --robots-file."""
    robots_file = tmp_path / "robots.json"
    robots_file.write_text(json.dumps([{"access_token": TEST_TOKENS[1]}]))
    args = cli.build_parser().parse_args(
        [
            "--robot",
            f"{TEST_TOKEN}:{TEST_SECRET}",
            "--robots-file",
            str(robots_file),
            "--wording",
            "en",
            "--token-error-code",
            "400101",
            "--rate-limit-code",
            "130101",
            "--manual-clock",
        ]
    )
    emulator = cli.build_emulator(args)
    assert [r.access_token for r in emulator.robots] == [TEST_TOKEN, TEST_TOKENS[1]]
    assert emulator.wording.value == "en"
    assert emulator.token_error_code == 400101
    assert emulator.rate_limit_code == 130101
    assert isinstance(emulator.clock, ManualClock)
    defaults = cli.build_parser().parse_args([])
    assert (defaults.host, defaults.port) == ("127.0.0.1", 8765)
    assert isinstance(cli.build_emulator(defaults).clock, SystemClock)


@pytest.mark.parametrize(
    "argv",
    [
        ["--robots-file", "/nonexistent/robots.json"],
        ["--robot", ":SECx"],
        ["--robot", "a", "--robot", "a"],
        ["--wording", "fr"],
    ],
)
def test_main_rejects_bad_arguments(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad arguments exit with status 2 and a message."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_main_runs_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """main() hands the emulator to run() through asyncio.run."""
    seen: list[str] = []

    def fake_run(coroutine: Coroutine[object, object, int]) -> int:
        """Record the coroutine instead of running it."""
        seen.append(coroutine.cr_code.co_name)  # type: ignore[attr-defined]
        coroutine.close()
        return 0

    monkeypatch.setattr(asyncio, "run", fake_run)
    assert cli.main(["--port", "0"]) == 0
    assert seen == ["run"]


def test_module_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """The module entry point prints usage for --help and exits 0."""
    monkeypatch.setattr(sys, "argv", ["dingtalk_emulator", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("dingtalk_emulator", run_name="__main__")
    assert exit_info.value.code == 0


async def _wait_for_output(out: io.StringIO) -> list[str]:
    """Wait until the banner was printed; return its lines."""
    for _ in range(500):
        if out.getvalue().endswith("\n"):
            return out.getvalue().splitlines()
        await asyncio.sleep(0.01)
    pytest.fail("no banner")


async def test_run_until_sigterm(
    http: aiohttp.ClientSession, capsys: pytest.CaptureFixture[str]
) -> None:
    """run() prints the URLs, serves, and stops cleanly on SIGTERM."""
    args = cli.build_parser().parse_args(
        ["--port", "0", "--robot", f"{TEST_TOKEN}::alarm", "--robot", TEST_TOKENS[1]]
    )
    emulator = cli.build_emulator(args)
    out = io.StringIO()
    task = asyncio.create_task(cli.run(args, emulator, out=out))
    lines = await _wait_for_output(out)
    assert lines[0].startswith("DingTalk emulator: http://127.0.0.1:")
    base = lines[0].split()[2].removesuffix("/")
    assert lines[1] == (
        f"  robot {TEST_TOKEN[:6]}… [keywords=alarm]: "
        f"{base}/robot/send?access_token={TEST_TOKEN}"
    )
    assert "[no security]" in lines[2]
    async with http.post(
        f"{base}/robot/send?access_token={TEST_TOKEN}", json=text("alarm")
    ) as response:
        assert await response.json() == {"errcode": 0, "errmsg": "ok"}
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(task, 10) == 0
    assert capsys.readouterr().err == ""


async def test_run_without_robots_prints_a_hint(
    socket_enabled: None,  # noqa: ARG001 - the server needs sockets
) -> None:
    """With no robots the banner says how to add one; SIGINT stops it too."""
    args = cli.build_parser().parse_args(["--port", "0"])
    out = io.StringIO()
    task = asyncio.create_task(cli.run(args, cli.build_emulator(args), out=out))
    lines = await _wait_for_output(out)
    assert "no robots yet" in lines[1]
    os.kill(os.getpid(), signal.SIGINT)
    assert await asyncio.wait_for(task, 10) == 0


async def test_run_port_in_use(
    socket_enabled: None,  # noqa: ARG001 - binds a real socket
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A port that is taken: exit status 1 and a message."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = cli.build_parser().parse_args(["--port", str(port)])
        assert await cli.run(args, cli.build_emulator(args)) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


async def test_subprocess(http: aiohttp.ClientSession) -> None:
    """A real `python -m dingtalk_emulator` on port 0: a signed message, then SIGINT."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dingtalk_emulator",
        "--port",
        "0",
        "--print-url",
        "--robot",
        f"{TEST_TOKEN}:{TEST_SECRET}:alarm",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        base = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        webhook = (
            (await asyncio.wait_for(process.stdout.readline(), 5)).decode().strip()
        )
        assert base.startswith("http://127.0.0.1:")
        assert webhook == f"{base}/robot/send?access_token={TEST_TOKEN}"
        timestamp = round(time.time() * 1000)
        signed = f"{webhook}&timestamp={timestamp}&sign={sign(TEST_SECRET, timestamp)}"
        async with http.post(signed, json=text("alarm: disk full")) as response:
            assert await response.json() == {"errcode": 0, "errmsg": "ok"}
        async with http.get(f"{base}/api/messages") as response:
            [message] = (await response.json())["messages"]
        assert message["payload"] == text("alarm: disk full")
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:  # pragma: no cover - only if the test failed
            process.kill()
            await process.wait()
    assert process.stderr is not None
    assert await process.stderr.read() == b""


def test_print_urls_only() -> None:
    """--print-url prints the base URL, then one webhook URL per robot, only."""
    emulator = Emulator()
    emulator.add_robot(RobotConfig(access_token=TEST_TOKEN))
    out = io.StringIO()
    cli.print_banner(
        EmulatorServer(emulator, "127.0.0.1", 8765), emulator, urls_only=True, out=out
    )
    assert out.getvalue() == (
        "http://127.0.0.1:8765\n"
        f"http://127.0.0.1:8765/robot/send?access_token={TEST_TOKEN}\n"
    )
    ipv6 = EmulatorServer(emulator, "::1", 1)
    assert ipv6.base_url == "http://[::1]:1"
