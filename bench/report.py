"""Write BENCHMARKS.md from the results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from dingtalk_emulator.codes import DEFAULT_RATE_LIMIT_ERROR, RATE_LIMIT_ERRORS

from .burst import APPRISE_SIGNED, OUR_ROWS, OURS, OURS_COMBINED
from .markdown import DASH, cells, code_name, count, paragraph, runs, table, times
from .overhead import (
    BARE,
    BARE_CONCURRENT,
    BARE_SERIAL,
    HA_CONCURRENT,
    HA_SERIAL,
    LEGACY,
    NOOP,
    SERVICE,
)
from .report_app import app_section, key_app, key_receive, receive_section
from .report_core import key_persist, key_split, persist_section, split_section
from .stats import ratio

if TYPE_CHECKING:
    from .app_path import AppResult
    from .burst import BurstResult, BurstRow
    from .config import Sizes
    from .imports import ImportResult
    from .machine import Machine
    from .overhead import OverheadResult
    from .persist import PersistResult
    from .receive import ReceiveResult
    from .scale import ScaleResult
    from .split import SplitResult

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
    persist: PersistResult
    split: SplitResult
    app: AppResult
    receive: ReceiveResult
    duration: float  # wall-clock seconds of the whole run


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
    return ["## Machine", "", *table(["What", "Value"], rows, numeric=False)]


def own_work_ms(overhead: OverheadResult) -> float:
    """Return what dingtalk.send_message takes above a no-op action and a POST."""
    latency = overhead.latency_ms
    return latency[SERVICE].median - latency[NOOP].median - latency[BARE].median


def _key_overhead(overhead: OverheadResult) -> str:
    """Return the overhead bullet of the key figures."""
    bare = overhead.latency_ms[BARE]
    noop = overhead.latency_ms[NOOP]
    legacy = overhead.latency_ms[LEGACY]
    service = overhead.latency_ms[SERVICE]
    own = own_work_ms(overhead)
    throughput = overhead.throughput
    serial = ratio(throughput[HA_SERIAL], throughput[BARE_SERIAL])
    concurrent = ratio(throughput[HA_CONCURRENT], throughput[BARE_CONCURRENT])
    return paragraph(f"""
        - **Overhead:** a `notify.dingtalk_<robot>` call through Home Assistant
        takes {legacy.median:.2f} ms (median) until DingTalk's answer, against
        {bare.median:.2f} ms for a bare aiohttp POST of the same JSON:
        **{times(ratio(legacy, bare))}**, {legacy.median - bare.median:.2f} ms more
        per message. A no-op action called the same way as `dingtalk.send_message`
        takes {noop.median:.2f} ms: `dingtalk.send_message` takes
        {service.median:.2f} ms, **{times(ratio(service, noop))}** of the no-op
        action, and {own:.2f} ms above the no-op action plus the bare POST (the
        integration's own work). Throughput, one message at a time:
        **{times(serial)}** of the bare POST's; all at once:
        **{times(concurrent)}**.
    """)


def _key_burst(burst: BurstResult) -> str:
    """Return the burst bullet of the key figures."""
    ours = {row.tool: row for row in burst.rows if row.tool in OUR_ROWS}

    def summary(row: BurstRow) -> str:
        last = row.last_delivery.median if row.last_delivery is not None else 0.0
        versus = last / burst.theoretical_seconds if burst.theoretical_seconds else 0
        return (
            f"{row.delivered.median:.0f}/{burst.messages} delivered in"
            f" {row.requests.median:.0f} requests with"
            f" {row.throttle_answers.median:.0f} throttle answers and"
            f" {row.errors.median:.0f} errors, the last one {last:.0f} s (virtual)"
            f" after the first ({times(versus)} of the theoretical minimum of"
            f" {burst.theoretical_seconds:.0f} s for one message per request)"
        )

    others = "; ".join(
        f"{row.tool}: {row.delivered.median:.0f} delivered,"
        f" {row.silently_lost.median:.0f} lost without an error"
        for row in burst.rows
        if row.tool not in OUR_ROWS
    )
    return paragraph(f"""
        - **Rate limit:** a burst of {burst.messages} messages to one robot. This
        integration, combining on (the default): {summary(ours[OURS_COMBINED])};
        combining off: {summary(ours[OURS])}. {others}.
    """)


def _key_scale(scale: ScaleResult, imports: ImportResult) -> str:
    """Return the scale bullet of the key figures."""
    return paragraph(f"""
        - **Scale:** {scale.robots} robots × {scale.messages} queued messages:
        {scale.held_per_message.median:,.0f} B of Python memory per queued message
        ({scale.stored_per_message.median:,.0f} B on disk);
        {scale.cpu_ha_us.median:,.0f} µs of CPU per message through Home Assistant
        against {scale.cpu_bare_us.median:,.0f} µs for a bare POST
        ({times(ratio(scale.cpu_ha_us, scale.cpu_bare_us))}). Config entry setup:
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
        key_persist(results.persist, own_work_ms(results.overhead)),
        key_split(results.split),
        key_app(results.app),
        key_receive(results.receive),
        "",
    ]


def _overhead(results: Results) -> list[str]:
    """Return section 1."""
    overhead = results.overhead
    bare = overhead.latency_ms[BARE]
    noop = overhead.latency_ms[NOOP]
    latency_rows = [
        [
            code_name(name),
            *cells(summary, 3),
            times(ratio(summary, bare)),
            times(ratio(summary, noop)),
        ]
        for name, summary in overhead.latency_ms.items()
    ]
    throughput_rows = [
        [
            code_name(name),
            *cells(summary, 0),
            times(ratio(summary, overhead.throughput[BASELINE_OF[name]])),
        ]
        for name, summary in overhead.throughput.items()
    ]
    return [
        "## 1. Overhead of one notify call",
        "",
        paragraph(f"""
            One signed robot. The same JSON body ({overhead.body_bytes} bytes: a
            text message with a msgUuid) goes either through an action call on an
            in-process Home Assistant with the integration set up from a config
            entry (`hass.services.async_call(…, blocking=True)` → outbox → client →
            signed POST), or straight from a bare `aiohttp` session that signs each
            request itself. The emulator runs in a child process on 127.0.0.1 with
            its rate limit lifted, and the outbox's pacing is off (a benchmark-only
            setting, not a user option), so only the software path is measured.
            Every call waits for the emulator's answer. Two floors: the bare POST
            (the HTTP request alone) and `bench.noop`, an action registered in the
            same Home Assistant that does nothing and returns an empty response,
            called exactly as `dingtalk.send_message` is (blocking, with response
            data): what Home Assistant's action call costs by itself.
        """),
        "",
        f"### Latency per message (ms), {overhead.latency_messages} messages per path",
        "",
        paragraph("""
            The paths take turns message by message, so that background load hits
            all of them alike.
        """),
        "",
        *table(
            [
                "Path",
                "median",
                "min",
                "max",
                "median vs bare POST",
                "median vs no-op action",
            ],
            latency_rows,
        ),
        paragraph(f"""
            ### Throughput (messages/s), {overhead.throughput_messages} messages per
            run, {runs(overhead.throughput_runs)}
        """),
        "",
        paragraph("""
            From the first send until the emulator has delivered every message.
            "All at once" submits every message concurrently; the outbox still
            sends one message at a time per robot, first in first out, which is
            the order DingTalk shows them in.
        """),
        "",
        *table(
            ["Variant", "median", "min", "max", "median vs bare POST"],
            throughput_rows,
        ),
    ]


def _burst_row(row: BurstRow, messages: int, theoretical: float) -> list[str]:
    """Return one sender's cells (no time ratio unless every message arrived)."""
    last = row.last_delivery
    versus = DASH
    if last is not None and theoretical > 0 and row.delivered.minimum == messages:
        versus = times(last.median / theoretical)
    throttle_codes = [code for code in row.errcodes if code in RATE_LIMIT_ERRORS]
    other_codes = [code for code in row.errcodes if code not in RATE_LIMIT_ERRORS]
    name = f"**{row.tool}**" if row.tool in OUR_ROWS else row.tool
    if row.tool == APPRISE_SIGNED:
        name += " ¹"
    return [
        name,
        count(row.sent),
        count(row.queued),
        count(row.errors),
        count(row.delivered),
        count(row.requests),
        count(row.throttle_answers, throttle_codes),
        count(row.rejected, other_codes),
        count(row.silently_lost),
        *cells(last, 1),
        versus,
    ]


BURST_NOTES: Final = (
    """
    - **This integration, combining off** sends 20, then answers `queued` for the
    rest and paces them at 20 per 61 s (one second of margin per window), so it
    never meets the throttle and delivers everything, in order.
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
    - ² The last delivery against the theoretical minimum of sending one message
    per request, for senders that delivered every message.
    """,
)


def _combined_note(burst: BurstResult) -> str:
    """Describe what combining did in this run, from the measurements."""
    row = next(row for row in burst.rows if row.tool == OURS_COMBINED)
    last = row.last_delivery.median if row.last_delivery is not None else 0.0
    order = "in the order they were sent" if row.in_order else "**out of order**"
    duplicates = (
        "no message twice"
        if row.duplicates.maximum == 0
        else f"**{row.duplicates.median:.0f} messages twice**"
    )
    return paragraph(f"""
        - **This integration, combining on** (the default of a new robot): once 3
        or fewer sends of the window are left, the head waits 1 s for company and
        then every waiting text that fits in one 20 000-byte body goes out as one
        message. {row.delivered.median:.0f} of {burst.messages} messages arrived in
        {row.requests.median:.0f} requests, the last {last:.1f} s (virtual) after
        the first, {order}, {duplicates}. A combined message shows many alerts
        in one chat message (separated by a line); larger messages fit fewer to a
        request. The burst's calls take no virtual time here, so every message
        after the hold began joins the first combined request.
    """)


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
        "requests",
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
        paragraph(f"""
            {burst.messages} messages, one after another, to one robot of an
            emulator that enforces DingTalk's real limit: 20 deliveries per rolling
            60 s; the 21st request throttles the robot for 10 minutes (errcode
            {DEFAULT_RATE_LIMIT_ERROR} here). Every sender gets a fresh emulator
            and robot. At 20 per minute the {burst.messages}th message can go
            **{burst.theoretical_seconds:.0f} s** after the first at the earliest.
        """),
        "",
        paragraph("""
            **Virtual time.** The emulator, our outbox and the third-party tools
            share one manual clock, and a sleep moves it forward instead of waiting
            (see `bench/clock.py`): minutes of DingTalk time take a second or two.
            Elapsed times below are virtual seconds, what the pacing logic costs
            without network latency. Our outboxes get the clock through their
            settings (`OutboxSettings.clock`, `wall_clock` and `sleep`, in
            `hass.data[DATA_SETTINGS]`); in Apprise and DingtalkChatbot the
            modules' `time` (and Apprise's `datetime`) are replaced inside the
            benchmark process.
        """),
        "",
        paragraph(f"""
            "Told caller" is what each sender reported: our `dingtalk.send_message`
            answers `sent` or `queued` (or raises); Apprise's `notify()` result is
            true or false; DingtalkChatbot returns DingTalk's JSON (counted as sent
            when errcode is 0; it never raises); the naive loop counts HTTP 200 as
            sent. "Delivered" counts the burst's messages whose text reached the
            chat (a combined message holds several), "requests" the requests the
            emulator received. "Lost without an error" is told sent or queued,
            never delivered. Counts are medians over {runs(burst.runs)}, with the
            range when runs differed.
        """),
        "",
        *table(header, rows),
        paragraph(BURST_NOTES[0]),
        _combined_note(burst),
        *(paragraph(note) for note in BURST_NOTES[1:]),
        "",
    ]


def _scale_tables(scale: ScaleResult) -> tuple[list[str], list[str], list[str]]:
    """Return the memory, CPU and setup tables."""
    total = scale.robots * scale.messages
    memory = table(
        ["Figure", "median", "min", "max"],
        [
            [
                "Python memory held per queued message (B)",
                *cells(scale.held_per_message, 0),
            ],
            [
                "… of which allocated in `custom_components/dingtalk` (B)",
                *cells(scale.own_code_per_message, 0),
            ],
            [
                f"Peak while accepting the {total} messages (KiB)",
                *cells(scale.peak_kib, 0),
            ],
            [
                "Stored queue on disk per message (B)",
                *cells(scale.stored_per_message, 0),
            ],
            [
                "Virtual time until every queue drained (s)",
                *cells(scale.drain_virtual, 1),
            ],
        ],
    )
    cpu = table(
        ["Path", "CPU µs/message", "min", "max", "messages/s", "min", "max"],
        [
            [
                "through Home Assistant (`notify.dingtalk_<robot>`)",
                *cells(scale.cpu_ha_us, 0),
                *cells(scale.rate_ha, 0),
            ],
            [
                "bare aiohttp POST",
                *cells(scale.cpu_bare_us, 0),
                *cells(scale.rate_bare, 0),
            ],
        ],
    )
    setup = table(
        ["Robot", "median", "min", "max", "n"],
        [
            [
                "first robot (also sets up the integration and its notify platforms)",
                *cells(scale.setup_first_ms, 2),
                str(scale.setup_first_ms.count),
            ],
            [
                "each further robot",
                *cells(scale.setup_more_ms, 2),
                str(scale.setup_more_ms.count),
            ],
        ],
    )
    return memory, cpu, setup


def _imports(imports: ImportResult) -> list[str]:
    """Return the import table."""
    return table(
        ["Import", "median", "min", "max"],
        [
            [
                "cold: `custom_components.dingtalk` + `.notify`, fresh interpreter",
                *cells(imports.cold_ms, 0),
            ],
            [
                "warm: the same after the modules a running Home Assistant has",
                *cells(imports.warm_ms, 1),
            ],
            [
                "… self time of our own modules (`-X importtime`)",
                *cells(imports.own_ms, 1),
            ],
        ],
    )


def _scale(results: Results) -> list[str]:
    """Return section 3."""
    scale, imports = results.scale, results.imports
    memory, cpu, setup = _scale_tables(scale)
    total = scale.robots * scale.messages
    return [
        paragraph(f"""
            ## 3. Scale: {scale.robots} robots with {scale.messages} queued
            messages each
        """),
        "",
        f"### Memory, {runs(scale.runs)}",
        "",
        paragraph(f"""
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
        f"### CPU time per message, {runs(scale.runs)}",
        "",
        paragraph(f"""
            {total} messages ({scale.messages} per robot), submitted at once, pacing
            off. The emulator runs in a child process without a rate limit, so
            `time.process_time()` of the benchmark process counts Home Assistant,
            the integration and its HTTP client only. The baseline is aiohttp
            alone: each robot's messages one after another, the robots side by
            side, as the outboxes send them. CPU ratio:
            **{times(ratio(scale.cpu_ha_us, scale.cpu_bare_us))}**.
        """),
        "",
        *cpu,
        f"### Config entry setup (ms), {runs(scale.setup_runs, 'fresh instance')}",
        "",
        paragraph("""
            `hass.config_entries.async_setup(entry_id)` plus
            `hass.async_block_till_done()`; setting up sends nothing to DingTalk.
        """),
        "",
        *setup,
        f"### Import time (ms), {runs(imports.runs, 'fresh interpreter')} each",
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
        and sets the integration up from config entries. Benchmark-only settings
        and patches, active only inside the benchmark process: the outboxes'
        `OutboxSettings` in `hass.data[DATA_SETTINGS]` set `pace=False` (overhead
        and CPU) or the virtual clock and sleep (burst, memory, durable queue),
        turn combining off except in the burst's "combining" row and the durable
        queue's bound up (it holds over 500 messages), and put the SQLite queue in
        the benchmark's temporary folder; the client signs with the virtual clock
        in virtual-time runs; Home Assistant's DNS resolver is
        aiohttp's threaded one instead of the zeroconf one, as in the tests;
        Apprise's `NotifyDingTalk.notify_url` points at the emulator.
        """,
        f"""
        - Sizes: {sizes.latency_messages} latency messages per path after
        {sizes.warmup} warm-up rounds; {sizes.throughput_messages} messages ×
        {sizes.throughput_runs} throughput runs; a burst of {sizes.burst_messages}
        × {sizes.burst_runs} runs per sender; {sizes.scale_robots} robots ×
        {sizes.scale_messages} messages × {sizes.scale_runs} scale runs;
        {runs(sizes.setup_runs, "setup run")}; {runs(sizes.import_runs, "import run")}
        of each kind; {sizes.persist_samples} timed messages per queue level ×
        {runs(sizes.persist_runs, "durable-queue run")};
        {runs(sizes.split_runs, "call")} per message and implementation of
        `prepare()`, each stopped after {sizes.split_timeout:g} s;
        {sizes.app_token_messages:,} messages per token run;
        {sizes.receive_messages} received messages per path after
        {sizes.warmup} warm-up rounds; {runs(sizes.disconnects, "disconnect")}
        per receiving client.
        """,
        """
        - The app side (§6, §7) runs in the emulator child of §1 and §7, with
        benchmark-only settings of the emulator, not of the integration: the
        app's QPS limit and the per-person message limit are lifted, the Stream
        gateway sends no SYSTEM pings and pushes an un-ACKed callback again after
        0.5 s instead of about a minute; `POST /api/apps/{id}/tokens` makes the
        emulator's next token of an app short-lived, `DELETE` on the same path
        revokes its tokens. Home Assistant's Stream client keeps its default
        timings.
        """,
        """
        - The no-op action (`bench.noop`) is registered with
        `hass.services.async_register(…, supports_response=OPTIONAL)` and takes
        turns with the other paths of §1, message by message; its handler returns
        `{}`. It has no schema and no target, so it is the least an action call
        costs, not what an entity action's target resolution adds.
        """,
        """
        - The durable queue's figures (§4): the benchmark times its own
        `Outbox.async_send` calls, and wraps `DurableQueue.attempt` and
        `DurableQueue.async_done` (patched on the class, for the drain only);
        nothing in the integration was changed to measure.
        The event loop's share is `time.thread_time()` in the loop thread, which
        counts everything the loop ran during the call: with virtual time
        standing still and one robot, that is the call's own work (during the
        drain, the benchmark's 2 ms poll of the queue may add a few µs).
        """,
        """
        - The previous `prepare()` (§5) is read with `git show` at run time into
        the temporary folder, never into the package; a checkout without that
        commit reports it as not available.
        """,
        """
        - A request to the real DingTalk crosses the Internet, which takes far
        longer than the loopback round trip here (well under a millisecond), so
        the overhead ratios are an upper bound of what a user could notice. The
        machine may have been running other work: see the load average above;
        medians are the figures to read.
        """,
    )
    return [
        "## How these figures were made",
        "",
        *(paragraph(note) for note in notes),
        "",
    ]


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
            paragraph("""
                > **Quick run** (`--quick`): small counts for a smoke test; these
                figures are not meaningful.
            """),
            "",
        ]
    lines += [
        paragraph(f"""
            ![Deliveries of a 60-message burst over virtual time, and latency per
            message]({svg_link})
        """),
        "",
        *_key_figures(results),
        *_machine(results),
        *_overhead(results),
        *_burst(results),
        *_scale(results),
        *persist_section(results.persist),
        *split_section(results.split),
        *app_section(results.app),
        *receive_section(results.receive),
        *_method(results, svg_link),
    ]
    return "\n".join(lines).rstrip() + "\n"
