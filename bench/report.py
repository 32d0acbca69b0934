"""Write BENCHMARKS.md from the results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from dingtalk_emulator.codes import DEFAULT_RATE_LIMIT_ERROR, RATE_LIMIT_ERRORS

from .burst import APPRISE_SIGNED, OURS
from .overhead import (
    BARE,
    BARE_CONCURRENT,
    BARE_SERIAL,
    HA_CONCURRENT,
    HA_SERIAL,
    LEGACY,
)
from .stats import Summary, ratio

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .burst import BurstResult, BurstRow
    from .config import Sizes
    from .imports import ImportResult
    from .machine import Machine
    from .overhead import OverheadResult
    from .scale import ScaleResult

DASH: Final = "—"
BASELINE_OF: Final = {
    BARE_SERIAL: BARE_SERIAL,
    HA_SERIAL: BARE_SERIAL,
    BARE_CONCURRENT: BARE_CONCURRENT,
    HA_CONCURRENT: BARE_CONCURRENT,
}


@dataclass(frozen=True, slots=True)
class Results:
    """Everything one benchmark run measured."""

    machine: Machine
    sizes: Sizes
    quick: bool
    overhead: OverheadResult
    burst: BurstResult
    scale: ScaleResult
    imports: ImportResult
    duration: float  # wall-clock seconds of the whole run


def _p(text: str) -> str:
    """Return ``text`` as one markdown line (its whitespace collapsed)."""
    return " ".join(text.split())


def _number(value: float, digits: int) -> str:
    """Format a number with thousands separators."""
    return f"{value:,.{digits}f}"


def _cells(summary: Summary | None, digits: int) -> list[str]:
    """Return the median, min and max cells of a summary."""
    if summary is None:
        return [DASH, DASH, DASH]
    return [
        _number(summary.median, digits),
        _number(summary.minimum, digits),
        _number(summary.maximum, digits),
    ]


def _count(summary: Summary, codes: Sequence[int] = ()) -> str:
    """Return a count: the median, the range when runs differed, the errcodes."""
    text = _number(summary.median, 0)
    if not summary.constant:
        text += f" ({summary.minimum:.0f}–{summary.maximum:.0f})"
    if codes and summary.maximum:
        text += " (errcode " + ", ".join(str(code) for code in codes) + ")"
    return text


def _times(value: float) -> str:
    """Return a ratio with a multiplication sign and two decimals."""
    return f"×{value:.2f}"


def _runs(count: int, noun: str = "run") -> str:
    """Return "1 run" or "N runs"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _code_name(name: str) -> str:
    """Put the action of a path name in backticks: `a.b` (what it is)."""
    action, space, rest = name.partition(" ")
    if "." not in action:
        return name
    comma = "," if action.endswith(",") else ""
    return f"`{action.removesuffix(',')}`{comma}{space}{rest}"


def _table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, numeric: bool = True
) -> list[str]:
    """Return a markdown table; numeric ones right-align all but the first column."""
    align = "---:" if numeric else "---"
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---", *[align] * (len(header) - 1)]) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _machine(results: Results) -> list[str]:
    """Return the machine table."""
    machine = results.machine
    packages = machine.packages
    load = "unknown"
    if machine.load_average is not None:
        load = " / ".join(f"{value:.2f}" for value in machine.load_average)
    tools = " / ".join(
        packages[name] for name in ("apprise", "dingtalkchatbot", "requests")
    )
    rows = [
        ["Date", machine.started],
        ["CPU", f"{machine.cpu}, {machine.cores} cores"],
        ["Memory", f"{machine.memory_gib:.1f} GiB"],
        ["System", machine.system],
        ["Python", machine.python],
        ["Home Assistant", packages["homeassistant"]],
        ["aiohttp", packages["aiohttp"]],
        [
            "pytest-homeassistant-custom-component",
            packages["pytest-homeassistant-custom-component"],
        ],
        ["Apprise / DingtalkChatbot / requests", tools],
        ["Load average (1 / 5 / 15 min) at the start", load],
        ["Whole run", f"{results.duration:.0f} s wall clock"],
    ]
    return ["## Machine", "", *_table(["What", "Value"], rows, numeric=False)]


def _key_overhead(overhead: OverheadResult) -> str:
    """Return the overhead bullet of the key figures."""
    bare = overhead.latency_ms[BARE]
    legacy = overhead.latency_ms[LEGACY]
    throughput = overhead.throughput
    serial = ratio(throughput[HA_SERIAL], throughput[BARE_SERIAL])
    concurrent = ratio(throughput[HA_CONCURRENT], throughput[BARE_CONCURRENT])
    return _p(f"""
        - **Overhead:** a `notify.dingtalk_<robot>` call through Home Assistant
        takes {legacy.median:.2f} ms (median) until DingTalk's answer, against
        {bare.median:.2f} ms for a bare aiohttp POST of the same JSON:
        **{_times(ratio(legacy, bare))}**, {legacy.median - bare.median:.2f} ms more
        per message. Throughput, one message at a time: **{_times(serial)}** of the
        bare POST's; all at once: **{_times(concurrent)}**.
    """)


def _key_burst(burst: BurstResult) -> str:
    """Return the burst bullet of the key figures."""
    ours = next(row for row in burst.rows if row.tool == OURS)
    last = ours.last_delivery.median if ours.last_delivery is not None else 0.0
    versus = last / burst.theoretical_seconds if burst.theoretical_seconds else 0.0
    others = "; ".join(
        f"{row.tool}: {row.delivered.median:.0f} delivered,"
        f" {row.silently_lost.median:.0f} lost without an error"
        for row in burst.rows
        if row.tool != OURS
    )
    return _p(f"""
        - **Rate limit:** a burst of {burst.messages} messages to one robot. This
        integration delivered {ours.delivered.median:.0f}/{burst.messages} with
        {ours.throttle_answers.median:.0f} throttle answers and
        {ours.errors.median:.0f} errors, the last one {last:.0f} s (virtual) after
        the first, against a theoretical minimum of
        {burst.theoretical_seconds:.0f} s ({_times(versus)}). {others}.
    """)


def _key_scale(scale: ScaleResult, imports: ImportResult) -> str:
    """Return the scale bullet of the key figures."""
    return _p(f"""
        - **Scale:** {scale.robots} robots × {scale.messages} queued messages:
        {scale.held_per_message.median:,.0f} B of Python memory per queued message
        ({scale.stored_per_message.median:,.0f} B on disk);
        {scale.cpu_ha_us.median:,.0f} µs of CPU per message through Home Assistant
        against {scale.cpu_bare_us.median:,.0f} µs for a bare POST
        ({_times(ratio(scale.cpu_ha_us, scale.cpu_bare_us))}). Config entry setup:
        {scale.setup_first_ms.median:.1f} ms for the first robot,
        {scale.setup_more_ms.median:.1f} ms for each further one. Import:
        {imports.warm_ms.median:.0f} ms on top of a running Home Assistant
        ({imports.cold_ms.median:,.0f} ms cold).
    """)


def _key_figures(results: Results) -> list[str]:
    """Return the short summary at the top."""
    return [
        "## Key figures",
        "",
        _key_overhead(results.overhead),
        _key_burst(results.burst),
        _key_scale(results.scale, results.imports),
        "",
    ]


def _overhead(results: Results) -> list[str]:
    """Return section 1."""
    overhead = results.overhead
    bare = overhead.latency_ms[BARE]
    latency_rows = [
        [
            _code_name(name),
            *_cells(summary, 3),
            _times(ratio(summary, bare)),
        ]
        for name, summary in overhead.latency_ms.items()
    ]
    throughput_rows = [
        [
            _code_name(name),
            *_cells(summary, 0),
            _times(ratio(summary, overhead.throughput[BASELINE_OF[name]])),
        ]
        for name, summary in overhead.throughput.items()
    ]
    return [
        "## 1. Overhead of one notify call",
        "",
        _p(f"""
            One signed robot. The same JSON body ({overhead.body_bytes} bytes: a
            text message with a msgUuid) goes either through an action call on an
            in-process Home Assistant with the integration set up from a config
            entry (`hass.services.async_call(…, blocking=True)` → outbox → client →
            signed POST), or straight from a bare `aiohttp` session that signs each
            request itself. The emulator runs in a child process on 127.0.0.1 with
            its rate limit lifted, and the outbox's pacing is off (a benchmark-only
            setting, not a user option), so only the software path is measured.
            Every call waits for the emulator's answer.
        """),
        "",
        f"### Latency per message (ms), {overhead.latency_messages} messages per path",
        "",
        _p("""
            The paths take turns message by message, so that background load hits
            all of them alike.
        """),
        "",
        *_table(["Path", "median", "min", "max", "median vs bare POST"], latency_rows),
        _p(f"""
            ### Throughput (messages/s), {overhead.throughput_messages} messages per
            run, {_runs(overhead.throughput_runs)}
        """),
        "",
        _p("""
            From the first send until the emulator has delivered every message.
            "All at once" submits every message concurrently; the outbox still
            sends one message at a time per robot, first in first out, which is
            the order DingTalk shows them in.
        """),
        "",
        *_table(
            ["Variant", "median", "min", "max", "median vs bare POST"],
            throughput_rows,
        ),
    ]


def _burst_row(row: BurstRow, messages: int, theoretical: float) -> list[str]:
    """Return one sender's cells (no time ratio unless every message arrived)."""
    last = row.last_delivery
    versus = DASH
    if last is not None and theoretical > 0 and row.delivered.minimum == messages:
        versus = _times(last.median / theoretical)
    throttle_codes = [code for code in row.errcodes if code in RATE_LIMIT_ERRORS]
    other_codes = [code for code in row.errcodes if code not in RATE_LIMIT_ERRORS]
    name = f"**{row.tool}**" if row.tool == OURS else row.tool
    if row.tool == APPRISE_SIGNED:
        name += " ¹"
    return [
        name,
        _count(row.sent),
        _count(row.queued),
        _count(row.errors),
        _count(row.delivered),
        _count(row.throttle_answers, throttle_codes),
        _count(row.rejected, other_codes),
        _count(row.silently_lost),
        *_cells(last, 1),
        versus,
    ]


BURST_NOTES: Final = (
    """
    - **This integration** sends 20, then answers `queued` for the rest and paces
    them at 20 per 61 s (one second of margin per window), so it never meets the
    throttle and delivers everything, in order.
    """,
    """
    - **Apprise** has no DingTalk-specific pacing and judges success by the HTTP
    status only. Its generic throttle (5.5 s between two requests of the same
    Apprise object) keeps one long-lived object under the limit, at the cost of
    5.4 minutes for 60 messages. A new Apprise object starts unthrottled (a script
    that runs `apprise` per event): 40 messages are throttled by DingTalk and
    reported as sent.
    """,
    """
    - ¹ **Apprise with a signed robot:** Apprise 2.3.0 URL-encodes `sign` and then
    passes it to `requests` as a query parameter, which encodes it a second time.
    The emulator decodes once and refuses every message (signature mismatch)
    while Apprise reports each one as sent. Whether real DingTalk
    tolerates the double encoding is UNCONFIRMED (dingtalk-api.md §10), so the two
    Apprise rows above use a robot without signing.
    """,
    """
    - **DingtalkChatbot** sleeps before its 20th message of a minute; as it takes
    its timestamps before that sleep, it ends up sending 20 per 61 s. In real time
    its margin is `int(60 - elapsed) + 1` seconds, which network latency can eat;
    virtual time hides that race. It returns DingTalk's answer but never raises,
    so a caller has to check `errcode` itself.
    """,
    """
    - **The naive loop** (what many scripts and automations do) posts all 60 at
    once: 20 delivered, 40 throttled, all 60 "sent".
    """,
    """
    - ² The last delivery against the theoretical minimum, for senders that
    delivered every message.
    """,
)


def _burst(results: Results) -> list[str]:
    """Return section 2."""
    burst = results.burst
    rows = [
        _burst_row(row, burst.messages, burst.theoretical_seconds) for row in burst.rows
    ]
    header = [
        "Sender",
        "told caller: sent",
        "queued",
        "failed",
        "delivered",
        "throttle answers",
        "other refusals",
        "lost without an error",
        "last delivery, s (median)",
        "min",
        "max",
        "vs minimum ²",
    ]
    return [
        f"## 2. A burst of {burst.messages} messages to one robot",
        "",
        _p(f"""
            {burst.messages} messages, one after another, to one robot of an
            emulator that enforces DingTalk's real limit: 20 deliveries per rolling
            60 s; the 21st request throttles the robot for 10 minutes (errcode
            {DEFAULT_RATE_LIMIT_ERROR} here). Every sender gets a fresh emulator
            and robot. At 20 per minute the {burst.messages}th message can go
            **{burst.theoretical_seconds:.0f} s** after the first at the earliest.
        """),
        "",
        _p("""
            **Virtual time.** The emulator, our outbox and the third-party tools
            share one manual clock, and a sleep moves it forward instead of waiting
            (see `bench/clock.py`): minutes of DingTalk time take a second or two.
            Elapsed times below are virtual seconds, what the pacing logic costs
            without network latency. Our outbox gets the clock through its `clock`,
            `wall_clock` and `sleep` arguments; in Apprise and DingtalkChatbot the
            modules' `time` (and Apprise's `datetime`) are replaced inside the
            benchmark process.
        """),
        "",
        _p(f"""
            "Told caller" is what each sender reported: our `dingtalk.send_message`
            answers `sent` or `queued` (or raises); Apprise's `notify()` result is
            true or false; DingtalkChatbot returns DingTalk's JSON (counted as sent
            when errcode is 0; it never raises); the naive loop counts HTTP 200 as
            sent. "Lost without an error" is told sent or queued, never delivered.
            Counts are medians over {_runs(burst.runs)}, with the range when runs
            differed.
        """),
        "",
        *_table(header, rows),
        *(_p(note) for note in BURST_NOTES),
        "",
    ]


def _scale_tables(scale: ScaleResult) -> tuple[list[str], list[str], list[str]]:
    """Return the memory, CPU and setup tables."""
    total = scale.robots * scale.messages
    memory = _table(
        ["Figure", "median", "min", "max"],
        [
            [
                "Python memory held per queued message (B)",
                *_cells(scale.held_per_message, 0),
            ],
            [
                "… of which allocated in `custom_components/dingtalk` (B)",
                *_cells(scale.own_code_per_message, 0),
            ],
            [
                f"Peak while accepting the {total} messages (KiB)",
                *_cells(scale.peak_kib, 0),
            ],
            [
                "Stored queue on disk per message (B)",
                *_cells(scale.stored_per_message, 0),
            ],
            [
                "Virtual time until every queue drained (s)",
                *_cells(scale.drain_virtual, 1),
            ],
        ],
    )
    cpu = _table(
        ["Path", "CPU µs/message", "min", "max", "messages/s", "min", "max"],
        [
            [
                "through Home Assistant (`notify.dingtalk_<robot>`)",
                *_cells(scale.cpu_ha_us, 0),
                *_cells(scale.rate_ha, 0),
            ],
            [
                "bare aiohttp POST",
                *_cells(scale.cpu_bare_us, 0),
                *_cells(scale.rate_bare, 0),
            ],
        ],
    )
    setup = _table(
        ["Robot", "median", "min", "max", "n"],
        [
            [
                "first robot (also sets up the integration and its notify platforms)",
                *_cells(scale.setup_first_ms, 2),
                str(scale.setup_first_ms.count),
            ],
            [
                "each further robot",
                *_cells(scale.setup_more_ms, 2),
                str(scale.setup_more_ms.count),
            ],
        ],
    )
    return memory, cpu, setup


def _imports(imports: ImportResult) -> list[str]:
    """Return the import table."""
    return _table(
        ["Import", "median", "min", "max"],
        [
            [
                "cold: `custom_components.dingtalk` + `.notify`, fresh interpreter",
                *_cells(imports.cold_ms, 0),
            ],
            [
                "warm: the same after the modules a running Home Assistant has",
                *_cells(imports.warm_ms, 1),
            ],
            [
                "… self time of our own modules (`-X importtime`)",
                *_cells(imports.own_ms, 1),
            ],
        ],
    )


def _scale(results: Results) -> list[str]:
    """Return section 3."""
    scale, imports = results.scale, results.imports
    memory, cpu, setup = _scale_tables(scale)
    total = scale.robots * scale.messages
    return [
        _p(f"""
            ## 3. Scale: {scale.robots} robots with {scale.messages} queued
            messages each
        """),
        "",
        f"### Memory, {_runs(scale.runs)}",
        "",
        _p(f"""
            Each of {scale.robots} robots first sends 20 messages, which fills
            DingTalk's rate window; then {scale.messages} more per robot are
            accepted ({scale.queued} in all) and wait in the outboxes while virtual
            time stands still. tracemalloc measures the memory they hold after a
            garbage collection (everything Python allocated meanwhile, in the whole
            process) and the peak while Home Assistant accepted them. Then virtual
            time runs until every queue has drained ({scale.delivered} messages
            delivered).
        """),
        "",
        *memory,
        f"### CPU time per message, {_runs(scale.runs)}",
        "",
        _p(f"""
            {total} messages ({scale.messages} per robot), submitted at once, pacing
            off. The emulator runs in a child process without a rate limit, so
            `time.process_time()` of the benchmark process counts Home Assistant,
            the integration and its HTTP client only. The baseline is aiohttp
            alone: each robot's messages one after another, the robots side by
            side, as the outboxes send them. CPU ratio:
            **{_times(ratio(scale.cpu_ha_us, scale.cpu_bare_us))}**.
        """),
        "",
        *cpu,
        f"### Config entry setup (ms), {_runs(scale.setup_runs, 'fresh instance')}",
        "",
        _p("""
            `hass.config_entries.async_setup(entry_id)` plus
            `hass.async_block_till_done()`; setting up sends nothing to DingTalk.
        """),
        "",
        *setup,
        f"### Import time (ms), {_runs(imports.runs, 'fresh interpreter')} each",
        "",
        *_imports(imports),
    ]


def _method(results: Results, svg_link: str) -> list[str]:
    """Return how the figures were made, and how to make them again."""
    sizes = results.sizes
    notes = (
        f"""
        - `scripts/bench` runs `scripts/setup`, then `python -m bench`, which writes
        this file and [the plot]({svg_link}); `scripts/bench --quick` is a smoke run
        with small counts whose figures mean little. Raw results go to
        `bench/results/` (not committed).
        """,
        """
        - Every request goes to the DingTalk emulator (`dingtalk_emulator`) on
        127.0.0.1; a socket guard in the benchmark process refuses any other
        address.
        """,
        """
        - Home Assistant runs in the benchmark process
        (`pytest_homeassistant_custom_component.common.async_test_home_assistant`)
        and sets the integration up from config entries. Benchmark-only patches,
        active only inside the benchmark process: the integration's `Outbox` is
        replaced by a subclass that sets `pace=False` (overhead and CPU) or passes
        the virtual clock and sleep (burst and memory), since the integration has
        no way to pass outbox tuning through a config entry; the client signs with
        the virtual clock in virtual-time runs; Home Assistant's DNS resolver is
        aiohttp's threaded one instead of the zeroconf one, as in the tests;
        Apprise's `NotifyDingTalk.notify_url` points at the emulator.
        """,
        f"""
        - Sizes: {sizes.latency_messages} latency messages per path after
        {sizes.warmup} warm-up rounds; {sizes.throughput_messages} messages ×
        {sizes.throughput_runs} throughput runs; a burst of {sizes.burst_messages}
        × {sizes.burst_runs} runs per sender; {sizes.scale_robots} robots ×
        {sizes.scale_messages} messages × {sizes.scale_runs} scale runs;
        {_runs(sizes.setup_runs, "setup run")}; {_runs(sizes.import_runs, "import run")}
        of each kind.
        """,
        """
        - A request to the real DingTalk crosses the Internet, which takes far
        longer than the loopback round trip here (well under a millisecond), so
        the overhead ratios are an upper bound of what a user could notice. The
        machine may have been running other work: see the load average above;
        medians are the figures to read.
        """,
    )
    return ["## How these figures were made", "", *(_p(note) for note in notes), ""]


def render(results: Results, svg_link: str) -> str:
    """Return BENCHMARKS.md."""
    lines = [
        "# Benchmarks",
        "",
        "Generated by `scripts/bench`: do not edit by hand, run it again.",
        "",
    ]
    if results.quick:
        lines += [
            _p("""
                > **Quick run** (`--quick`): small counts for a smoke test; these
                figures are not meaningful.
            """),
            "",
        ]
    lines += [
        _p(f"""
            ![Deliveries of a 60-message burst over virtual time, and latency per
            message]({svg_link})
        """),
        "",
        *_key_figures(results),
        *_machine(results),
        *_overhead(results),
        *_burst(results),
        *_scale(results),
        *_method(results, svg_link),
    ]
    return "\n".join(lines).rstrip() + "\n"
